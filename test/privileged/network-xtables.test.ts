// SPDX-License-Identifier: Apache-2.0
// The network faults on an iptables-legacy-only host, end to end in namespaces the tests create:
// FAULTD_TEST_MISSING_FEATURES=nftables makes the firewall probe choose x_tables on this kernel.
// A partition cuts the targeted port (a TCP connect times out) while another still connects,
// iptables-legacy-save shows faultd's chain and jump, and the revert gives back the exact
// iptables-legacy-save and ip6tables-legacy-save output taken before, with a rule of the test's
// own in another chain byte for byte; an IPv6 target goes to ip6tables only and is restored the
// same way; kill -9 then revert --remnants does the same; loss without
// netem drops its share through the statistic match; the NFQUEUE delayer's queue rule in mangle
// adds the delay; the probes that choose x_tables say yes here without touching this namespace's
// tables. nf_tables is never touched. iptables-legacy-save is the oracle.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';

import type { ExecutionContext } from 'ava';

import { experimentYaml, finish, startCli, STRESSOR_BIN, waitForLine, workspace, type Workspace } from '../helpers/cli.js';
import { addIpv6, legacySave, testNetnsPair, type NetnsPair, type TestNetns } from '../helpers/netns.js';
import { privilegedTest as test } from '../helpers/privileged.js';
import { stressorsMatching } from '../helpers/processes.js';
import { median, startTcpServers, startUdpEcho, tryConnect, udpDelivered, udpLossPct, udpRtts } from '../helpers/traffic.js';

/** An iptables-legacy-only host, as the probes will see it (this kernel has no sch_netem either). */
const LEGACY = { FAULTD_TEST_MISSING_FEATURES: 'qdisc:netem,nftables' };

/** The host's own rules in A: a user chain with a commented rule, a REJECT in OUTPUT, an IPv6 drop. */
function hostRules(a: TestNetns): void {
  for (const args of [
    ['-N', 'HOSTFW'],
    ['-A', 'HOSTFW', '-s', '192.0.2.0/24', '-m', 'comment', '--comment', 'the test own rule', '-j', 'ACCEPT'],
    ['-A', 'INPUT', '-p', 'tcp', '--dport', '2200', '-j', 'HOSTFW'],
    ['-A', 'OUTPUT', '-d', '198.51.100.7/32', '-j', 'REJECT'],
  ]) {
    a.exec('iptables-legacy', args);
  }
  a.exec('ip6tables-legacy', ['-A', 'INPUT', '-s', '2001:db8::/32', '-j', 'DROP']);
}

/**
 * Two namespaces whose filter tables are loaded, as on an iptables-legacy host (`iptables -S`
 * brings a namespace's table up; faultd's first read would too, and an empty table with ACCEPT
 * policies then stays, as it does after iptables: see the x_tables privileged test).
 */
function setUp(t: ExecutionContext): NetnsPair | undefined {
  const pair = testNetnsPair(t);
  try {
    for (const ns of [pair.a, pair.b]) {
      ns.exec('iptables-legacy', ['-S']);
      ns.exec('ip6tables-legacy', ['-S']);
    }
  } catch (error) {
    t.log(`skipped: iptables-legacy fails in a namespace: ${(error as Error).message.split('\n')[0] ?? ''}`);
    t.pass();
    return undefined;
  }
  return pair;
}

function run(ws: Workspace, ns: TestNetns, fault: Record<string, unknown>, args: readonly string[] = []) {
  const file = ws.file(`x-${Math.random().toString(36).slice(2)}.json`, experimentYaml([[{ duration: '60s', ...fault }]]));
  return startCli(['--log-format', 'json', 'run', ...args, file], ws.stateDir, ns.name, LEGACY);
}

