// SPDX-License-Identifier: Apache-2.0
// The CLI on a kernel made to look older at the probe boundary (FAULTD_TEST_MISSING_FEATURES):
// no IFB and no nf_tables (an iptables-legacy-only host). `faultd doctor` says which kinds are
// refused and why; `faultd validate` refuses them with exit 2 naming the field and the reason,
// and accepts what still works (egress). Nothing is applied, so nothing on the host changes.
import { experimentYaml, finish, startCli, workspace, type Workspace } from '../helpers/cli.js';
import { privilegedTest as test } from '../helpers/privileged.js';

const FORCED = { FAULTD_TEST_MISSING_FEATURES: 'ifb,nftables' };

function validate(ws: Workspace, fault: Record<string, unknown>) {
  const file = ws.file(`exp-${Math.random().toString(36).slice(2)}.json`, experimentYaml([[{ name: 'f', duration: '1s', ...fault }]]));
  return finish(startCli(['validate', file], ws.stateDir, undefined, FORCED));
}

test('doctor without IFB and nf_tables: partition refused, ingress refused, the rest named', async (t) => {
  const ws = workspace();
  t.teardown(() => ws.remove());
  const doctor = await finish(startCli(['doctor'], ws.stateDir, undefined, FORCED));
  t.is(doctor.code, 0, doctor.stderr);
  t.regex(doctor.stdout, /^NO {2}linux-network-partition\n(?: {5}.*\n)*? {5}nf_tables: missing \(forced missing by FAULTD_TEST_MISSING_FEATURES=nftables \(tests\)\)/m);
  t.regex(doctor.stdout, /^OK {2}linux-network-rate-limit\n(?: {5}.*\n)*? {5}direction ingress: refused \(needs an IFB device and an ingress qdisc \(ifb, sch_ingress\), which this kernel lacks: forced missing by FAULTD_TEST_MISSING_FEATURES=ifb \(tests\)\); egress works/m);
  t.regex(doctor.stdout, /^NO {2}linux-dns-error\n/m);
  // This host has no iptables-legacy tables loaded, so the forced probe makes it a host with no packet filter at all.
  t.regex(doctor.stdout, /^Firewall: no packet filter: nf_tables is missing \(forced missing by FAULTD_TEST_MISSING_FEATURES=nftables \(tests\)\) and no iptables-legacy table is loaded$/m);
});

test('validate without IFB and nf_tables: exit 2 with the field and the reason; egress validates', async (t) => {
  const ws = workspace();
  t.teardown(() => ws.remove());
  // This kernel has no sch_netem (see README, Network faults): tbf's rate limit is the qdisc kind here.
  const ingress = await validate(ws, { kind: 'linux-network-rate-limit', params: { direction: 'ingress', networkBandwidth: '1mbit' } });
  t.is(ingress.code, 2, ingress.stdout + ingress.stderr);
  t.regex(ingress.stdout + ingress.stderr, /params\.direction: ingress needs an IFB device and an ingress qdisc \(ifb, sch_ingress\), which this kernel lacks: forced missing by FAULTD_TEST_MISSING_FEATURES=ifb \(tests\); use direction egress/);
  const partition = await validate(ws, { kind: 'linux-network-partition', params: { destinationIPs: '10.77.0.0/16' } });
  t.is(partition.code, 2);
  t.regex(partition.stdout + partition.stderr, /linux-network-partition needs nf_tables, which this kernel does not offer \(forced missing by FAULTD_TEST_MISSING_FEATURES=nftables \(tests\)\)/);
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
