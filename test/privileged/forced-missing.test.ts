// SPDX-License-Identifier: Apache-2.0
// The CLI on a kernel made to look older at the probe boundary (FAULTD_TEST_MISSING_FEATURES):
// no IFB and no nf_tables (an iptables-legacy-only host, where faultd's rules go to x_tables),
// then no x_tables either. `faultd doctor` says which backend and which kinds are refused and
// why; `faultd validate` refuses them with exit 2 naming the field and the reason, and accepts
// what still works (egress; partition on x_tables). Nothing is applied, so nothing on the host
// changes (the x_tables probe runs in a throwaway namespace).
import { experimentYaml, finish, startCli, workspace, type Workspace } from '../helpers/cli.js';
import { privilegedTest as test } from '../helpers/privileged.js';

const FORCED = { FAULTD_TEST_MISSING_FEATURES: 'ifb,nftables' };
const NO_FILTER = { FAULTD_TEST_MISSING_FEATURES: 'ifb,nftables,xtables' };

function validate(ws: Workspace, fault: Record<string, unknown>, env: Record<string, string> = FORCED) {
  const file = ws.file(`exp-${Math.random().toString(36).slice(2)}.json`, experimentYaml([[{ name: 'f', duration: '1s', ...fault }]]));
  return finish(startCli(['validate', file], ws.stateDir, undefined, env));
}

test('doctor without IFB and nf_tables: the firewall line names x_tables, partition runs on it, ingress refused, the rest named', async (t) => {
  const ws = workspace();
  t.teardown(() => ws.remove());
  const doctor = await finish(startCli(['doctor'], ws.stateDir, undefined, FORCED));
  t.is(doctor.code, 0, doctor.stderr);
  t.regex(doctor.stdout, /^OK {2}linux-network-partition\n(?: {5}.*\n)*? {5}mechanism: x_tables \(iptables-legacy chains FAULTD-…, IPv4 and IPv6\), as nf_tables is missing \(forced missing by FAULTD_TEST_MISSING_FEATURES=nftables \(tests\)\)/m);
  t.regex(doctor.stdout, /^OK {2}linux-network-rate-limit\n(?: {5}.*\n)*? {5}direction ingress: refused \(needs an IFB device and an ingress qdisc \(ifb, sch_ingress\), which this kernel lacks: forced missing by FAULTD_TEST_MISSING_FEATURES=ifb \(tests\)\); egress works/m);
  t.regex(doctor.stdout, /^OK {2}linux-network-latency\n(?: {5}.*\n)*? {5}mechanism: NFQUEUE delayer on the packets arriving from the targets \(x_tables \(a mangle PREROUTING chain/m);
  t.regex(doctor.stdout, /^NO {2}linux-dns-error\n/m);
  t.regex(doctor.stdout, /^Firewall: x_tables \(iptables-legacy\): nf_tables is missing \(forced missing by FAULTD_TEST_MISSING_FEATURES=nftables \(tests\)\), so linux-network-partition, loss without netem and latency without netem put their rules in faultd's own chains/m);
});

test('doctor without IFB, nf_tables and x_tables: partition refused naming both, and so is latency without netem', async (t) => {
  const ws = workspace();
  t.teardown(() => ws.remove());
  const doctor = await finish(startCli(['doctor'], ws.stateDir, undefined, NO_FILTER));
  t.is(doctor.code, 0, doctor.stderr);
  t.regex(doctor.stdout, /^NO {2}linux-network-partition\n(?: {5}.*\n)*? {5}packet filter: needs nf_tables or x_tables; this kernel has neither \(forced missing by FAULTD_TEST_MISSING_FEATURES=nftables \(tests\); x_tables: forced missing by FAULTD_TEST_MISSING_FEATURES=xtables \(tests\)\)/m);
  t.regex(doctor.stdout, /^NO {2}linux-network-latency\n(?: {5}.*\n)*? {5}NFQUEUE delayer: unavailable \(needs nf_tables or x_tables with NFQUEUE/m);
  t.regex(doctor.stdout, /^Firewall: (?:no packet filter|iptables-legacy tables but no usable packet filter for faultd): nf_tables is missing \(forced missing by FAULTD_TEST_MISSING_FEATURES=nftables \(tests\)\) and x_tables is not usable \(forced missing by FAULTD_TEST_MISSING_FEATURES=xtables \(tests\)\)/m);
});

test('validate without IFB and nf_tables: exit 2 with the field and the reason; egress validates', async (t) => {
  const ws = workspace();
  t.teardown(() => ws.remove());
  // This kernel has no sch_netem (see README, Network faults): tbf's rate limit is the qdisc kind here.
  const ingress = await validate(ws, { kind: 'linux-network-rate-limit', params: { direction: 'ingress', networkBandwidth: '1mbit' } });
  t.is(ingress.code, 2, ingress.stdout + ingress.stderr);
  t.regex(ingress.stdout + ingress.stderr, /params\.direction: ingress needs an IFB device and an ingress qdisc \(ifb, sch_ingress\), which this kernel lacks: forced missing by FAULTD_TEST_MISSING_FEATURES=ifb \(tests\); use direction egress/);
  const partition = await validate(ws, { kind: 'linux-network-partition', params: { destinationIPs: '10.77.0.0/16' } });
  t.is(partition.code, 0, partition.stdout + partition.stderr);
  const refused = await validate(ws, { kind: 'linux-network-partition', params: { destinationIPs: '10.77.0.0/16' } }, NO_FILTER);
  t.is(refused.code, 2);
  t.regex(refused.stdout + refused.stderr, /linux-network-partition needs nf_tables or x_tables; this kernel has neither \(forced missing by FAULTD_TEST_MISSING_FEATURES=nftables \(tests\); x_tables: forced missing by FAULTD_TEST_MISSING_FEATURES=xtables \(tests\)\)/);
  const egress = await validate(ws, { kind: 'linux-network-rate-limit', params: { networkBandwidth: '1mbit' } });
  t.is(egress.code, 0, egress.stdout + egress.stderr);
});

test('a misspelt forced feature is refused, not ignored', async (t) => {
  const ws = workspace();
  t.teardown(() => ws.remove());
  const bad = await finish(startCli(['doctor'], ws.stateDir, undefined, { FAULTD_TEST_MISSING_FEATURES: 'ifbb' }));
  t.not(bad.code, 0);
  t.regex(bad.stderr, /FAULTD_TEST_MISSING_FEATURES: unknown feature "ifbb"/);
});
