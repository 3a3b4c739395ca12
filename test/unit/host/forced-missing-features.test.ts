// SPDX-License-Identifier: Apache-2.0
// Older kernels simulated at the probe boundary: FAULTD_TEST_MISSING_FEATURES's wrapper
// (withForcedMissing) over probes that find everything, as the CLI builds it. What validation
// refuses (the kinds needing IFB, nf_tables) and with which words, what it falls back to (loss on
// nf_tables, latency on NFQUEUE), and what doctor's support notes say on cgroup v1 or none.
import test from 'ava';

import { REGISTRY } from '../../../src/faults/registry.js';
import type { FaultContext, ValidationContext } from '../../../src/faults/types.js';
import { parseMissingFeatures, withForcedMissing, type FeatureProbe, type FeatureSupport } from '../../../src/host/features.js';
import { FAKE_CONTEXT } from '../../helpers/fake.js';
import { FAKE_VALIDATION } from '../../helpers/host.js';

const present: FeatureSupport = { supported: true, reason: '' };

/** Probes that find everything and count what they are asked. */
function everything(): { probe: FeatureProbe; asked: string[] } {
  const asked: string[] = [];
  const answer = (name: string) => () => (asked.push(name), present);
  return {
    asked,
    probe: {
      qdisc: (kind) => answer(`qdisc:${kind}`)(),
      nftables: answer('nftables'),
      nfqueue: answer('nfqueue'),
      natRedirect: answer('natRedirect'),
      pidfd: answer('pidfd'),
      ifb: answer('ifb'),
      httpTls: answer('httpTls'),
      xtables: answer('xtables'),
      xtablesNfqueue: answer('xtablesNfqueue'),
    },
  };
}

function validation(missing: string): ValidationContext {
  return { ...FAKE_VALIDATION, features: withForcedMissing(everything().probe, parseMissingFeatures(missing)) };
}

function issuesOf(kind: string, params: Record<string, unknown>, ctx: ValidationContext): string[] {
  const result = REGISTRY.get(kind)?.validateParams(params, ctx);
  if (!result) throw new Error(`no kind ${kind}`);
  return result.ok ? [] : result.issues.map((i) => `${i.path.join('.') || '(params)'}: ${i.message}`);
}

function paramsOf(kind: string, params: Record<string, unknown>, ctx: ValidationContext): Record<string, unknown> {
  const result = REGISTRY.get(kind)?.validateParams(params, ctx);
  if (!result?.ok) throw new Error(`${kind} refused: ${JSON.stringify(result)}`);
  return result.params as Record<string, unknown>;
}

test('the list is checked: an unknown name throws naming the known ones', (t) => {
  t.deepEqual([...parseMissingFeatures(' pidfd, ifb ,qdisc:netem')], ['pidfd', 'ifb', 'qdisc:netem']);
  t.deepEqual([...parseMissingFeatures(undefined)], []);
  t.throws(() => parseMissingFeatures('pidfd,cgroupv2'), { message: /FAULTD_TEST_MISSING_FEATURES: unknown feature "cgroupv2" \(one of pidfd, ifb, nftables, nfqueue, natRedirect, httpTls, xtables, xtablesNfqueue, qdisc:<kind>\)/ });
});

test('forced features read missing with the reason; the others still ask the real probe', (t) => {
  const inner = everything();
  const probe = withForcedMissing(inner.probe, parseMissingFeatures('pidfd,qdisc:netem'));
  t.deepEqual(probe.pidfd?.(), { supported: false, reason: 'forced missing by FAULTD_TEST_MISSING_FEATURES=pidfd (tests)' });
  t.false(probe.qdisc('netem').supported);
  t.true(probe.qdisc('tbf').supported);
  t.true(probe.ifb?.().supported);
  t.deepEqual(inner.asked, ['qdisc:tbf', 'ifb']);
  t.is(withForcedMissing(inner.probe, new Set()), inner.probe, 'nothing forced: the probe itself');
});

test('nf_tables forced missing takes nfqueue and the nat redirect with it, without asking them', (t) => {
  const inner = everything();
  const probe = withForcedMissing(inner.probe, parseMissingFeatures('nftables'));
  t.false(probe.nftables().supported);
  t.deepEqual(probe.nfqueue(), { supported: false, reason: 'needs nf_tables: forced missing by FAULTD_TEST_MISSING_FEATURES=nftables (tests)' });
  t.false(probe.natRedirect().supported);
  t.deepEqual(inner.asked, []);
});

