// SPDX-License-Identifier: Apache-2.0
// Byte-exact encoding: our netem and tbf TCA_OPTIONS against what iproute2's `tc` sends for
// the same parameters (captured with strace in a private namespace; tc sends netem options even
// on this kernel, which lacks sch_netem and refuses them).
import { loadNative } from '../../src/native/load.js';
import { captureTcFilterOptions, captureTcOptions, testNetns } from '../helpers/netns.js';
import { privilegedTest as test } from '../helpers/privileged.js';

const native = loadNative();

interface NetemCase {
  readonly spec: Parameters<typeof native.netemOptions>[0];
  readonly tc: string;
}

const NETEM_CASES: readonly NetemCase[] = [
  { spec: { delayUs: 100_000 }, tc: 'delay 100000us' },
  { spec: { delayUs: 250_000, jitterUs: 20_000 }, tc: 'delay 250000us 20000us' },
  { spec: { delayUs: 100_000, jitterUs: 10_000, delayCorrelationPct: 25 }, tc: 'delay 100000us 10000us 25%' },
  { spec: { delayUs: 100_000, jitterUs: 10_000, distribution: 'normal' }, tc: 'delay 100000us 10000us distribution normal' },
  { spec: { delayUs: 100_000, jitterUs: 10_000, distribution: 'pareto' }, tc: 'delay 100000us 10000us distribution pareto' },
  { spec: { delayUs: 100_000, jitterUs: 10_000, distribution: 'paretonormal' }, tc: 'delay 100000us 10000us distribution paretonormal' },
  { spec: { delayUs: 100_000, jitterUs: 10_000, delayCorrelationPct: 5.5, distribution: 'normal' }, tc: 'delay 100000us 10000us 5.5% distribution normal' },
  { spec: { lossPct: 30 }, tc: 'loss 30%' },
  { spec: { lossPct: 0.1 }, tc: 'loss 0.1%' },
  { spec: { lossPct: 100 }, tc: 'loss 100%' },
  { spec: { lossPct: 30, lossCorrelationPct: 50 }, tc: 'loss 30% 50%' },
  { spec: { duplicatePct: 10 }, tc: 'duplicate 10%' },
  { spec: { duplicatePct: 10, duplicateCorrelationPct: 20, lossPct: 1, lossCorrelationPct: 2 }, tc: 'loss 1% 2% duplicate 10% 20%' },
  { spec: { corruptPct: 5 }, tc: 'corrupt 5%' },
  { spec: { corruptPct: 5, corruptCorrelationPct: 25 }, tc: 'corrupt 5% 25%' },
  { spec: { delayUs: 10_000, reorderPct: 25 }, tc: 'delay 10000us reorder 25%' },
  { spec: { delayUs: 10_000, reorderPct: 25, reorderCorrelationPct: 50, gap: 5 }, tc: 'delay 10000us reorder 25% 50% gap 5' },
  { spec: { delayUs: 100_000, limitPackets: 5000 }, tc: 'delay 100000us limit 5000' },
  {
    spec: { delayUs: 200_000, jitterUs: 20_000, delayCorrelationPct: 10, lossPct: 3, lossCorrelationPct: 4, duplicatePct: 2, corruptPct: 1, corruptCorrelationPct: 6, reorderPct: 7, reorderCorrelationPct: 8, gap: 3, limitPackets: 2000, distribution: 'normal' },
    tc: 'delay 200000us 20000us 10% distribution normal loss 3% 4% duplicate 2% corrupt 1% 6% reorder 7% 8% gap 3 limit 2000',
  },
];

test('netem options are byte-identical to iproute2 for every parameter and combination', (t) => {
  const ns = testNetns(t);
  for (const { spec, tc } of NETEM_CASES) {
    const theirs = captureTcOptions(ns, ['netem', ...tc.split(' ')]);
    const ours = Buffer.from(native.netemOptions(spec));
    t.is(ours.toString('hex'), theirs.toString('hex'), `netem ${tc}`);
  }
});

const TBF_CASES: readonly { spec: Parameters<typeof native.tbfOptions>[0]; tc: string }[] = [
  { spec: { rateBytesPerSec: 125_000, burstBytes: 32_768, limitBytes: 2_097_152 }, tc: 'rate 1000000bit burst 32768 limit 2097152' },
  { spec: { rateBytesPerSec: 64_000, burstBytes: 2048, limitBytes: 2048 }, tc: 'rate 512000bit burst 2048 limit 2048' },
  { spec: { rateBytesPerSec: 1_250_000, burstBytes: 10_000, latencyUs: 50_000 }, tc: 'rate 10000000bit burst 10000 latency 50000us' },
  { spec: { rateBytesPerSec: 5_000_000_000, burstBytes: 1_000_000, limitBytes: 10_000_000 }, tc: 'rate 40000000000bit burst 1000000 limit 10000000' },
];

test('tbf options are byte-identical to iproute2', (t) => {
  const ns = testNetns(t);
  for (const { spec, tc } of TBF_CASES) {
    const theirs = captureTcOptions(ns, ['tbf', ...tc.split(' ')]);
    const ours = Buffer.from(native.tbfOptions(spec));
    t.is(ours.toString('hex'), theirs.toString('hex'), `tbf ${tc}`);
  }
});

test('the ingress redirect filter (u32 match-all + mirred to an IFB) is byte-identical to iproute2', (t) => {
  const ns = testNetns(t);
  ns.exec('ip', ['link', 'add', 'fdtifb', 'type', 'ifb']);
  ns.exec('tc', ['qdisc', 'add', 'dev', 'v0', 'ingress']);
  const ifindex = (JSON.parse(ns.exec('ip', ['-j', 'link', 'show', 'fdtifb'])) as { ifindex: number }[])[0]?.ifindex ?? 0;
  const theirs = captureTcFilterOptions(ns, ['parent', 'ffff:', 'protocol', 'all', 'u32', 'match', 'u32', '0', '0', 'action', 'mirred', 'egress', 'redirect', 'dev', 'fdtifb']);
  const ours = native.u32RedirectOptions(ifindex);
  t.is(Buffer.from(ours.options).toString('hex'), theirs.toString('hex'));
  t.is(ours.protocol, 0x0003);
});
