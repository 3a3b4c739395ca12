// SPDX-License-Identifier: Apache-2.0
// nf_tables faults end to end, each in namespaces it creates: a partition cuts only the targeted
// address and port while another port of the same host still connects, SSH and excluded
// addresses stay reachable, revert restores `nft -j list ruleset` exactly, and kill -9 followed
// by revert --remnants leaves no faultd table.
import { experimentYaml, finish, runCli, startCli, waitForLine, workspace } from '../helpers/cli.js';
import { testNetnsPair, type TestNetns } from '../helpers/netns.js';
import { hostFeatureProbe, privilegedTest as test } from '../helpers/privileged.js';
import { startTcpServers, tryConnect, udpDelivered, udpLossPct } from '../helpers/traffic.js';

function ruleset(ns: TestNetns): unknown {
  const text = ns.exec('nft', ['-j', 'list', 'ruleset']).trim();
  if (text === '') return []; // nft prints nothing for an empty ruleset
  const parsed = JSON.parse(text) as { nftables: Record<string, unknown>[] };
  return parsed.nftables.filter((entry) => !('metainfo' in entry));
}

test('a partition cuts only the targeted port and reverts to the exact ruleset', async (t) => {
  const pair = testNetnsPair(t);
  const ws = workspace();
  t.teardown(() => ws.remove());
  await startTcpServers(t, pair.b, [7001, 7002]);
  // An unrelated rule of the host's own, which must survive untouched.
  pair.a.exec('nft', ['add', 'table', 'inet', 'hostfw']);
  pair.a.exec('nft', ['add', 'chain', 'inet', 'hostfw', 'out', '{ type filter hook output priority 10; policy accept; }']);
  pair.a.exec('nft', ['add', 'rule', 'inet', 'hostfw', 'out', 'tcp dport 9999 counter accept']);
  const before = ruleset(pair.a);
  const file = ws.file('p.json', experimentYaml([[{ kind: 'linux-network-partition', name: 'cut', duration: '30s', params: { destinationIPs: `${pair.addressB}|7001` } }]]));
  const child = startCli(['--log-format', 'json', 'run', file], ws.stateDir, pair.a.name);
  t.teardown(() => child.kill('SIGKILL'));
  await waitForLine(child, /fault applied/);
  t.regex(pair.a.exec('nft', ['list', 'table', 'inet', 'faultd']), /tcp dport 7001 drop/, 'nft itself sees the rules');
  t.is(await tryConnect(pair.a, pair.addressB, 7001), 'timeout', 'targeted port is cut');
  t.is(await tryConnect(pair.a, pair.addressB, 7002), 'ok', 'another port of the same host still connects');
  child.kill('SIGINT');
  t.is((await finish(child)).code, 3);
  t.is(await tryConnect(pair.a, pair.addressB, 7001), 'ok', 'reverted');
  t.deepEqual(ruleset(pair.a), before);
});

test('a full partition of a peer keeps this host\'s SSH reachable from it', async (t) => {
  const pair = testNetnsPair(t);
  const ws = workspace();
  t.teardown(() => ws.remove());
  await startTcpServers(t, pair.a, [22, 7005]);
  const file = ws.file('p.json', experimentYaml([[{ kind: 'linux-network-partition', duration: '30s', params: { destinationIPs: pair.addressB } }]]));
  const child = startCli(['--log-format', 'json', 'run', file], ws.stateDir, pair.a.name);
  t.teardown(() => child.kill('SIGKILL'));
  await waitForLine(child, /fault applied/);
  t.is(await tryConnect(pair.b, pair.addressA, 22), 'ok', 'SSH stays reachable');
  t.is(await tryConnect(pair.b, pair.addressA, 7005), 'timeout', 'everything else from the peer is cut');
  child.kill('SIGINT');
  await finish(child);
  t.is(await tryConnect(pair.b, pair.addressA, 7005), 'ok');
});