test('no IFB: every ingress qdisc fault is refused at validation naming direction; egress still validates', (t) => {
  const ctx = validation('ifb');
  const kinds: [string, Record<string, unknown>][] = [
    ['linux-network-latency', {}],
    ['linux-network-loss', {}],
    ['linux-network-corruption', {}],
    ['linux-network-duplication', {}],
    ['linux-network-reorder', {}],
    ['linux-network-rate-limit', {}],
  ];
  for (const [kind, params] of kinds) {
    const issues = issuesOf(kind, { ...params, direction: 'ingress' }, ctx);
    t.deepEqual(issues, ['direction: ingress needs an IFB device and an ingress qdisc (ifb, sch_ingress), which this kernel lacks: forced missing by FAULTD_TEST_MISSING_FEATURES=ifb (tests); use direction egress'], kind);
    t.deepEqual(issuesOf(kind, params, ctx), [], `${kind} egress`);
    t.deepEqual(issuesOf(kind, { ...params, direction: 'ingress' }, FAKE_VALIDATION), [], `${kind} ingress with IFB`);
  }
});

test('no IFB: doctor notes say ingress is refused and egress works', (t) => {
  const ctx: FaultContext = { ...FAKE_CONTEXT, host: { ...FAKE_CONTEXT.host, isRoot: true }, features: validation('ifb').features };
  const support = REGISTRY.get('linux-network-rate-limit')?.support(ctx);
  t.true(support?.supported);
  t.true(support?.notes.includes('direction ingress: refused (needs an IFB device and an ingress qdisc (ifb, sch_ingress), which this kernel lacks: forced missing by FAULTD_TEST_MISSING_FEATURES=ifb (tests)); egress works'), support?.notes.join('\n'));
  const withIfb = REGISTRY.get('linux-network-rate-limit')?.support({ ...ctx, features: everything().probe });
  t.true(withIfb?.notes.includes('direction ingress: IFB device and ingress qdisc available'));
});

test('no nf_tables (iptables-legacy-only): partition goes to x_tables, DNS and HTTP faults are refused with the reason; loss and latency keep netem', (t) => {
  const ctx = validation('nftables');
  t.like(paramsOf('linux-network-partition', { destinationIPs: '10.0.0.0/8' }, ctx), { backend: 'xtables' });
  t.like(paramsOf('linux-network-partition', { destinationIPs: '10.0.0.0/8' }, FAKE_VALIDATION), { backend: 'nftables' });
  for (const kind of ['linux-dns-error', 'linux-api-block']) {
    const issues = issuesOf(kind, {}, ctx);
    t.true(issues.some((i) => i.includes('needs nf_tables: forced missing by FAULTD_TEST_MISSING_FEATURES=nftables')), `${kind}: ${issues.join('; ')}`);
  }
  t.like(paramsOf('linux-network-loss', { packetLossPercentage: 30 }, ctx), { mechanism: 'netem' });
  t.like(paramsOf('linux-network-latency', {}, ctx), { mechanism: 'netem' });
  const doctor = REGISTRY.get('linux-network-partition')?.support({ ...FAKE_CONTEXT, host: { ...FAKE_CONTEXT.host, isRoot: true }, features: ctx.features });
  t.true(doctor?.supported);
  t.true(doctor?.notes.some((n) => n.startsWith('mechanism: x_tables (iptables-legacy chains FAULTD-…, IPv4 and IPv6), as nf_tables is missing (forced missing')), doctor?.notes.join('; '));
});

test('no nf_tables and no x_tables: partition is refused naming both, in validate and doctor', (t) => {
  const ctx = validation('nftables,xtables');
  t.false(ctx.features.xtablesNfqueue?.().supported, 'xtables takes xtablesNfqueue with it');
  const partition = issuesOf('linux-network-partition', { destinationIPs: '10.0.0.0/8' }, ctx);
  t.deepEqual(partition, [
    '(params): linux-network-partition needs nf_tables or x_tables; this kernel has neither (forced missing by FAULTD_TEST_MISSING_FEATURES=nftables (tests); x_tables: forced missing by FAULTD_TEST_MISSING_FEATURES=xtables (tests))',
  ]);
  const doctor = REGISTRY.get('linux-network-partition')?.support({ ...FAKE_CONTEXT, host: { ...FAKE_CONTEXT.host, isRoot: true }, features: ctx.features });
  t.false(doctor?.supported);
  t.true(doctor?.notes.some((n) => n.startsWith('packet filter: needs nf_tables or x_tables')));
});

