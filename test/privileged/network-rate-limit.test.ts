// SPDX-License-Identifier: Apache-2.0
// linux-network-rate-limit end to end, each test in namespaces it creates: a real TCP transfer
// within 10 % of the limit, exact qdisc restore (with and without a pre-existing qdisc), kill -9
// then revert --remnants, refusal of a classful root, and kernel errors with their extack text.
import type { ExecutionContext } from 'ava';

import { experimentYaml, finish, runCli, startCli, waitForLine, workspace } from '../helpers/cli.js';
import { qdiscState, testNetnsPair, type NetnsPair } from '../helpers/netns.js';
import { privilegedTest as test } from '../helpers/privileged.js';
import { measurePush, measureThroughput } from '../helpers/traffic.js';

function setup(t: ExecutionContext, params: Record<string, unknown>, duration = '30s') {
  const pair = testNetnsPair(t);
  const ws = workspace();
  t.teardown(() => ws.remove());
  const file = ws.file('exp.json', experimentYaml([[{ kind: 'linux-network-rate-limit', name: 'rl', duration, params: { networkInterfaces: 'va', ...params } }]]));
  return { pair, ws, file };
}

function startIn(pair: NetnsPair, file: string, stateDir: string) {
  return startCli(['--log-format', 'json', 'run', file], stateDir, pair.a.name);
}

test('a TCP transfer through an 8 Mbit/s limit runs within 10 % of it', async (t) => {
  const { pair, ws, file } = setup(t, { networkBandwidth: '8mbit', burst: '16kb', limit: '64kb' });
  const child = startIn(pair, file, ws.stateDir);
  t.teardown(() => child.kill('SIGKILL'));
  await waitForLine(child, /fault applied/);
  const rate = await measureThroughput(pair, { warmupMs: 1000, windowMs: 3000, port: 5201 });
  const target = 8e6 / 8;
  t.log(`measured ${((rate * 8) / 1e6).toFixed(2)} Mbit/s on the wire for an 8 Mbit/s limit`);
  t.true(Math.abs(rate - target) / target <= 0.1, `measured ${rate} B/s`);
  child.kill('SIGINT');
  t.is((await finish(child)).code, 3);
});

/** Runs the fault, checks it changed the root while applied, and returns once it is reverted. */
async function applyAndRevert(t: ExecutionContext, pair: NetnsPair, file: string, stateDir: string): Promise<void> {
  const before = qdiscState(pair.a, 'va');
  const child = startIn(pair, file, stateDir);
  t.teardown(() => child.kill('SIGKILL'));
  await waitForLine(child, /fault applied/);
  t.notDeepEqual(qdiscState(pair.a, 'va'), before, 'the fault changed the root while applied');
  t.is((await finish(child)).code, 0);
}

test('a targeted limit slows only the targeted port; another port of the same host runs free', async (t) => {
  const pair = testNetnsPair(t);
  const ws = workspace();
  t.teardown(() => ws.remove());
  const file = ws.file('exp.json', experimentYaml([[{ kind: 'linux-network-rate-limit', duration: '30s', params: { networkInterfaces: 'va', networkBandwidth: '4mbit', burst: '16kb', limit: '64kb', destinationIPs: `${pair.addressB}|5301` } }]]));
  const child = startIn(pair, file, ws.stateDir);
  t.teardown(() => child.kill('SIGKILL'));
  await waitForLine(child, /fault applied/);
  const targeted = await measureThroughput(pair, { warmupMs: 1000, windowMs: 2500, port: 5301 });
  const free = await measureThroughput(pair, { warmupMs: 500, windowMs: 1500, port: 5302 });
  const limit = 4e6 / 8;
  t.log(`targeted port ${((targeted * 8) / 1e6).toFixed(2)} Mbit/s for a 4 Mbit/s limit; other port ${((free * 8) / 1e6).toFixed(1)} Mbit/s`);
  t.true(Math.abs(targeted - limit) / limit <= 0.1, `targeted ${targeted} B/s`);
  t.true(free > 5 * limit, `other port ${free} B/s`);
  child.kill('SIGINT');
  t.is((await finish(child)).code, 3);
});

