// SPDX-License-Identifier: Apache-2.0
// Validation of the network faults against fixed host facts (interfaces eth0/lo, netem present
// unless a test removes it): Harness forms, bounds, cross-field rules and the netem check.
import test from 'ava';

import { validateExperiment } from '../../../src/experiment/schema.js';
import { REGISTRY } from '../../../src/faults/registry.js';
import { faultQdiscHandle, isFaultdHandle } from '../../../src/faults/network/root-qdisc.js';
import { parseTcRate, parseTcSize } from '../../../src/faults/network/tc-units.js';
import { FAKE_MISSING_QDISCS, FAKE_VALIDATION } from '../../helpers/host.js';

function validate(kind: string, params: Record<string, unknown>) {
  return validateExperiment(
    { apiVersion: 'faultd/v1', kind: 'Experiment', metadata: { name: 'x' }, spec: { steps: [{ faults: [{ kind, params }] }] } },
    REGISTRY,
    FAKE_VALIDATION,
  );
}

function problems(kind: string, params: Record<string, unknown>): string {
  const result = validate(kind, params);
  return result.ok ? '' : result.problems.map((p) => `${p.path}: ${p.message}`).join('\n');
}

function paramsOf(kind: string, params: Record<string, unknown>): unknown {
  const result = validate(kind, params);
  if (!result.ok) throw new Error(result.problems.map((p) => `${p.path}: ${p.message}`).join('\n'));
  return result.experiment.steps[0]?.faults[0]?.params;
}

test('tc rates and sizes follow iproute2', (t) => {
  t.is(parseTcRate('1mbit'), 125_000);
  t.is(parseTcRate('512kbit'), 64_000);
  t.is(parseTcRate('1MBps'), 1_000_000);
  t.is(parseTcRate('1000'), 125);
  t.is(parseTcRate('1zbit'), undefined);
  t.is(parseTcSize('32kb'), 32_768);
  t.is(parseTcSize('2mb'), 2_097_152);
  t.is(parseTcSize('1500'), 1500);
  t.is(parseTcSize('1kbit'), 128);
  t.is(parseTcSize('lots'), undefined);
});

test('Harness latency tunables work unchanged and get Harness defaults', (t) => {
  t.like(paramsOf('linux-network-latency', {}), { networkInterfaces: ['eth0'], latency: 2000, jitter: 0, correlation: 0, distribution: 'uniform', whitelistSSH: true });
  t.like(paramsOf('linux-network-latency', { NETWORK_INTERFACES: 'eth0,lo', NETWORK_LATENCY: '200', JITTER: '20' }), { networkInterfaces: ['eth0', 'lo'], latency: 200, jitter: 20 });
  t.like(paramsOf('linux-network-latency', { latency: '1.5s', jitter: '100ms', distribution: 'pareto' }), { latency: 1500, jitter: 100, distribution: 'pareto' });
});

test('latency rules: bounds, jitter within latency, distribution needs jitter', (t) => {
  t.regex(problems('linux-network-latency', { latency: 700_000 }), /params\.latency: must be in 1–600000 ms/);
  t.regex(problems('linux-network-latency', { latency: 100, jitter: 200 }), /params\.jitter: 200 ms is more than the latency \(100 ms\)/);
  t.regex(problems('linux-network-latency', { latency: 100, distribution: 'normal' }), /params\.distribution: "normal" shapes the jitter, so it needs jitter > 0/);
  t.regex(problems('linux-network-latency', { distribution: 'gaussian' }), /params\.distribution: must be one of uniform, normal, pareto, paretonormal/);
});

test('percentages of loss, corruption and duplication are bounded 0–100', (t) => {
  t.like(paramsOf('linux-network-loss', { NETWORK_PACKET_LOSS_PERCENTAGE: '30', correlation: 25 }), { packetLossPercentage: 30, correlation: 25 });
  t.regex(problems('linux-network-loss', { packetLossPercentage: 130 }), /params\.packetLossPercentage: must be in 0–100 \(got 130\)/);
  t.like(paramsOf('linux-network-corruption', {}), { packetCorruptionPercentage: 100 });
  t.like(paramsOf('linux-network-duplication', { packetDuplicationPercentage: '5' }), { packetDuplicationPercentage: 5 });
  t.like(paramsOf('linux-network-reorder', {}), { packetReorderPercentage: 25, latency: 10, gap: 0 });
});

