// SPDX-License-Identifier: Apache-2.0
// The netem faults on a kernel that has sch_netem (run inside the QEMU guest of test/vm/run.sh,
// where Debian's kernel loads it): each fault measured for real in namespaces the test creates,
// and `tc -j qdisc show` restored exactly afterwards. Every figure is loose enough for TCG
// emulation, which slows the guest but not its clocks.
import type { ExecutionContext } from 'ava';

import { experimentYaml, finish, startCli, waitForLine, workspace } from '../helpers/cli.js';
import { qdiscState, testNetnsPair, type NetnsPair } from '../helpers/netns.js';
import { hostFeatureProbe, privilegedTest as test } from '../helpers/privileged.js';
import { median, startUdpEcho, udpDelivered, udpRtts } from '../helpers/traffic.js';

test.before(() => {
  if (!hostFeatureProbe().qdisc('netem').supported) throw new Error('test:vm needs sch_netem; is this the QEMU guest?');
});

/** Runs one fault on A's `va` (or B's `vb` with `onB`) for the duration of `body`, then checks the exact restore. */
async function withFault(t: ExecutionContext, pair: NetnsPair, fault: Record<string, unknown>, body: () => Promise<void>, onB = false): Promise<void> {
  const [ns, dev] = onB ? [pair.b, 'vb'] : [pair.a, 'va'];
  const ws = workspace();
  t.teardown(() => ws.remove());
  const before = qdiscState(ns, dev);
  const file = ws.file('f.json', experimentYaml([[{ duration: '300s', ...fault }]]));
  const child = startCli(['--log-format', 'json', 'run', file], ws.stateDir, ns.name);
  t.teardown(() => child.kill('SIGKILL'));
  await waitForLine(child, /fault applied/, 120_000);
  t.regex(ns.exec('tc', ['qdisc', 'show']), /qdisc netem/, 'a netem qdisc is installed (on the IFB for ingress)');
  await body();
  child.kill('SIGINT');
  t.is((await finish(child)).code, 3);
  t.deepEqual(qdiscState(ns, dev), before, 'qdiscs restored exactly');
}

test('netem latency: 100 ms on egress adds 100 ± 10 ms to the round trip', async (t) => {
  const pair = testNetnsPair(t);
  await startUdpEcho(t, pair.b, 7500);
  const base = median(await udpRtts(pair.a, pair.addressB, 7500, { count: 20, intervalMs: 50 }));
  await withFault(t, pair, { kind: 'linux-network-latency', params: { networkInterfaces: 'va', latency: 100 } }, async () => {
    const rtt = median(await udpRtts(pair.a, pair.addressB, 7500, { count: 20, intervalMs: 50 }));
    t.log(`netem latency: baseline ${base.toFixed(2)} ms, with the fault ${rtt.toFixed(2)} ms`);
    t.true(Math.abs(rtt - base - 100) <= 10, `added ${rtt - base} ms`);
  });
});

test('netem latency on ingress (IFB) adds the delay to packets the host receives', async (t) => {
  const pair = testNetnsPair(t);
  await startUdpEcho(t, pair.b, 7501);
  const base = median(await udpRtts(pair.a, pair.addressB, 7501, { count: 20, intervalMs: 50 }));
  await withFault(t, pair, { kind: 'linux-network-latency', params: { networkInterfaces: 'va', direction: 'ingress', latency: 80 } }, async () => {
    const rtt = median(await udpRtts(pair.a, pair.addressB, 7501, { count: 20, intervalMs: 50 }));
    t.log(`netem ingress latency: baseline ${base.toFixed(2)} ms, with the fault ${rtt.toFixed(2)} ms`);
    t.true(Math.abs(rtt - base - 80) <= 10, `added ${rtt - base} ms`);
  });
});

test('netem loss: 30 % of 1000 datagrams within ±6 pp', async (t) => {
  const pair = testNetnsPair(t);
  await withFault(t, pair, { kind: 'linux-network-loss', params: { networkInterfaces: 'vb', packetLossPercentage: 30 } }, async () => {
    const got = await udpDelivered(pair, { port: 7502, count: 1000, fromB: true });
    const loss = (100 * (1000 - got)) / 1000;
    t.log(`netem loss: ${loss.toFixed(1)} % for 30 % asked`);
    t.true(Math.abs(loss - 30) <= 6, `lost ${loss} %`);
  }, true);
});

test('netem duplication: 50 % of datagrams arrive twice', async (t) => {
  const pair = testNetnsPair(t);
  await withFault(t, pair, { kind: 'linux-network-duplication', params: { networkInterfaces: 'vb', packetDuplicationPercentage: 50 } }, async () => {
    const got = await udpDelivered(pair, { port: 7503, count: 1000, fromB: true });
    t.log(`netem duplication: ${got} datagrams received for 1000 sent with 50 % duplication`);
    t.true(got >= 1400 && got <= 1600, `received ${got}`);
  }, true);
});

test('netem corruption: corrupted datagrams fail their checksum and are dropped', async (t) => {
  const pair = testNetnsPair(t);
  await withFault(t, pair, { kind: 'linux-network-corruption', params: { networkInterfaces: 'vb', packetCorruptionPercentage: 50 } }, async () => {
    const got = await udpDelivered(pair, { port: 7504, count: 1000, fromB: true });
    t.log(`netem corruption: ${got} of 1000 datagrams intact with 50 % corrupted`);
    t.true(got >= 350 && got <= 800, `received ${got}`);
  }, true);
});

test('targeted netem latency (htb + u32 steering) delays one address and not another of the same host', async (t) => {
  const pair = testNetnsPair(t);
  const other = pair.addressB.replace(/\.\d+$/, '.3');
  pair.b.exec('ip', ['addr', 'add', `${other}/24`, 'dev', 'vb']);
  await startUdpEcho(t, pair.b, 7505);
  await startUdpEcho(t, pair.b, 7506, other);
  await withFault(t, pair, { kind: 'linux-network-latency', params: { networkInterfaces: 'va', latency: 100, destinationIPs: pair.addressB } }, async () => {
    const targeted = median(await udpRtts(pair.a, pair.addressB, 7505, { count: 20, intervalMs: 50 }));
    const spared = median(await udpRtts(pair.a, other, 7506, { count: 20, intervalMs: 50 }));
    t.log(`targeted netem latency: ${targeted.toFixed(2)} ms to the target, ${spared.toFixed(2)} ms to another address`);
    t.true(targeted >= 95, `targeted ${targeted}`);
    t.true(spared < 60, `spared ${spared}`);
  });
});