test('a partition on x_tables cuts the targeted port only, and its revert restores iptables-legacy-save byte for byte', async (t) => {
  const pair = setUp(t);
  if (!pair) return;
  const ws = workspace();
  t.teardown(() => ws.remove());
  await startTcpServers(t, pair.b, [7001, 7002]);
  hostRules(pair.a);
  const before4 = legacySave(pair.a, 4);
  const before6 = legacySave(pair.a, 6);
  const nftBefore = pair.a.exec('nft', ['list', 'ruleset']);
  const fault = { kind: 'linux-network-partition', name: 'cut', params: { destinationIPs: `${pair.addressB}|7001` } };
  const dry = await finish(run(ws, pair.a, fault, ['--dry-run']));
  t.regex(dry.stdout, /x_tables \(nf_tables is missing\): add iptables-legacy -t filter chain FAULTD-[0-9a-f]{16}-out with 4 rule\(s\) and `-I OUTPUT -j FAULTD-[0-9a-f]{16}-out`/);
  t.regex(dry.stdout, /\(x_tables, no nf_tables here\)/);
  const child = run(ws, pair.a, fault);
  t.teardown(() => child.kill('SIGKILL'));
  await waitForLine(child, /fault applied/);
  const during = legacySave(pair.a, 4);
  const chain = /^:(FAULTD-[0-9a-f]{16}-out) - /m.exec(during)?.[1] ?? 'FAULTD-?';
  t.regex(during, new RegExp(`^-A OUTPUT -j ${chain}\\n-A OUTPUT -d 198\\.51\\.100\\.7/32 -j REJECT`, 'm'), 'the jump is the first rule of OUTPUT');
  t.regex(during, new RegExp(`^-A ${chain} -p tcp -m tcp --sport 22 -j ACCEPT$`, 'm'), 'SSH is exempt');
  t.regex(during, new RegExp(`^-A ${chain} -d ${pair.addressB.replaceAll('.', '\\.')}/32 -p tcp -m tcp --dport 7001 -j DROP$`, 'm'));
  t.regex(during, /^-A INPUT -j FAULTD-[0-9a-f]{16}-in\n-A INPUT -p tcp -m tcp --dport 2200 -j HOSTFW$/m);
  t.is(legacySave(pair.a, 6), before6, 'IPv6 has nothing to cut (an IPv4 target): its table is untouched');
  t.is(await tryConnect(pair.a, pair.addressB, 7001), 'timeout', 'the targeted port is cut');
  t.is(await tryConnect(pair.a, pair.addressB, 7002), 'ok', 'another port of the same host still connects');
  child.kill('SIGINT');
  t.is((await finish(child)).code, 3);
  t.is(legacySave(pair.a, 4), before4, 'iptables-legacy-save is what it was, the test own HOSTFW rule included');
  t.is(legacySave(pair.a, 6), before6);
  t.is(pair.a.exec('nft', ['list', 'ruleset']), nftBefore, 'nf_tables untouched');
  t.is(await tryConnect(pair.a, pair.addressB, 7001), 'ok', 'reachable after the revert');
});

test('an IPv6 partition on x_tables goes to ip6tables only, cuts the port, and restores ip6tables-legacy-save byte for byte', async (t) => {
  const pair = setUp(t);
  if (!pair) return;
  const ws = workspace();
  t.teardown(() => ws.remove());
  const addressB6 = addIpv6(pair);
  await startTcpServers(t, pair.b, [7021, 7022]);
  hostRules(pair.a);
  const before4 = legacySave(pair.a, 4);
  const before6 = legacySave(pair.a, 6);
  const child = run(ws, pair.a, { kind: 'linux-network-partition', name: 'six', params: { destinationIPs: `${addressB6}|7021`, protocol: 'tcp', direction: 'egress' } });
  t.teardown(() => child.kill('SIGKILL'));
  await waitForLine(child, /fault applied/);
  t.regex(legacySave(pair.a, 6), new RegExp(`^-A FAULTD-[0-9a-f]{16}-out -d ${addressB6}/128 -p tcp -m tcp --dport 7021 -j DROP$`, 'm'));
  t.is(legacySave(pair.a, 4), before4, 'the IPv4 table is untouched (an IPv6 target)');
  t.is(await tryConnect(pair.a, addressB6, 7021), 'timeout', 'the targeted port is cut over IPv6');
  t.is(await tryConnect(pair.a, addressB6, 7022), 'ok', 'another port still connects');
  child.kill('SIGINT');
  t.is((await finish(child)).code, 3);
  t.is(legacySave(pair.a, 6), before6, 'ip6tables-legacy-save is what it was');
  t.is(await tryConnect(pair.a, addressB6, 7021), 'ok');
});