test('excludeIPs stay reachable inside a partitioned CIDR', async (t) => {
  const pair = testNetnsPair(t);
  const ws = workspace();
  t.teardown(() => ws.remove());
  await startTcpServers(t, pair.b, [7003]);
  const subnet = pair.addressB.replace(/\.\d+$/, '.0/24');
  const cut = ws.file('cut.json', experimentYaml([[{ kind: 'linux-network-partition', duration: '30s', params: { destinationIPs: subnet, direction: 'egress' } }]]));
  const child = startCli(['--log-format', 'json', 'run', cut], ws.stateDir, pair.a.name);
  await waitForLine(child, /fault applied/);
  t.is(await tryConnect(pair.a, pair.addressB, 7003), 'timeout');
  child.kill('SIGINT');
  await finish(child);
  // A second address in the same /24 that is not excluded.
  const other = pair.addressB.replace(/\.\d+$/, '.3');
  pair.b.exec('ip', ['addr', 'add', `${other}/24`, 'dev', 'vb']);
  const kept = ws.file('kept.json', experimentYaml([[{ kind: 'linux-network-partition', duration: '30s', params: { destinationIPs: subnet, excludeIPs: pair.addressB, direction: 'egress' } }]]));
  const child2 = startCli(['--log-format', 'json', 'run', kept], ws.stateDir, pair.a.name);
  t.teardown(() => child2.kill('SIGKILL'));
  await waitForLine(child2, /fault applied/);
  t.is(await tryConnect(pair.a, pair.addressB, 7003), 'ok', 'the excluded address is reachable');
  t.is(await tryConnect(pair.a, other, 7003), 'timeout', 'the rest of the CIDR is cut');
  child2.kill('SIGINT');
  await finish(child2);
});

test('kill -9 mid-partition, then revert --remnants leaves no faultd table', async (t) => {
  const pair = testNetnsPair(t);
  const ws = workspace();
  t.teardown(() => ws.remove());
  const before = ruleset(pair.a);
  const file = ws.file('p.json', experimentYaml([[{ kind: 'linux-network-partition', duration: '60s', params: { destinationPorts: '7004' } }]]));
  const child = startCli(['--log-format', 'json', 'run', file], ws.stateDir, pair.a.name);
  await waitForLine(child, /fault applied/);
  child.kill('SIGKILL');
  await finish(child);
  t.regex(pair.a.exec('nft', ['list', 'tables']), /inet faultd/);
  const revert = await runCli(['revert', '--remnants'], ws.stateDir, pair.a.name);
  t.is(revert.code, 0, revert.stdout + revert.stderr);
  t.deepEqual(ruleset(pair.a), before);
  t.notRegex(pair.a.exec('nft', ['list', 'tables']), /faultd/);
});

test('bad partition input is refused by name', async (t) => {
  const pair = testNetnsPair(t);
  const ws = workspace();
  t.teardown(() => ws.remove());
  const cases: [Record<string, unknown>, RegExp][] = [
    [{}, /params\.destinationIPs: a partition needs a target/],
    [{ destinationIPs: '10.0.0.300' }, /params\.destinationIPs: "10\.0\.0\.300" is not an IPv4\/IPv6 address or CIDR/],
    [{ destinationIPs: '10.0.0.0/33' }, /prefix outside 1–32/],
    [{ destinationPorts: '70000' }, /params\.destinationPorts: port "70000" is not in 1–65535/],
    [{ destinationPorts: '80', protocol: 'icmp' }, /params\.protocol: icmp has no ports/],
    [{ destinationIPs: '10.0.0.1', direction: 'sideways' }, /params\.direction: must be one of both, egress, ingress/],
  ];
  for (const [params, message] of cases) {
    const file = ws.file('bad.json', experimentYaml([[{ kind: 'linux-network-partition', params }]]));
    const result = await runCli(['validate', file], ws.stateDir, pair.a.name);
    t.is(result.code, 2, JSON.stringify(params));
    t.regex(result.stderr, message);
  }
});

