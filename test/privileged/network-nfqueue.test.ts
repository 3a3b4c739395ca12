// SPDX-License-Identifier: Apache-2.0
// Latency without netem: the NFQUEUE delayer, end to end in namespaces the tests create. A
// 100 ms fault adds 100 ± 5 ms to the round trip of the targeted address only, jitter spreads as
// asked, revert restores `nft -j list ruleset` exactly and stops the delayer, and kill -9 of
// faultd leaves traffic flowing (queue bypass) until revert --remnants removes the rest.
import { readFileSync } from 'node:fs';
import path from 'node:path';

import type { ExecutionContext } from 'ava';

import { experimentYaml, finish, runCli, startCli, waitForLine, workspace } from '../helpers/cli.js';
import { testNetnsPair, type NetnsPair, type TestNetns } from '../helpers/netns.js';
import { hostFeatureProbe, privilegedTest as test } from '../helpers/privileged.js';
import { stressorsMatching, waitUntil } from '../helpers/processes.js';
import { median, startUdpEcho, udpRtts } from '../helpers/traffic.js';

const ECHO_PORT = 7300;

function ruleset(ns: TestNetns): unknown {
  const text = ns.exec('nft', ['-j', 'list', 'ruleset']).trim();
  if (text === '') return [];
  return (JSON.parse(text) as { nftables: Record<string, unknown>[] }).nftables.filter((entry) => !('metainfo' in entry));
}

/** The NFQUEUE path is what runs only where netem is missing. */
function usesNfqueue(t: ExecutionContext): boolean {
  if (hostFeatureProbe().qdisc('netem').supported) {
    t.log('skipped: this kernel has sch_netem, so latency uses netem, not the NFQUEUE delayer');
    t.pass();
    return false;
  }
  return true;
}

/** B gets a second address in the same /24 (an untargeted peer). */
function secondAddress(pair: NetnsPair): string {
  const other = pair.addressB.replace(/\.\d+$/, '.3');
  pair.b.exec('ip', ['addr', 'add', `${other}/24`, 'dev', 'vb']);
  return other;
}

/** Mean, SD, and the 2nd and 98th percentiles (a shared VM adds rare late outliers). */
function stats(values: readonly number[]): { mean: number; sd: number; p2: number; p98: number } {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const sd = Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length);
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
  return { mean, sd, p2: at(0.02), p98: at(0.98) };
}

test('100 ms latency adds 100 ± 5 ms to the targeted round trip only, and reverts exactly', async (t) => {
  if (!usesNfqueue(t)) return;
  const pair = testNetnsPair(t);
  const other = secondAddress(pair);
  const ws = workspace();
  t.teardown(() => ws.remove());
  await startUdpEcho(t, pair.b, ECHO_PORT);
  await startUdpEcho(t, pair.b, ECHO_PORT + 1, other);
  const before = ruleset(pair.a);
  const baseline = median(await udpRtts(pair.a, pair.addressB, ECHO_PORT, { count: 40, intervalMs: 20 }));
  const file = ws.file('lat.json', experimentYaml([[{ kind: 'linux-network-latency', name: 'lat', duration: '60s', params: { networkInterfaces: 'va', latency: 100, destinationIPs: pair.addressB } }]]));
  const dry = await runCli(['run', '--dry-run', file], ws.stateDir, pair.a.name);
  t.regex(dry.stdout, /NFQUEUE delayer, no sch_netem here/);
  t.regex(dry.stdout, new RegExp(`queue \\d+ \\(bypass\\) if va from ${pair.addressB.replaceAll('.', '\\.')}`));
  const child = startCli(['--log-format', 'json', 'run', file], ws.stateDir, pair.a.name);
  t.teardown(() => child.kill('SIGKILL'));
  await waitForLine(child, /fault applied/);
  t.is(stressorsMatching('-lat').length, 1, 'the delayer runs');
  const delayed = await udpRtts(pair.a, pair.addressB, ECHO_PORT, { count: 40, intervalMs: 20 });
  const untargeted = await udpRtts(pair.a, other, ECHO_PORT + 1, { count: 20, intervalMs: 20 });
  const added = median(delayed) - baseline;
  t.log(`baseline ${baseline.toFixed(2)} ms, with the fault ${median(delayed).toFixed(2)} ms: +${added.toFixed(2)} ms for 100 ms asked; untargeted ${median(untargeted).toFixed(2)} ms`);
  t.is(delayed.length, 40, 'no probe lost');
  t.true(Math.abs(added - 100) <= 5, `added ${added} ms`);
  t.true(median(untargeted) < 20, 'another address of the same host is not delayed');
  child.kill('SIGINT');
  t.is((await finish(child)).code, 3);
  t.deepEqual(ruleset(pair.a), before, 'nft ruleset restored exactly');
  t.deepEqual(stressorsMatching('-lat'), [], 'delayer stopped');
  t.true(median(await udpRtts(pair.a, pair.addressB, ECHO_PORT, { count: 20, intervalMs: 10 })) < 20, 'no delay after revert');
});