test('the x_tables probes say yes on this kernel, and run in a throwaway namespace (the host tables are not touched)', (t) => {
  const names = () => ['ip_tables_names', 'ip6_tables_names'].map((f) => readFileSync(`/proc/net/${f}`, 'utf8'));
  const before = names();
  for (const args of [['probe-xtables'], ['probe-xtables', 'nfqueue']]) {
    const probe = spawnSync(STRESSOR_BIN, args, { encoding: 'utf8' });
    t.is(probe.stdout.trim(), '{"supported":true}', `${args.join(' ')}: ${probe.stderr}`);
  }
  t.deepEqual(names(), before, 'no table was brought up in this namespace');
});

test('a full partition from a peer on x_tables: input and output cut both ways, SSH still reachable from it', async (t) => {
  const pair = setUp(t);
  if (!pair) return;
  const ws = workspace();
  t.teardown(() => ws.remove());
  await startTcpServers(t, pair.a, [22, 7005]);
  await startTcpServers(t, pair.b, [7006]);
  const before = legacySave(pair.a, 4);
  const child = run(ws, pair.a, { kind: 'linux-network-partition', name: 'full', params: { destinationIPs: pair.addressB } });
  t.teardown(() => child.kill('SIGKILL'));
  await waitForLine(child, /fault applied/);
  t.is(await tryConnect(pair.b, pair.addressA, 22), 'ok', 'SSH stays reachable');
  t.is(await tryConnect(pair.b, pair.addressA, 7005), 'timeout', 'the peer cannot reach A');
  t.is(await tryConnect(pair.a, pair.addressB, 7006), 'timeout', 'A cannot reach the peer');
  child.kill('SIGINT');
  t.is((await finish(child)).code, 3);
  t.is(legacySave(pair.a, 4), before);
  t.is(await tryConnect(pair.b, pair.addressA, 7005), 'ok');
});

test('kill -9 mid-partition on x_tables, then revert --remnants restores both tables exactly', async (t) => {
  const pair = setUp(t);
  if (!pair) return;
  const ws = workspace();
  t.teardown(() => ws.remove());
  hostRules(pair.a);
  const before4 = legacySave(pair.a, 4);
  const before6 = legacySave(pair.a, 6);
  const child = run(ws, pair.a, { kind: 'linux-network-partition', name: 'killed', params: { destinationPorts: '7004' } });
  await waitForLine(child, /fault applied/);
  const intent = readFileSync(path.join(ws.stateDir, 'ledger.jsonl'), 'utf8').split('\n').find((l) => l.includes('"event":"intent"')) ?? '';
  t.regex(intent, /"backend":"xtables".*"family":4,"table":"filter","chain":"FAULTD-[0-9a-f]{16}-out","hook":"output".*"family":6/, 'the intent names every chain of both families');
  child.kill('SIGKILL');
  await finish(child);
  t.regex(legacySave(pair.a, 4), /^-A OUTPUT -j FAULTD-/m, 'the IPv4 chain is a remnant');
  t.regex(legacySave(pair.a, 6), /^-A OUTPUT -j FAULTD-/m, 'and the IPv6 one (a port target applies to both)');
  const revert = await finish(startCli(['revert', '--remnants'], ws.stateDir, pair.a.name, LEGACY));
  t.is(revert.code, 0, revert.stdout + revert.stderr);
  t.is(legacySave(pair.a, 4), before4);
  t.is(legacySave(pair.a, 6), before6);
  const again = await finish(startCli(['revert', '--remnants'], ws.stateDir, pair.a.name, LEGACY));
  t.is(again.code, 0, again.stdout + again.stderr);
  t.regex(again.stdout, /No remnants/);
});

test('loss without netem nor nf_tables: the statistic match drops 30 ± 5 % of 2000 datagrams and reverts exactly', async (t) => {
  const pair = setUp(t);
  if (!pair) return;
  const ws = workspace();
  t.teardown(() => ws.remove());
  const before = legacySave(pair.b, 4);
  const fault = { kind: 'linux-network-loss', name: 'loss', params: { networkInterfaces: 'vb', packetLossPercentage: 30 } };
  const dry = await finish(run(ws, pair.b, fault, ['--dry-run']));
  t.regex(dry.stdout, /x_tables statistic, no sch_netem nor nf_tables here/);
  const child = run(ws, pair.b, fault);
  t.teardown(() => child.kill('SIGKILL'));
  await waitForLine(child, /fault applied/);
  t.regex(legacySave(pair.b, 4), /^-A FAULTD-[0-9a-f]{16}-out -o vb -m statistic --mode random --probability 0\.29999999981 -j DROP$/m);
  const lossPct = await udpLossPct(t, pair, { port: 7100, count: 2000, fromB: true, askedPct: 30 });
  t.true(Math.abs(lossPct - 30) <= 5, `lost ${lossPct} %`);
  child.kill('SIGINT');
  t.is((await finish(child)).code, 3);
  t.is(legacySave(pair.b, 4), before);
  t.is(await udpDelivered(pair, { port: 7101, count: 200, fromB: true }), 200, 'no loss after revert');
});