test('without netem, 30 % loss through nf_tables drops 30 ± 5 % of 2000 packets and reverts exactly', async (t) => {
  if (hostFeatureProbe().qdisc('netem').supported) {
    t.log('skipped: this kernel has sch_netem, so loss uses netem, not nf_tables');
    t.pass();
    return;
  }
  const pair = testNetnsPair(t);
  const ws = workspace();
  t.teardown(() => ws.remove());
  const before = ruleset(pair.b);
  // Loss on B's egress; B sends, A counts (a peer namespace, so nothing local retries).
  const file = ws.file('loss.json', experimentYaml([[{ kind: 'linux-network-loss', duration: '60s', params: { networkInterfaces: 'vb', packetLossPercentage: 30 } }]]));
  const dry = await runCli(['run', '--dry-run', file], ws.stateDir, pair.b.name);
  t.regex(dry.stdout, /nf_tables, no sch_netem here/);
  t.regex(dry.stdout, /drop if vb 30% at random/);
  const child = startCli(['--log-format', 'json', 'run', file], ws.stateDir, pair.b.name);
  t.teardown(() => child.kill('SIGKILL'));
  await waitForLine(child, /fault applied/);
  const lossPct = await udpLossPct(t, pair, { port: 7100, count: 2000, fromB: true, askedPct: 30 });
  t.true(Math.abs(lossPct - 30) <= 5, `lost ${lossPct} %`);
  child.kill('SIGINT');
  t.is((await finish(child)).code, 3);
  t.deepEqual(ruleset(pair.b), before);
  t.is(await udpDelivered(pair, { port: 7101, count: 200, fromB: true }), 200, 'no loss after revert');
});

test('loss correlation without netem is refused by name', async (t) => {
  if (hostFeatureProbe().qdisc('netem').supported) {
    t.pass();
    return;
  }
  const pair = testNetnsPair(t);
  const ws = workspace();
  t.teardown(() => ws.remove());
  const file = ws.file('c.json', experimentYaml([[{ kind: 'linux-network-loss', params: { networkInterfaces: 'va', packetLossPercentage: 10, correlation: 25 } }]]));
  const result = await runCli(['validate', file], ws.stateDir, pair.a.name);
  t.is(result.code, 2);
  t.regex(result.stderr, /params\.correlation: needs sch_netem, which this kernel lacks \(RTM_NEWQDISC ENOENT: Specified qdisc kind is unknown\); the nf_tables loss used instead has no correlation/);
});

test('reverting one partition never removes another fault\'s chains from the shared table', async (t) => {
  const pair = testNetnsPair(t);
  const ws = workspace();
  t.teardown(() => ws.remove());
  await startTcpServers(t, pair.b, [7011]);
  const file = ws.file('two.json', experimentYaml([[
    { kind: 'linux-network-partition', name: 'short', duration: '1s', params: { destinationPorts: '7010' } },
    { kind: 'linux-network-partition', name: 'long', duration: '30s', params: { destinationPorts: '7011' } },
  ]]));
  const child = startCli(['--log-format', 'json', 'run', file], ws.stateDir, pair.a.name);
  t.teardown(() => child.kill('SIGKILL'));
  await waitForLine(child, /"faultId":"short".*"msg":"fault reverted"/, 10_000);
  const chains = pair.a.exec('nft', ['list', 'chains', 'inet']);
  t.regex(chains, /-long-out/, 'the long fault keeps its chains');
  t.notRegex(chains, /-short-out/);
  t.is(await tryConnect(pair.a, pair.addressB, 7011), 'timeout', 'and its effect');
  child.kill('SIGINT');
  t.is((await finish(child)).code, 3);
  t.notRegex(pair.a.exec('nft', ['list', 'tables']), /faultd/, 'the table goes with the last chain');
});

test('an empty faultd table left behind (its chain deleted by hand) goes with the next revert', async (t) => {
  const pair = testNetnsPair(t);
  const ws = workspace();
  t.teardown(() => ws.remove());
  const file = ws.file('p.json', experimentYaml([[{ kind: 'linux-network-partition', duration: '60s', params: { destinationPorts: '7020' } }]]));
  const child = startCli(['--log-format', 'json', 'run', file], ws.stateDir, pair.a.name);
  await waitForLine(child, /fault applied/);
  child.kill('SIGKILL');
  await finish(child);
  // An operator follows only half of a manual fix: the chain goes, the table stays.
  const chain = /chain (\S+-out)/.exec(pair.a.exec('nft', ['list', 'table', 'inet', 'faultd']))?.[1] ?? '';
  pair.a.exec('nft', ['delete', 'chain', 'inet', 'faultd', chain]);
  const revert = await runCli(['revert', '--remnants'], ws.stateDir, pair.a.name);
  t.is(revert.code, 0, revert.stdout + revert.stderr);
  t.notRegex(pair.a.exec('nft', ['list', 'tables']), /faultd/);
});