test('a whole-interface limit spares this host\'s SSH (whitelistSSH, the default)', async (t) => {
  const { pair, ws, file } = setup(t, { networkBandwidth: '1mbit', burst: '8kb', limit: '32kb' });
  const child = startIn(pair, file, ws.stateDir);
  t.teardown(() => child.kill('SIGKILL'));
  await waitForLine(child, /fault applied/);
  const ssh = await measurePush(t, pair, 22);
  const other = await measurePush(t, pair, 2200);
  t.log(`from port 22: ${((ssh * 8) / 1e6).toFixed(1)} Mbit/s; from port 2200: ${((other * 8) / 1e6).toFixed(2)} Mbit/s (limit 1 Mbit/s)`);
  t.true(other < (1.2 * 1e6) / 8, `port 2200 is limited (${other} B/s)`);
  t.true(ssh > (20 * 1e6) / 8, `port 22 is not (${ssh} B/s)`);
  t.regex(pair.a.exec('tc', ['filter', 'show', 'dev', 'va']), /protocol arp pref 9 u32/, 'ARP is kept out of the fault class');
  child.kill('SIGINT');
  t.is((await finish(child)).code, 3);
});

test('revert restores the default root qdisc exactly', async (t) => {
  const { pair, ws, file } = setup(t, {}, '1s');
  const before = qdiscState(pair.a, 'va');
  await applyAndRevert(t, pair, file, ws.stateDir);
  t.deepEqual(qdiscState(pair.a, 'va'), before);
});

test('revert restores a pre-existing tbf root exactly', async (t) => {
  const { pair, ws, file } = setup(t, {}, '1s');
  pair.a.exec('tc', ['qdisc', 'add', 'dev', 'va', 'root', 'handle', '5:', 'tbf', 'rate', '5mbit', 'burst', '10kb', 'limit', '100kb']);
  const before = qdiscState(pair.a, 'va');
  await applyAndRevert(t, pair, file, ws.stateDir);
  t.deepEqual(qdiscState(pair.a, 'va'), before);
});

/** The whole tc state of va: qdiscs (JSON), classes and filters (text: tc 6.1 prints no JSON for htb classes). */
function tcState(pair: NetnsPair): unknown {
  return {
    qdiscs: qdiscState(pair.a, 'va'),
    classes: pair.a.exec('tc', ['-d', 'class', 'show', 'dev', 'va']),
    filters: pair.a.exec('tc', ['-d', 'filter', 'show', 'dev', 'va']),
  };
}

/** An htb tree with nested classes, leaf qdiscs and u32 filters, as an operator would set up. */
function htbTree(pair: NetnsPair): void {
  const tc = (line: string) => pair.a.exec('tc', line.split(' '));
  tc('qdisc add dev va root handle 1: htb default 20');
  tc('class add dev va parent 1: classid 1:1 htb rate 100mbit');
  tc('class add dev va parent 1:1 classid 1:10 htb rate 30mbit ceil 100mbit prio 1');
  tc('class add dev va parent 1:1 classid 1:20 htb rate 70mbit ceil 100mbit prio 2');
  tc('qdisc add dev va parent 1:10 handle 10: pfifo limit 500');
  tc('qdisc add dev va parent 1:20 handle 20: bfifo limit 100000');
  tc('filter add dev va parent 1: protocol ip prio 1 u32 match ip dport 22 0xffff flowid 1:10');
  tc('filter add dev va parent 1: protocol ip prio 2 u32 match ip dst 10.0.0.0/8 flowid 1:20');
}

test('revert restores a pre-existing htb tree (classes, leaf qdiscs, u32 filters) exactly', async (t) => {
  const { pair, ws, file } = setup(t, {}, '1s');
  htbTree(pair);
  const before = tcState(pair);
  const dry = await runCli(['run', '--dry-run', file], ws.stateDir, pair.a.name);
  t.regex(dry.stdout, /restore the htb root qdisc 1: on va with its 3 class\(es\), 2 leaf qdisc\(s\) and 2 filter\(s\)/);
  await applyAndRevert(t, pair, file, ws.stateDir);
  t.deepEqual(tcState(pair), before);
});