test('the NFQUEUE delayer queued by x_tables (mangle PREROUTING) adds 100 ± 5 ms to the targeted round trip, and reverts exactly', async (t) => {
  const pair = setUp(t);
  if (!pair) return;
  const ws = workspace();
  t.teardown(() => ws.remove());
  await startUdpEcho(t, pair.b, 7300);
  const before = legacySave(pair.a, 4, 'mangle');
  const baseline = median(await udpRtts(pair.a, pair.addressB, 7300, { count: 20, intervalMs: 20 }));
  const fault = { kind: 'linux-network-latency', name: 'xlat', params: { networkInterfaces: 'va', latency: 100, destinationIPs: pair.addressB } };
  const dry = await finish(run(ws, pair.a, fault, ['--dry-run']));
  t.regex(dry.stdout, /NFQUEUE delayer, queued by x_tables, no sch_netem here/);
  const child = run(ws, pair.a, fault);
  t.teardown(() => child.kill('SIGKILL'));
  await waitForLine(child, /fault applied/);
  t.regex(legacySave(pair.a, 4, 'mangle'), new RegExp(`^-A FAULTD-[0-9a-f]{16}-pre -s ${pair.addressB.replaceAll('.', '\\.')}/32 -i va -j NFQUEUE --queue-num \\d+ --queue-bypass$`, 'm'));
  t.is(stressorsMatching('-xlat').length, 1, 'the delayer runs');
  const delayed = await udpRtts(pair.a, pair.addressB, 7300, { count: 30, intervalMs: 20 });
  const added = median(delayed) - baseline;
  t.log(`baseline ${baseline.toFixed(2)} ms, with the fault ${median(delayed).toFixed(2)} ms: +${added.toFixed(2)} ms for 100 ms asked`);
  t.is(delayed.length, 30, 'no probe lost');
  t.true(Math.abs(added - 100) <= 5, `added ${added} ms`);
  child.kill('SIGINT');
  t.is((await finish(child)).code, 3);
  t.is(legacySave(pair.a, 4, 'mangle'), before, 'mangle is what it was');
  t.deepEqual(stressorsMatching('-xlat'), [], 'delayer stopped');
  const after = await udpRtts(pair.a, pair.addressB, 7300, { count: 20, intervalMs: 10 });
  t.true(median(after) < 20, `no delay after revert: ${after.map((r) => r.toFixed(1)).join(' ')} ms`);
});

test('kill -9 mid-latency on x_tables: traffic flows undelayed (queue bypass), revert --remnants removes the mangle chains', async (t) => {
  const pair = setUp(t);
  if (!pair) return;
  const ws = workspace();
  t.teardown(() => ws.remove());
  await startUdpEcho(t, pair.b, 7310);
  const before4 = legacySave(pair.a, 4, 'mangle');
  const before6 = legacySave(pair.a, 6, 'mangle');
  const child = run(ws, pair.a, { kind: 'linux-network-latency', name: 'xkilled', params: { networkInterfaces: 'va', latency: 200 } });
  await waitForLine(child, /fault applied/);
  child.kill('SIGKILL');
  await finish(child);
  t.regex(legacySave(pair.a, 4, 'mangle'), /^-A PREROUTING -j FAULTD-[0-9a-f]{16}-pre$/m, 'the queue chain is a remnant');
  const rtts = await udpRtts(pair.a, pair.addressB, 7310, { count: 20, intervalMs: 10 });
  t.is(rtts.length, 20, 'no packet is lost to the unbound queue');
  t.true(median(rtts) < 20, 'and none is delayed');
  const revert = await finish(startCli(['revert', '--remnants'], ws.stateDir, pair.a.name, LEGACY));
  t.is(revert.code, 0, revert.stdout + revert.stderr);
  t.is(legacySave(pair.a, 4, 'mangle'), before4);
  t.is(legacySave(pair.a, 6, 'mangle'), before6);
  t.deepEqual(stressorsMatching('-xkilled'), [], 'no delayer left');
});
