// SPDX-License-Identifier: Apache-2.0
// Ingress faults through faultd's own IFB device, in namespaces the tests create: a TCP stream
// into the host is held to the ingress limit, revert restores `tc -j qdisc show` exactly and
// removes the IFB, kill -9 then revert --remnants leaves no ingress qdisc or IFB device, and an
// interface that already has an ingress qdisc is refused and left untouched.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import { experimentYaml, finish, runCli, startCli, waitForLine, workspace } from '../helpers/cli.js';
import { qdiscState, testNetnsPair, type TestNetns } from '../helpers/netns.js';
import { privilegedTest as test } from '../helpers/privileged.js';
import { waitUntil } from '../helpers/processes.js';
import { mbit, measurePush, measureShapedPush, tcpGoodput } from '../helpers/traffic.js';

function ifbDevices(ns: TestNetns): string[] {
  return (JSON.parse(ns.exec('ip', ['-j', 'link', 'show'])) as { ifname: string }[]).map((l) => l.ifname).filter((name) => name.startsWith('fdi'));
}

// The queue limit holds a few bursts: TCP arrives on a veth in 64 KiB GSO packets, which tbf
// splits into frames, so a 64 KiB queue drops whole bursts and the stream stalls on timeouts.
test('an ingress rate limit holds a stream into the host within 10 % and reverts exactly', async (t) => {
  const pair = testNetnsPair(t);
  const ws = workspace();
  t.teardown(() => ws.remove());
  const before = qdiscState(pair.b, 'vb');
  const file = ws.file('in.json', experimentYaml([[{ kind: 'linux-network-rate-limit', name: 'in', duration: '60s', params: { networkInterfaces: 'vb', direction: 'ingress', networkBandwidth: '4mbit', burst: '16kb', limit: '256kb' } }]]));
  const dry = await runCli(['run', '--dry-run', file], ws.stateDir, pair.b.name);
  t.regex(dry.stdout, /create IFB device fdi[0-9a-f]{8}/);
  t.regex(dry.stdout, /add ingress qdisc ffff: on vb, with a u32 match-all filter redirecting every arriving packet to fdi[0-9a-f]{8}/);
  // B is the host under test: the push from A arrives on B's ingress.
  const child = startCli(['--log-format', 'json', 'run', file], ws.stateDir, pair.b.name);
  t.teardown(() => child.kill('SIGKILL'));
  await waitForLine(child, /fault applied/);
  const ifb = ifbDevices(pair.b);
  t.is(ifb.length, 1, 'one IFB device');
  t.regex(pair.b.exec('tc', ['qdisc', 'show', 'dev', 'vb']), /qdisc ingress ffff:/);
  t.regex(pair.b.exec('tc', ['qdisc', 'show', 'dev', ifb[0] ?? '']), /qdisc tbf/);
  const expected = tcpGoodput(4e6 / 8);
  const { rate, within } = await measureShapedPush(t, pair, 5301, expected);
  t.log(`measured ${mbit(rate)} Mbit/s of payload into the host for a 4 Mbit/s ingress limit (${mbit(expected)} expected)`);
  t.true(within, `measured ${rate} B/s`);
  child.kill('SIGINT');
  t.is((await finish(child)).code, 3);
  t.deepEqual(qdiscState(pair.b, 'vb'), before, 'qdiscs restored exactly');
  t.deepEqual(ifbDevices(pair.b), [], 'IFB device removed');
});

test('kill -9 mid ingress fault, then revert --remnants leaves no ingress qdisc and no IFB', async (t) => {
  const pair = testNetnsPair(t);
  const ws = workspace();
  t.teardown(() => ws.remove());
  const before = qdiscState(pair.b, 'vb');
  const file = ws.file('k.json', experimentYaml([[{ kind: 'linux-network-rate-limit', duration: '60s', params: { networkInterfaces: 'vb', direction: 'ingress', networkBandwidth: '1mbit' } }]]));
  const child = startCli(['--log-format', 'json', 'run', file], ws.stateDir, pair.b.name);
  await waitForLine(child, /fault applied/);
  child.kill('SIGKILL');
  await finish(child);
  t.is(ifbDevices(pair.b).length, 1, 'the IFB is a remnant');
  const revert = await runCli(['revert', '--remnants'], ws.stateDir, pair.b.name);
  t.is(revert.code, 0, revert.stdout + revert.stderr);
  t.deepEqual(qdiscState(pair.b, 'vb'), before);
  t.deepEqual(ifbDevices(pair.b), []);
  const again = await runCli(['revert', '--remnants'], ws.stateDir, pair.b.name);
  t.is(again.code, 0, 'idempotent');
});

test('an interface that already has an ingress qdisc is refused and left untouched', async (t) => {
  const pair = testNetnsPair(t);
  const ws = workspace();
  t.teardown(() => ws.remove());
  pair.b.exec('tc', ['qdisc', 'add', 'dev', 'vb', 'ingress']);
  const before = qdiscState(pair.b, 'vb');
  const file = ws.file('r.json', experimentYaml([[{ kind: 'linux-network-rate-limit', duration: '5s', params: { networkInterfaces: 'vb', direction: 'ingress' } }]]));
  const result = await runCli(['run', file], ws.stateDir, pair.b.name);
  t.not(result.code, 0);
  t.regex(result.stdout + result.stderr, /vb already has an ingress qdisc \(ffff:\) on its ingress, which faultd will not share/);
  t.deepEqual(qdiscState(pair.b, 'vb'), before);
  t.deepEqual(ifbDevices(pair.b), []);
});