test('kill -9 over an htb tree, then revert --remnants restores the tree exactly', async (t) => {
  const { pair, ws, file } = setup(t, { networkBandwidth: '2mbit' }, '60s');
  htbTree(pair);
  const before = tcState(pair);
  const child = startIn(pair, file, ws.stateDir);
  await waitForLine(child, /fault applied/);
  child.kill('SIGKILL');
  await finish(child);
  t.notDeepEqual(tcState(pair), before, 'the fault replaced the tree');
  const revert = await runCli(['revert', '--remnants'], ws.stateDir, pair.a.name);
  t.is(revert.code, 0, revert.stdout + revert.stderr);
  t.deepEqual(tcState(pair), before);
});

test('htb trees faultd cannot replay (a hashing u32 table, a filter chain) are refused and left untouched', async (t) => {
  const cases: [string[], RegExp][] = [
    [['filter', 'add', 'dev', 'va', 'parent', '1:', 'prio', '5', 'handle', '2:', 'protocol', 'ip', 'u32', 'divisor', '256'], /va has a hashing u32 table, which faultd cannot yet restore exactly; refusing to replace its root/],
    [['filter', 'add', 'dev', 'va', 'parent', '1:', 'chain', '3', 'prio', '6', 'protocol', 'ip', 'u32', 'match', 'ip', 'dport', '80', '0xffff', 'flowid', '1:10'], /va has filters in chain 3 below 1:, which faultd cannot yet restore/],
  ];
  for (const [extra, message] of cases) {
    const { pair, ws, file } = setup(t, {}, '1s');
    htbTree(pair);
    pair.a.exec('tc', extra);
    const before = tcState(pair);
    const result = await runCli(['run', file], ws.stateDir, pair.a.name);
    t.is(result.code, 1);
    t.regex(result.stdout + result.stderr, message);
    t.deepEqual(tcState(pair), before);
  }
});

test('a configured child qdisc below the root is refused and left untouched', async (t) => {
  const { pair, ws, file } = setup(t, {}, '1s');
  pair.a.exec('tc', ['qdisc', 'add', 'dev', 'va', 'root', 'handle', '1:', 'tbf', 'rate', '5mbit', 'burst', '10kb', 'limit', '100kb']);
  pair.a.exec('tc', ['qdisc', 'add', 'dev', 'va', 'parent', '1:1', 'handle', '10:', 'pfifo', 'limit', '50']);
  const before = qdiscState(pair.a, 'va');
  const result = await runCli(['run', file], ws.stateDir, pair.a.name);
  t.is(result.code, 1);
  t.regex(result.stdout + result.stderr, /va has a configured pfifo qdisc \(10:\) below its root/);
  t.deepEqual(qdiscState(pair.a, 'va'), before);
});

test('a revert never removes a root qdisc with another fault\'s handle', async (t) => {
  const pair = testNetnsPair(t);
  const ws = workspace();
  t.teardown(() => ws.remove());
  // Another fault's qdisc (handle f001:) is on va; this ledger's fault recorded handle f002:.
  pair.a.exec('tc', ['qdisc', 'add', 'dev', 'va', 'root', 'handle', 'f001:', 'tbf', 'rate', '1mbit', 'burst', '32kb', 'limit', '64kb']);
  const before = qdiscState(pair.a, 'va');
  const { Ledger } = await import('../../src/ledger/ledger.js');
  const { loadNative } = await import('../../src/native/load.js');
  const { readFileSync } = await import('node:fs');
  const bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  const ledger = new Ledger(ws.stateDir, loadNative());
  await ledger.open();
  const revert = { bootId, handle: 0xf0020000, interfaces: [{ name: 'va', previous: { kind: 'noqueue', handle: 0, options: '' } }] };
  await ledger.append({ event: 'intent', faultId: 'other', runId: 'r', kind: 'linux-network-rate-limit', target: 'va', bootId, owner: { pid: 999_999, startTime: 1 }, revert });
  await ledger.close();
  const result = await runCli(['revert', '--remnants'], ws.stateDir, pair.a.name);
  t.is(result.code, 0, result.stdout + result.stderr);
  t.regex(result.stdout, /no faultd qdisc was left/);
  t.deepEqual(qdiscState(pair.a, 'va'), before);
});