test('jitter spreads the delay as asked (uniform ±20 ms around 100 ms)', async (t) => {
  if (!usesNfqueue(t)) return;
  const pair = testNetnsPair(t);
  const ws = workspace();
  t.teardown(() => ws.remove());
  await startUdpEcho(t, pair.b, ECHO_PORT);
  const baseline = median(await udpRtts(pair.a, pair.addressB, ECHO_PORT, { count: 20, intervalMs: 10 }));
  const file = ws.file('jit.json', experimentYaml([[{ kind: 'linux-network-latency', name: 'jit', duration: '60s', params: { networkInterfaces: 'va', latency: 100, jitter: 20 } }]]));
  const child = startCli(['--log-format', 'json', 'run', file], ws.stateDir, pair.a.name);
  t.teardown(() => child.kill('SIGKILL'));
  await waitForLine(child, /fault applied/);
  const rtts = (await udpRtts(pair.a, pair.addressB, ECHO_PORT, { count: 200, intervalMs: 5 })).map((r) => r - baseline);
  const s = stats(rtts);
  t.log(`added delay over ${rtts.length} probes: mean ${s.mean.toFixed(2)} ms, sd ${s.sd.toFixed(2)} ms (uniform ±20 ms: 11.55), p2 ${s.p2.toFixed(2)}, p98 ${s.p98.toFixed(2)}`);
  t.is(rtts.length, 200);
  t.true(Math.abs(s.mean - 100) <= 5, `mean ${s.mean}`);
  t.true(s.sd >= 9 && s.sd <= 15, `sd ${s.sd}`);
  t.true(s.p2 >= 79 && s.p2 <= 84, `p2 ${s.p2}`);
  t.true(s.p98 >= 116 && s.p98 <= 123, `p98 ${s.p98}`);
  child.kill('SIGINT');
  t.is((await finish(child)).code, 3);
});

test('kill -9 mid-latency: traffic flows undelayed (bypass), revert --remnants removes chain and delayer', async (t) => {
  if (!usesNfqueue(t)) return;
  const pair = testNetnsPair(t);
  const ws = workspace();
  t.teardown(() => ws.remove());
  await startUdpEcho(t, pair.b, ECHO_PORT);
  const before = ruleset(pair.a);
  const file = ws.file('k.json', experimentYaml([[{ kind: 'linux-network-latency', name: 'killed', duration: '60s', params: { networkInterfaces: 'va', latency: 200 } }]]));
  const child = startCli(['--log-format', 'json', 'run', file], ws.stateDir, pair.a.name);
  await waitForLine(child, /fault applied/);
  const applied = readFileSync(path.join(ws.stateDir, 'ledger.jsonl'), 'utf8').split('\n').filter((l) => l.includes('"event":"applied"'));
  t.regex(applied.join('\n'), /"delayer":\{[^}]*"pid":\d+,"startTime":\d+/, 'the applied record carries the delayer\'s pid and start time');
  child.kill('SIGKILL');
  await finish(child);
  t.true(await waitUntil(() => stressorsMatching('-killed').length === 0, 2000), 'the delayer dies with faultd (PDEATHSIG)');
  t.regex(pair.a.exec('nft', ['list', 'tables']), /inet faultd/, 'the chain is a remnant');
  const rtts = await udpRtts(pair.a, pair.addressB, ECHO_PORT, { count: 20, intervalMs: 10 });
  t.is(rtts.length, 20, 'no packet is lost to the unbound queue');
  t.true(median(rtts) < 20, 'and none is delayed');
  const revert = await runCli(['revert', '--remnants'], ws.stateDir, pair.a.name);
  t.is(revert.code, 0, revert.stdout + revert.stderr);
  t.deepEqual(ruleset(pair.a), before);
});

test('latency input errors name the field; the mechanism is in faultd doctor', async (t) => {
  const pair = testNetnsPair(t);
  const ws = workspace();
  t.teardown(() => ws.remove());
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ networkInterfaces: 'va', latency: 10, jitter: 20 }, /params\.jitter: 20 ms is more than the latency \(10 ms\)/],
    [{ networkInterfaces: 'va', latency: 10, distribution: 'normal' }, /params\.distribution: "normal" shapes the jitter, so it needs jitter > 0/],
    [{ networkInterfaces: 'nope0', latency: 10 }, /params\.networkInterfaces/],
  ];
  for (const [params, message] of cases) {
    const file = ws.file('bad.json', experimentYaml([[{ kind: 'linux-network-latency', params }]]));
    const result = await runCli(['validate', file], ws.stateDir, pair.a.name);
    t.is(result.code, 2, JSON.stringify(params));
    t.regex(result.stderr, message);
  }
  if (!hostFeatureProbe().qdisc('netem').supported) {
    const doctor = await runCli(['doctor'], ws.stateDir, pair.a.name);
    t.regex(doctor.stdout, /mechanism: NFQUEUE delayer/);
  }
});