test('a targeted ingress limit slows only the stream from the targeted remote port', async (t) => {
  const pair = testNetnsPair(t);
  const ws = workspace();
  t.teardown(() => ws.remove());
  const params = { networkInterfaces: 'vb', direction: 'ingress', networkBandwidth: '4mbit', burst: '16kb', limit: '256kb', destinationIPs: `${pair.addressA}|5302` };
  const file = ws.file('t.json', experimentYaml([[{ kind: 'linux-network-rate-limit', duration: '60s', params }]]));
  const child = startCli(['--log-format', 'json', 'run', file], ws.stateDir, pair.b.name);
  t.teardown(() => child.kill('SIGKILL'));
  await waitForLine(child, /fault applied/);
  const limited = await measureShapedPush(t, pair, 5302, tcpGoodput(4e6 / 8));
  const free = await measurePush(t, pair, 5303);
  t.log(`from port 5302 (targeted): ${mbit(limited.rate)} Mbit/s; from port 5303: ${mbit(free)} Mbit/s`);
  t.true(limited.within, `limited ${limited.rate}`);
  t.true(free > 10 * limited.rate, `free ${free}`);
  child.kill('SIGINT');
  t.is((await finish(child)).code, 3);
});

test('an ingress qdisc that is no longer faultd\'s (clsact added after a crash) is left alone and reported', async (t) => {
  const pair = testNetnsPair(t);
  const ws = workspace();
  t.teardown(() => ws.remove());
  const file = ws.file('k.json', experimentYaml([[{ kind: 'linux-network-rate-limit', duration: '60s', params: { networkInterfaces: 'vb', direction: 'ingress' } }]]));
  const child = startCli(['--log-format', 'json', 'run', file], ws.stateDir, pair.b.name);
  await waitForLine(child, /fault applied/);
  child.kill('SIGKILL');
  await finish(child);
  // Someone replaces faultd's ingress qdisc with a clsact of their own.
  pair.b.exec('tc', ['qdisc', 'del', 'dev', 'vb', 'ingress']);
  pair.b.exec('tc', ['qdisc', 'add', 'dev', 'vb', 'clsact']);
  const revert = await runCli(['revert', '--remnants'], ws.stateDir, pair.b.name);
  t.is(revert.code, 4, revert.stdout + revert.stderr);
  t.regex(revert.stdout + revert.stderr, /vb now has a clsact qdisc on its ingress, which faultd did not add; left untouched/);
  t.regex(pair.b.exec('tc', ['qdisc', 'show', 'dev', 'vb']), /qdisc clsact/, 'their qdisc stays');
  t.deepEqual(ifbDevices(pair.b), [], "faultd's own IFB is removed anyway");
});

test('records of another boot are checked, not assumed gone: a namespace that outlived the boot id (a container sharing its host\'s network) is cleaned', async (t) => {
  const pair = testNetnsPair(t);
  const ws = workspace();
  t.teardown(() => ws.remove());
  const before = qdiscState(pair.b, 'vb');
  const faults = [
    { kind: 'linux-network-rate-limit', name: 'out', duration: '60s', params: { networkInterfaces: 'vb', networkBandwidth: '1mbit' } },
    { kind: 'linux-network-rate-limit', name: 'in', duration: '60s', params: { networkInterfaces: 'vb', direction: 'ingress', networkBandwidth: '1mbit' } },
    { kind: 'linux-network-partition', name: 'cut', duration: '60s', params: { destinationIPs: `${pair.addressA}|7001` } },
  ];
  const child = startCli(['--log-format', 'json', 'run', ws.file('b.json', experimentYaml([faults]))], ws.stateDir, pair.b.name);
  t.teardown(() => child.kill('SIGKILL'));
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  t.true(await waitUntil(() => out.split('\n').filter((l) => l.includes('"fault applied"')).length === 3, 10_000), out);
  child.kill('SIGKILL');
  await finish(child);
  // As if the host had rebooted: every record now names another boot.
  const ledger = path.join(ws.stateDir, 'ledger.jsonl');
  const bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  writeFileSync(ledger, readFileSync(ledger, 'utf8').replaceAll(bootId, '00000000-0000-4000-8000-0000000000aa'));
  const revert = await runCli(['revert', '--remnants'], ws.stateDir, pair.b.name);
  t.is(revert.code, 0, revert.stdout + revert.stderr);
  t.deepEqual(qdiscState(pair.b, 'vb'), before, 'root and ingress qdiscs restored');
  t.deepEqual(ifbDevices(pair.b), [], 'IFB removed');
  t.notRegex(pair.b.exec('nft', ['list', 'tables']), /faultd/, 'nf_tables chains removed');
});