test('neither netem nor nf_tables: loss and latency fall back to x_tables; without x_tables either they are refused naming all', (t) => {
  const legacy = validation('qdisc:netem,nftables');
  t.like(paramsOf('linux-network-loss', { packetLossPercentage: 30 }, legacy), { mechanism: 'xtables' });
  t.like(paramsOf('linux-network-latency', {}, legacy), { mechanism: 'nfqueue', queueRules: 'xtables' });
  t.true(issuesOf('linux-network-loss', { packetLossPercentage: 30, correlation: 5 }, legacy).some((i) => /the x_tables loss used instead has no correlation/.test(i)));
  const root = { ...FAKE_CONTEXT, host: { ...FAKE_CONTEXT.host, isRoot: true } };
  const legacyLoss = REGISTRY.get('linux-network-loss')?.support({ ...root, features: legacy.features });
  t.true(legacyLoss?.supported);
  t.true(legacyLoss?.notes.some((n) => n.startsWith('mechanism: x_tables statistic random (no correlation): x_tables (iptables-legacy chains')), legacyLoss?.notes.join('; '));
  const none = validation('qdisc:netem,nftables,xtables');
  t.true(issuesOf('linux-network-loss', {}, none).some((i) => /needs sch_netem, nf_tables or x_tables; this kernel has none/.test(i)));
  const noLoss = REGISTRY.get('linux-network-loss')?.support({ ...root, features: none.features });
  t.false(noLoss?.supported, 'doctor says NO where no loss mechanism is left');
  t.true(noLoss?.notes.some((n) => n.startsWith('no loss mechanism: needs nf_tables or x_tables')), noLoss?.notes.join('; '));
  t.true(issuesOf('linux-network-latency', {}, none).some((i) => /needs sch_netem or NFQUEUE .* this kernel has neither/.test(i)));
  const noQueue = validation('qdisc:netem,nftables,xtablesNfqueue');
  t.like(paramsOf('linux-network-loss', { packetLossPercentage: 30 }, noQueue), { mechanism: 'xtables' });
  t.true(issuesOf('linux-network-latency', {}, noQueue).some((i) => /forced missing by FAULTD_TEST_MISSING_FEATURES=xtablesNfqueue/.test(i)));
  const nft = validation('qdisc:netem');
  t.like(paramsOf('linux-network-loss', { packetLossPercentage: 30 }, nft), { mechanism: 'nftables' });
  t.like(paramsOf('linux-network-latency', {}, nft), { mechanism: 'nfqueue', queueRules: 'nftables' });
  t.deepEqual(issuesOf('linux-network-corruption', {}, nft).length, 1, 'netem-only kinds are refused');
});

test('cgroup v1 only: the cgroup and stress faults are supported through v1 hierarchies; none mounted refuses cgroup limits', (t) => {
  const mounts = new Map([['cpu', '/sys/fs/cgroup/cpu,cpuacct'], ['memory', '/sys/fs/cgroup/memory'], ['pids', '/sys/fs/cgroup/pids'], ['blkio', '/sys/fs/cgroup/blkio'], ['freezer', '/sys/fs/cgroup/freezer']]);
  const v1: FaultContext = { ...FAKE_CONTEXT, host: { ...FAKE_CONTEXT.host, isRoot: true }, cgroups: { mode: 'v1', mounts, ownPaths: new Map([['cpu', '/'], ['memory', '/'], ['pids', '/'], ['blkio', '/'], ['freezer', '/']]) } };
  const limit = REGISTRY.get('linux-cgroup-limit')?.support(v1);
  t.true(limit?.supported, limit?.notes.join('; '));
  t.regex(limit?.notes.join('; ') ?? '', /cgroup mode v1/);
  const pids = REGISTRY.get('linux-pid-exhaustion')?.support(v1);
  t.true(pids?.notes.some((n) => n.includes('freeze + kill (v1 freezer)')), pids?.notes.join('; '));
  const cpu = REGISTRY.get('linux-cpu-stress')?.support(v1);
  t.true(cpu?.notes.some((n) => n.startsWith('cgroups v1: stressor placed in')), cpu?.notes.join('; '));
  const none = REGISTRY.get('linux-cgroup-limit')?.support({ ...v1, cgroups: { mode: 'none', mounts: new Map(), ownPaths: new Map() } });
  t.false(none?.supported);
});
