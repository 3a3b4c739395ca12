// SPDX-License-Identifier: Apache-2.0
// linux-dns-spoof end to end in namespaces with a real dnsmasq as the upstream and dig as the
// client: spoofed names answer the mapped address (A; NODATA for a family the map has not),
// a name mapped to a name answers that name's address, other names resolve as directly, over
// UDP and TCP; revert leaves the exact nft ruleset and no interceptor; bad input exits 2.
import { experimentYaml, finish, runCli, startCli, waitForLine, workspace } from '../helpers/cli.js';
import { dig, startDnsmasq } from '../helpers/dns.js';
import { testNetnsPair, type TestNetns } from '../helpers/netns.js';
import { privilegedTest as test } from '../helpers/privileged.js';

const RECORDS = { 'ok.test': '10.0.0.1', 'real.test': '10.0.0.2', 'v6.test': 'fd00::9' };

function ruleset(ns: TestNetns): unknown {
  const text = ns.exec('nft', ['-j', 'list', 'ruleset']).trim();
  if (text === '') return [];
  return (JSON.parse(text) as { nftables: Record<string, unknown>[] }).nftables.filter((entry) => !('metainfo' in entry));
}

test('spoofed names answer the mapped addresses over UDP and TCP; the rest as directly; exact revert', async (t) => {
  const pair = testNetnsPair(t);
  const ws = workspace();
  t.teardown(() => ws.remove());
  await startDnsmasq(t, pair.b, pair.addressB, RECORDS);
  const server = `@${pair.addressB}`;
  const before = ruleset(pair.a);
  const direct = dig(pair.a, [server, 'ok.test']).answers;
  const spoofMap = JSON.stringify({ 'real.test': '10.66.0.7', 'alias.test': 'ok.test', 'v6only.test': 'fd00::66' });
  const file = ws.file('spoof.json', experimentYaml([[{ kind: 'linux-dns-spoof', duration: '60s', params: { SPOOF_MAP: spoofMap, UPSTREAM_SERVER: pair.addressB } }]]));
  const dry = await runCli(['run', '--dry-run', file], ws.stateDir, pair.a.name);
  t.regex(dry.stdout, /"alias\.test" → ok\.test \(10\.0\.0\.1\)/, 'a name target is resolved through the upstream at plan time');
  const child = startCli(['--log-format', 'json', 'run', file], ws.stateDir, pair.a.name);
  t.teardown(() => child.kill('SIGKILL'));
  await waitForLine(child, /fault applied/);
  for (const transport of ['+notcp', '+tcp']) {
    t.deepEqual(dig(pair.a, [server, transport, 'real.test']).answers, ['real.test. IN A 10.66.0.7'], `${transport} spoofed`);
    t.deepEqual(dig(pair.a, [server, transport, 'alias.test']).answers, ['alias.test. IN A 10.0.0.1'], `${transport} mapped to a name`);
    const v6 = dig(pair.a, [server, transport, 'AAAA', 'v6only.test']);
    t.deepEqual(v6.answers, ['v6only.test. IN AAAA fd00::66']);
    const nodata = dig(pair.a, [server, transport, 'AAAA', 'real.test']);
    t.is(nodata.status, 'NOERROR');
    t.deepEqual(nodata.answers, [], 'no real AAAA leaks for a spoofed name');
    t.deepEqual(dig(pair.a, [server, transport, 'ok.test']).answers, direct, `${transport} other names as directly`);
  }
  child.kill('SIGINT');
  t.is((await finish(child)).code, 3);
  t.deepEqual(ruleset(pair.a), before);
  t.deepEqual(dig(pair.a, [server, 'real.test']).answers, ['real.test. IN A 10.0.0.2'], 'the real answer after revert');
});

test('bad linux-dns-spoof input exits 2 naming the field, and changes nothing', async (t) => {
  const pair = testNetnsPair(t);
  const ws = workspace();
  t.teardown(() => ws.remove());
  await startDnsmasq(t, pair.b, pair.addressB, RECORDS);
  const before = ruleset(pair.a);
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ upstreamServer: '10.0.0.53' }, /params\.spoofMap: must be a map of host names/],
    [{ spoofMap: '{"a.test": 5}', upstreamServer: '10.0.0.53' }, /params\.spoofMap: "a\.test": 5 is neither an IPv4\/IPv6 address nor a host name/],
    [{ spoofMap: '{"a.test": "10.0.0.1"}', upstreamServer: 'not-an-ip!' }, /params\.upstreamServer: must be the IPv4 or IPv6 address/],
  ];
  for (const [params, message] of cases) {
    const file = ws.file('bad.json', experimentYaml([[{ kind: 'linux-dns-spoof', duration: '10s', params }]]));
    const result = await runCli(['run', file], ws.stateDir, pair.a.name);
    t.is(result.code, 2, JSON.stringify(params));
    t.regex(result.stderr, message);
  }
  // A name target is resolved at plan time: one that does not resolve fails the fault there
  // (the run fails, exit 1), before anything changes.
  const unresolved = ws.file('nx.json', experimentYaml([[{ kind: 'linux-dns-spoof', duration: '10s', params: { spoofMap: '{"a.test": "nosuch.invalid"}', upstreamServer: pair.addressB } }]]));
  const result = await runCli(['run', unresolved], ws.stateDir, pair.a.name);
  t.is(result.code, 1);
  t.regex(result.stdout + result.stderr, /spoofMap: "nosuch\.invalid" has no A or AAAA record at [\d.]+:53 .*: give an address instead\); nothing to revert/);
  t.deepEqual(ruleset(pair.a), before);
});