test('kill -9 mid-fault, then revert --remnants leaves no faultd qdisc', async (t) => {
  const { pair, ws, file } = setup(t, {});
  const before = qdiscState(pair.a, 'va');
  const child = startIn(pair, file, ws.stateDir);
  await waitForLine(child, /fault applied/);
  t.regex(pair.a.exec('tc', ['qdisc', 'show', 'dev', 'va']), /htb f[0-9a-e][0-9a-f]{2}: root/);
  child.kill('SIGKILL');
  await finish(child);
  t.regex(pair.a.exec('tc', ['qdisc', 'show', 'dev', 'va']), /htb f[0-9a-e][0-9a-f]{2}: root/, 'a qdisc survives its process');
  const revert = await runCli(['revert', '--remnants'], ws.stateDir, pair.a.name);
  t.is(revert.code, 0, revert.stdout + revert.stderr);
  t.regex(revert.stdout, /root qdisc restored on va/);
  t.deepEqual(qdiscState(pair.a, 'va'), before);
  const again = await runCli(['revert', '--remnants'], ws.stateDir, pair.a.name);
  t.regex(again.stdout, /No remnants/);
});

test('kernel refusals carry the extack text', (t) => {
  const pair = testNetnsPair(t);
  // The addon acts in the caller's namespace, so ask for a kind no kernel has, from a child in A.
  const script = `
    import { loadNative } from ${JSON.stringify(new URL('../../src/native/load.js', import.meta.url).href)};
    const native = loadNative();
    try { native.qdiscReplace({ ifname: 'va', parent: 0xffffffff, handle: 0xfa170000, kind: 'faultd-no-such-qdisc' }); }
    catch (e) { console.log(JSON.stringify({ name: e.name, code: e.code, syscall: e.syscall, message: e.message })); }`;
  const out = pair.a.exec(process.execPath, ['--input-type=module', '-e', script]);
  const error = JSON.parse(out) as { name: string; code: string; syscall: string; message: string };
  t.like(error, { name: 'NativeSystemError', code: 'ENOENT', syscall: 'RTM_NEWQDISC' });
  t.is(error.message, 'RTM_NEWQDISC ENOENT: Specified qdisc kind is unknown');
});

test('bad rate-limit input names the field and the bound, and changes nothing', async (t) => {
  const pair = testNetnsPair(t);
  const ws = workspace();
  t.teardown(() => ws.remove());
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ networkInterfaces: 'nope0' }, /params\.networkInterfaces: no interface "nope0" here/],
    [{ networkInterfaces: 'va', burst: '1kb' }, /params\.burst: 1024 bytes is less than one frame on va \(MTU 1500 \+ 14\)/],
    [{ networkInterfaces: 'va', limit: '64kb', latency: '50ms' }, /params\.latency: give either limit or latency, not both/],
    [{ networkInterfaces: 'va', networkBandwidth: '1zbit' }, /params\.networkBandwidth: must be a tc rate like "1mbit"/],
    [{ networkInterfaces: 'va', destinationIPs: '10.0.0.1/40' }, /params\.destinationIPs: "10\.0\.0\.1\/40" has a prefix outside 1–32/],
  ];
  const before = qdiscState(pair.a, 'va');
  for (const [params, message] of cases) {
    const file = ws.file('bad.json', experimentYaml([[{ kind: 'linux-network-rate-limit', params }]]));
    const result = await runCli(['run', file], ws.stateDir, pair.a.name);
    t.is(result.code, 2, JSON.stringify(params));
    t.regex(result.stderr, message);
  }
  const twice = ws.file('twice.json', experimentYaml([[{ kind: 'linux-network-rate-limit', name: 'a', params: { networkInterfaces: 'va' } }, { kind: 'linux-network-rate-limit', name: 'b', params: { networkInterfaces: 'va' } }]]));
  const result = await runCli(['validate', twice], ws.stateDir, pair.a.name);
  t.is(result.code, 2);
  t.regex(result.stderr, /faults "a" and "b" both change netdev:va\/root-qdisc; put them in separate steps/);
  t.deepEqual(qdiscState(pair.a, 'va'), before);
});