test('unknown interfaces are refused by name; targeting tunables take Harness forms', (t) => {
  t.regex(problems('linux-network-loss', { networkInterfaces: 'eth9' }), /params\.networkInterfaces: no interface "eth9" here \(interfaces: lo, eth0\)/);
  t.like(paramsOf('linux-network-loss', { destinationPorts: '!22,8080' }), { destinationPorts: { include: [], exclude: [22, 8080] } });
  t.like(paramsOf('linux-network-latency', { DESTINATION_IPS: '1.1.1.1,35.24.108.92|3000|8080' }), {
    destinationIPs: [
      { address: '1.1.1.1', prefixLen: 32, version: 4, ports: [] },
      { address: '35.24.108.92', prefixLen: 32, version: 4, ports: [3000, 8080] },
    ],
  });
  t.regex(problems('linux-network-latency', { destinationHosts: 'not a host!' }), /params\.destinationHosts: "not a host!" is not a host name/);
});

test('a kernel without netem is named at validation, with the kernel words', (t) => {
  FAKE_MISSING_QDISCS.add('netem');
  t.teardown(() => FAKE_MISSING_QDISCS.delete('netem'));
  const text = problems('linux-network-corruption', {});
  t.regex(text, /linux-network-corruption needs the netem qdisc \(sch_netem\), which this kernel lacks \(RTM_NEWQDISC ENOENT: Specified qdisc kind is unknown\)/);
  t.notRegex(text, /got \{/);
  t.true(validate('linux-network-rate-limit', {}).ok, 'tbf does not need netem');
});

test('two qdisc faults on one interface in one step are refused', (t) => {
  const result = validateExperiment(
    {
      apiVersion: 'faultd/v1',
      kind: 'Experiment',
      metadata: { name: 'x' },
      spec: { steps: [{ faults: [{ kind: 'linux-network-latency', name: 'a' }, { kind: 'linux-network-loss', name: 'b', params: { networkInterfaces: 'lo,eth0' } }] }] },
    },
    REGISTRY,
    FAKE_VALIDATION,
  );
  t.false(result.ok);
  t.regex(result.ok ? '' : result.problems.map((p) => p.message).join('\n'), /faults "a" and "b" both change netdev:eth0\/root-qdisc/);
});

test('each fault gets its own qdisc handle in f000:–feff:', (t) => {
  const a = faultQdiscHandle('r1-s1-f1-network-loss');
  const b = faultQdiscHandle('r1-s1-f2-network-loss');
  t.is(a, faultQdiscHandle('r1-s1-f1-network-loss'), 'deterministic');
  t.not(a, b);
  for (const h of [a, b]) {
    t.true(isFaultdHandle(h));
    t.is(h & 0xffff, 0);
    t.true(h >>> 16 >= 0xf000 && h >>> 16 <= 0xfeff);
  }
  t.false(isFaultdHandle(0x10000));
});

test('cross-field rules of reorder, partition and the nf_tables loss', (t) => {
  t.regex(problems('linux-network-reorder', { gap: 5, packetReorderPercentage: 0 }), /params\.gap: needs a packetReorderPercentage above 0/);
  t.regex(problems('linux-network-partition', { destinationIPs: '10.0.0.0/8', excludeIPs: '10.0.0.5|5432' }), /params\.excludeIPs: "10\.0\.0\.5\|5432": excludeIPs exempts whole addresses/);
  FAKE_MISSING_QDISCS.add('netem');
  t.teardown(() => FAKE_MISSING_QDISCS.delete('netem'));
  t.regex(problems('linux-network-loss', { packetLossPercentage: 0.5 }), /params\.packetLossPercentage: must be a whole number in 1–100 with the nf_tables loss/);
  t.like(paramsOf('linux-network-loss', { packetLossPercentage: 30 }), { mechanism: 'nftables' });
});

test('steering: targets to the fault class, SSH and exemptions spared first', async (t) => {
  const { steering } = await import('../../../src/faults/network/steer.js');
  const s = steering({
    direction: 'egress',
    targets: [{ address: '10.0.0.0', prefixLen: 8, version: 4, ports: [5432] }],
    remotePorts: { include: [], exclude: [8080] },
    localPorts: { include: [], exclude: [] },
    exclude: [],
    sshPorts: [22, 2222],
  });
  t.false(s.everything);
  t.deepEqual(s.affect, [
    { address: '10.0.0.0', prefixLen: 8, ipVersion: 4, matchSourceAddress: false, l4proto: 'tcp', port: 5432, matchSourcePort: false },
    { address: '10.0.0.0', prefixLen: 8, ipVersion: 4, matchSourceAddress: false, l4proto: 'udp', port: 5432, matchSourcePort: false },
  ]);
  t.true(s.spare.some((m) => m.port === 22 && m.matchSourcePort === true && m.l4proto === 'tcp'));
  t.true(s.spare.some((m) => m.port === 8080 && !m.matchSourcePort));
  const whole = steering({ direction: 'egress', targets: [], remotePorts: { include: [], exclude: [] }, localPorts: { include: [], exclude: [] }, exclude: [], sshPorts: [] });
  t.true(whole.everything);
  t.deepEqual([...whole.spare, ...whole.affect], []);
});

test('steering on ingress: the remote end is the source, our end the destination', async (t) => {
  const { steering } = await import('../../../src/faults/network/steer.js');
  const s = steering({
    direction: 'ingress',
    targets: [{ address: '10.1.2.3', prefixLen: 32, version: 4, ports: [443] }],
    remotePorts: { include: [], exclude: [] },
    localPorts: { include: [8080], exclude: [] },
    exclude: [],
    sshPorts: [22, 2222],
  });
  t.deepEqual(s.affect.filter((m) => m.l4proto === 'tcp'), [
    { address: '10.1.2.3', prefixLen: 32, ipVersion: 4, matchSourceAddress: true, l4proto: 'tcp', port: 443, matchSourcePort: true },
    { address: '10.1.2.3', prefixLen: 32, ipVersion: 4, matchSourceAddress: true, l4proto: 'tcp', port: 8080, matchSourcePort: false },
  ]);
  // Requests to our SSH server arrive with destination port 22.
  t.true(s.spare.some((m) => m.port === 22 && m.matchSourcePort === false));
});

test('steering spares excluded addresses (egress: destination, ingress: source) ahead of the targets', async (t) => {
  const { steering } = await import('../../../src/faults/network/steer.js');
  const exclude = [{ address: '10.9.9.9', prefixLen: 32, version: 4 as const, ports: [] }];
  const none = { include: [], exclude: [] };
  const egress = steering({ direction: 'egress', targets: [], remotePorts: none, localPorts: none, exclude, sshPorts: [] });
  t.false(egress.everything && egress.spare.length === 0, 'an exclusion needs the classful layout even for a whole-interface fault');
  t.deepEqual(egress.spare, [{ address: '10.9.9.9', prefixLen: 32, ipVersion: 4, matchSourceAddress: false }]);
  const ingress = steering({ direction: 'ingress', targets: [], remotePorts: none, localPorts: none, exclude, sshPorts: [] });
  t.deepEqual(ingress.spare, [{ address: '10.9.9.9', prefixLen: 32, ipVersion: 4, matchSourceAddress: true }]);
});

test('without netem: two latency faults on one interface are refused, latency with loss composes, ingress and egress are separate', (t) => {
  FAKE_MISSING_QDISCS.add('netem');
  t.teardown(() => FAKE_MISSING_QDISCS.delete('netem'));
  const validate = (faults: Record<string, unknown>[]) =>
    validateExperiment({ apiVersion: 'faultd/v1', kind: 'Experiment', metadata: { name: 'x' }, spec: { steps: [{ faults }] } }, REGISTRY, FAKE_VALIDATION);
  const twoDelays = validate([{ kind: 'linux-network-latency', name: 'a', params: { latency: 10 } }, { kind: 'linux-network-latency', name: 'b', params: { latency: 20 } }]);
  t.false(twoDelays.ok);
  t.regex(twoDelays.ok ? '' : twoDelays.problems.map((p) => p.message).join('\n'), /faults "a" and "b" both change netdev:eth0\/nfqueue-delay/);
  t.true(validate([{ kind: 'linux-network-latency', name: 'a', params: { latency: 10 } }, { kind: 'linux-network-loss', name: 'b', params: { packetLossPercentage: 10 } }]).ok);
  t.true(validate([{ kind: 'linux-network-rate-limit', name: 'a' }, { kind: 'linux-network-rate-limit', name: 'b', params: { direction: 'ingress' } }]).ok);
});

test('with a configured hub that did not resolve, network faults are refused unless allowControlPlaneImpact', (t) => {
  const ctx = { ...FAKE_VALIDATION, network: { ...FAKE_VALIDATION.network, safety: { ...FAKE_VALIDATION.network.safety, controlPlaneUnresolved: 'the control plane host hub.invalid did not resolve (ENOTFOUND)' } } };
  const validate = (params: Record<string, unknown>) =>
    validateExperiment({ apiVersion: 'faultd/v1', kind: 'Experiment', metadata: { name: 'x' }, spec: { steps: [{ faults: [{ kind: 'linux-network-rate-limit', params }] }] } }, REGISTRY, ctx);
  const refused = validate({});
  t.false(refused.ok);
  t.regex(refused.ok ? '' : refused.problems.map((p) => `${p.path}: ${p.message}`).join('\n'), /allowControlPlaneImpact: the control plane host hub\.invalid did not resolve \(ENOTFOUND\), so its traffic cannot be kept out of the fault/);
  t.true(validate({ allowControlPlaneImpact: true }).ok);
});
