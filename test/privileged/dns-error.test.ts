// SPDX-License-Identifier: Apache-2.0
// linux-dns-error end to end, each test in namespaces it creates with a real dnsmasq as the
// upstream and dig as the client: the targeted name fails with the asked rcode (or gets no
// answer) over UDP and TCP while other names resolve through the interceptor exactly as they do
// directly; revert leaves the exact nft ruleset of before and no interceptor; after kill -9 the
// interceptor dies with faultd and `revert --remnants` removes the chain; bad input exits 2.
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';

import { experimentYaml, finish, runCli, startCli, waitForLine, workspace } from '../helpers/cli.js';
import { dig, netnsResolvConf, startDnsmasq } from '../helpers/dns.js';
import { systemTool, testNetnsPair, type TestNetns } from '../helpers/netns.js';
import { privilegedTest as test } from '../helpers/privileged.js';

const RECORDS = { 'ok.test': '10.0.0.1', 'gone.test': '10.0.0.2', 'v6.test': 'fd00::9' };

function ruleset(ns: TestNetns): unknown {
  const text = ns.exec('nft', ['-j', 'list', 'ruleset']).trim();
  if (text === '') return [];
  return (JSON.parse(text) as { nftables: Record<string, unknown>[] }).nftables.filter((entry) => !('metainfo' in entry));
}

/** Pids of DNS interceptors that intercept or forward to `upstream` (each test has its own subnet). */
function interceptors(upstream: string): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const argv = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0');
      if (argv[0]?.endsWith('faultd-stressor') && argv[1] === 'dns' && (argv.includes(`--upstream=${upstream}`) || argv.includes(`--server=${upstream}`))) pids.push(Number(name));
    } catch {
      // exited
    }
  }
  return pids;
}

async function gone(pids: readonly number[], timeoutMs = 2000): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (pids.every((pid) => !readdirSync('/proc').includes(String(pid)))) return true;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return false;
}

test('NXDOMAIN for the targeted name over UDP and TCP, other names unchanged, exact revert', async (t) => {
  const pair = testNetnsPair(t);
  const ws = workspace();
  t.teardown(() => ws.remove());
  await startDnsmasq(t, pair.b, pair.addressB, RECORDS);
  const server = `@${pair.addressB}`;
  const before = ruleset(pair.a);
  const direct = { a: dig(pair.a, [server, 'ok.test']).answers, aaaa: dig(pair.a, [server, 'AAAA', 'v6.test']).answers };
  t.deepEqual(dig(pair.a, [server, 'gone.test']).answers, ['gone.test. IN A 10.0.0.2'], 'resolves before the fault');
  const file = ws.file('dns.json', experimentYaml([[{ kind: 'linux-dns-error', duration: '60s', params: { HOST_NAMES: 'gone.test', UPSTREAM_SERVER: pair.addressB } }]]));
  const dry = await runCli(['run', '--dry-run', file], ws.stateDir, pair.a.name);
  t.regex(dry.stdout, /type nat hook output priority -100/);
  t.regex(dry.stdout, /queries for "gone\.test" get NXDOMAIN/);
  const child = startCli(['--log-format', 'json', 'run', file], ws.stateDir, pair.a.name);
  t.teardown(() => child.kill('SIGKILL'));
  await waitForLine(child, /fault applied/);
  const pids = interceptors(pair.addressB);
  t.is(pids.length, 1, 'one interceptor runs');
  t.regex(pair.a.exec('nft', ['list', 'table', 'inet', 'faultd']), /type nat hook output priority (?:-100|dstnat); policy accept;\s+meta mark 0x0fa17d53 accept\s+ip daddr [\d.]+ udp dport 53 redirect to :\d+\s+ip daddr [\d.]+ tcp dport 53 redirect to :\d+/);
  for (const transport of ['+notcp', '+tcp']) {
    const hit = dig(pair.a, [server, transport, 'gone.test']);
    t.is(hit.status, 'NXDOMAIN', `${transport} gone.test`);
    t.true(hit.edns, 'EDNS kept');
    t.deepEqual(dig(pair.a, [server, transport, 'ok.test']).answers, direct.a, `${transport} ok.test as direct`);
    t.deepEqual(dig(pair.a, [server, transport, 'AAAA', 'v6.test']).answers, direct.aaaa, `${transport} AAAA as direct`);
    t.is(dig(pair.a, [server, transport, 'www.gone.test']).status, 'NOERROR', 'exact match: a sub-name is not targeted');
  }
  child.kill('SIGINT');
  t.is((await finish(child)).code, 3);
  t.true(await gone(pids), 'the interceptor is gone');
  t.deepEqual(ruleset(pair.a), before, 'the exact nft ruleset of before');
  t.deepEqual(dig(pair.a, [server, 'gone.test']).answers, ['gone.test. IN A 10.0.0.2'], 'resolves after revert');
});

for (const [errorType, expected] of [['servfail', 'SERVFAIL'], ['refused', 'REFUSED'], ['timeout', 'timeout']] as const) {
  test(`errorType ${errorType} with matchScheme substring`, async (t) => {
    const pair = testNetnsPair(t);
    const ws = workspace();
    t.teardown(() => ws.remove());
    await startDnsmasq(t, pair.b, pair.addressB, RECORDS);
    const file = ws.file('dns.json', experimentYaml([[{ kind: 'linux-dns-error', duration: '60s', params: { hostNames: 'gone', matchScheme: 'substring', upstreamServer: pair.addressB, errorType } }]]));
    const child = startCli(['--log-format', 'json', 'run', file], ws.stateDir, pair.a.name);
    t.teardown(() => child.kill('SIGKILL'));
    await waitForLine(child, /fault applied/);
    t.is(dig(pair.a, [`@${pair.addressB}`, 'gone.test']).status, expected);
    t.is(dig(pair.a, [`@${pair.addressB}`, '+tcp', 'gone.test']).status, expected);
    t.is(dig(pair.a, [`@${pair.addressB}`, 'ok.test']).status, 'NOERROR');
    child.kill('SIGINT');
    await finish(child);
    t.is(dig(pair.a, [`@${pair.addressB}`, 'gone.test']).status, 'NOERROR');
  });
}

test('kill -9 of faultd: the interceptor dies with it, revert --remnants removes the chain', async (t) => {
  const pair = testNetnsPair(t);
  const ws = workspace();
  t.teardown(() => ws.remove());
  await startDnsmasq(t, pair.b, pair.addressB, RECORDS);
  const before = ruleset(pair.a);
  const file = ws.file('dns.json', experimentYaml([[{ kind: 'linux-dns-error', duration: '60s', params: { upstreamServer: pair.addressB } }]]));
  const child = startCli(['--log-format', 'json', 'run', file], ws.stateDir, pair.a.name);
  await waitForLine(child, /fault applied/);
  const pids = interceptors(pair.addressB);
  t.is(pids.length, 1);
  t.is(dig(pair.a, [`@${pair.addressB}`, 'ok.test']).status, 'NXDOMAIN', 'every name fails (hostNames empty)');
  child.kill('SIGKILL');
  await finish(child);
  t.true(await gone(pids), 'the interceptor died with faultd (PR_SET_PDEATHSIG)');
  t.regex(pair.a.exec('nft', ['list', 'tables']), /inet faultd/, 'the chain is left until the remnant revert');
  const revert = await runCli(['revert', '--remnants'], ws.stateDir, pair.a.name);
  t.is(revert.code, 0, revert.stdout + revert.stderr);
  t.deepEqual(ruleset(pair.a), before);
  t.is(dig(pair.a, [`@${pair.addressB}`, 'ok.test']).status, 'NOERROR');
});

test('bad linux-dns-error input exits 2 naming the field and range, and changes nothing', async (t) => {
  const pair = testNetnsPair(t);
  const ws = workspace();
  t.teardown(() => ws.remove());
  const before = ruleset(pair.a);
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ hostNames: 'bad name!', upstreamServer: '10.0.0.53' }, /params\.hostNames: "bad name!" is not a host name/],
    [{ percentage: 101, upstreamServer: '10.0.0.53' }, /params\.percentage: must be in 0–100/],
    [{ upstreamServer: 'dns.example.com' }, /params\.upstreamServer: must be the IPv4 or IPv6 address of a DNS server/],
    [{ upstreamServer: '10.0.0.53', dnsPort: 70000 }, /params\.dnsPort: must be in 1–65535/],
    [{ upstreamServer: '10.0.0.53', errorType: 'lost' }, /params\.errorType: must be one of nxdomain, servfail, refused, timeout/],
    [{ upstreamServer: '10.0.0.53', matchScheme: 'regex' }, /params\.matchScheme: must be one of exact, substring/],
  ];
  for (const [params, message] of cases) {
    const file = ws.file('bad.json', experimentYaml([[{ kind: 'linux-dns-error', duration: '10s', params }]]));
    const result = await runCli(['run', file], ws.stateDir, pair.a.name);
    t.is(result.code, 2, JSON.stringify(params));
    t.regex(result.stderr, message);
  }
  t.deepEqual(ruleset(pair.a), before);
  t.deepEqual(interceptors('10.0.0.53'), []);
});

test('an interceptor killed mid-fault ends the fault, which is reverted: DNS works again', async (t) => {
  const pair = testNetnsPair(t);
  const ws = workspace();
  t.teardown(() => ws.remove());
  await startDnsmasq(t, pair.b, pair.addressB, RECORDS);
  const before = ruleset(pair.a);
  const file = ws.file('dns.json', experimentYaml([[{ kind: 'linux-dns-error', duration: '60s', params: { hostNames: 'gone.test', upstreamServer: pair.addressB } }]]));
  const child = startCli(['--log-format', 'json', 'run', file], ws.stateDir, pair.a.name);
  t.teardown(() => child.kill('SIGKILL'));
  await waitForLine(child, /fault applied/);
  const pids = interceptors(pair.addressB);
  t.is(pids.length, 1, 'one interceptor runs');
  const [pid] = pids;
  // Never signal pid 0 (the whole process group, ava included) when none was found.
  if (pid === undefined || pid <= 0) return;
  process.kill(pid, 'SIGKILL');
  const result = await finish(child);
  t.not(result.code, 0, 'the run is not a success');
  t.regex(result.stdout + result.stderr, /DNS interceptor exited/);
  t.deepEqual(ruleset(pair.a), before);
  t.is(dig(pair.a, [`@${pair.addressB}`, 'ok.test']).status, 'NOERROR');
});

test('percentage 50 fails about half of 200 matching queries', async (t) => {
  const pair = testNetnsPair(t);
  const ws = workspace();
  t.teardown(() => ws.remove());
  await startDnsmasq(t, pair.b, pair.addressB, RECORDS);
  const file = ws.file('dns.json', experimentYaml([[{ kind: 'linux-dns-error', duration: '60s', params: { hostNames: 'gone.test', upstreamServer: pair.addressB, percentage: 50 } }]]));
  const child = startCli(['--log-format', 'json', 'run', file], ws.stateDir, pair.a.name);
  t.teardown(() => child.kill('SIGKILL'));
  await waitForLine(child, /fault applied/);
  // One dig process, 200 queries (a batch file), each answer's status counted.
  const batch = ws.file('batch.txt', Array.from({ length: 200 }, () => 'gone.test').join('\n'));
  const out = pair.a.exec('dig', [`@${pair.addressB}`, '+time=1', '+tries=1', '-f', batch]);
  const failed = (out.match(/status: NXDOMAIN/g) ?? []).length;
  const passed = (out.match(/status: NOERROR/g) ?? []).length;
  t.log(`${failed} of ${failed + passed} queries failed for 50 % asked`);
  t.is(failed + passed, 200);
  t.true(failed >= 70 && failed <= 130, `${failed} failed`);
  child.kill('SIGINT');
  await finish(child);
});

test('a local stub (dnsmasq on 127.0.0.53, as systemd-resolved listens) and an IPv6 upstream work the same', async (t) => {
  const pair = testNetnsPair(t);
  const ws = workspace();
  t.teardown(() => ws.remove());
  pair.a.exec('ip', ['addr', 'add', '127.0.0.53/8', 'dev', 'lo']);
  await startDnsmasq(t, pair.a, '127.0.0.53', RECORDS);
  pair.b.exec('ip', ['addr', 'add', 'fd77::2/64', 'dev', 'vb', 'nodad']);
  pair.a.exec('ip', ['addr', 'add', 'fd77::1/64', 'dev', 'va', 'nodad']);
  await startDnsmasq(t, pair.b, 'fd77::2', RECORDS);
  const before = ruleset(pair.a);
  for (const upstream of ['127.0.0.53', 'fd77::2']) {
    const file = ws.file('dns.json', experimentYaml([[{ kind: 'linux-dns-error', duration: '60s', params: { hostNames: 'gone.test', upstreamServer: upstream } }]]));
    const child = startCli(['--log-format', 'json', 'run', file], ws.stateDir, pair.a.name);
    t.teardown(() => child.kill('SIGKILL'));
    await waitForLine(child, /fault applied/);
    for (const transport of ['+notcp', '+tcp']) {
      t.is(dig(pair.a, [`@${upstream}`, transport, 'gone.test']).status, 'NXDOMAIN', `${upstream} ${transport}`);
      t.deepEqual(dig(pair.a, [`@${upstream}`, transport, 'ok.test']).answers, ['ok.test. IN A 10.0.0.1'], `${upstream} ${transport}`);
      t.deepEqual(dig(pair.a, [`@${upstream}`, transport, 'AAAA', 'v6.test']).answers, ['v6.test. IN AAAA fd00::9'], `${upstream} ${transport}`);
    }
    child.kill('SIGINT');
    t.is((await finish(child)).code, 3);
    t.deepEqual(ruleset(pair.a), before);
    t.is(dig(pair.a, [`@${upstream}`, 'gone.test']).status, 'NOERROR');
  }
});

// One UDP socket for the whole test, as a resolver library keeps: a query during the fault, then
// (after a line on stdin) queries right after the revert. Prints the rcodes or the error.
const ONE_SOCKET_CLIENT = `
import socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(1.0)
def q(name, i):
    labels = b''.join(bytes([len(l)]) + l.encode() for l in name.split('.')) + b'\\0'
    s.sendto(struct.pack('>HHHHHH', i, 0x0100, 1, 0, 0, 0) + labels + b'\\0\\x01\\0\\x01', (sys.argv[1], 53))
    try:
        return 'rcode=%d' % (s.recv(512)[3] & 15)
    except Exception as e:
        return 'error: %s' % e
print('during', q('gone.test', 1), flush=True)
sys.stdin.readline()
print('after', q('gone.test', 2), q('ok.test', 3), flush=True)
`;

test('a client that keeps one UDP socket gets real answers right after the revert, also next to another nat chain', async (t) => {
  const pair = testNetnsPair(t);
  const ws = workspace();
  t.teardown(() => ws.remove());
  await startDnsmasq(t, pair.b, pair.addressB, RECORDS);
  // A nat chain of the host's own (docker, a firewall): NAT state is not torn down with faultd's chain.
  pair.a.exec('nft', ['add', 'table', 'ip', 'hostnat']);
  pair.a.exec('nft', ['add', 'chain', 'ip', 'hostnat', 'out', '{ type nat hook output priority 0; policy accept; }']);
  const file = ws.file('dns.json', experimentYaml([[{ kind: 'linux-dns-error', duration: '60s', params: { hostNames: 'gone.test', upstreamServer: pair.addressB } }]]));
  const child = startCli(['--log-format', 'json', 'run', file], ws.stateDir, pair.a.name);
  t.teardown(() => child.kill('SIGKILL'));
  await waitForLine(child, /fault applied/);
  const client = spawn(systemTool('ip'), ['netns', 'exec', pair.a.name, 'python3', '-c', ONE_SOCKET_CLIENT, pair.addressB], { stdio: ['pipe', 'pipe', 'inherit'] });
  t.teardown(() => client.kill('SIGKILL'));
  const lines = createInterface({ input: client.stdout })[Symbol.asyncIterator]();
  t.is((await lines.next()).value, 'during rcode=3');
  child.kill('SIGINT');
  t.is((await finish(child)).code, 3);
  client.stdin.write('\n');
  t.is((await lines.next()).value, 'after rcode=0 rcode=0', 'the same socket is answered by the upstream at once');
});

test('every resolv.conf nameserver is intercepted and unmatched queries go on to their own server; with upstreamServer they all go there (Harness meaning)', async (t) => {
  const pair = testNetnsPair(t);
  const ws = workspace();
  t.teardown(() => ws.remove());
  const [ns1, ns2, upstream] = [2, 3, 4].map((host) => pair.addressB.replace(/\.2$/, `.${host}`)) as [string, string, string];
  for (const address of [ns2, upstream]) pair.b.exec('ip', ['addr', 'add', `${address}/24`, 'dev', 'vb']);
  // Each server tells who answered: who.test is its own address's last byte.
  for (const address of [ns1, ns2, upstream]) await startDnsmasq(t, pair.b, address, { 'who.test': `10.0.1.${address.split('.')[3] ?? ''}`, 'gone.test': '10.0.0.2' });
  netnsResolvConf(t, pair.a, [ns1, ns2]);
  const before = ruleset(pair.a);
  const who = (server: string, transport: string): string[] => dig(pair.a, [`@${server}`, transport, 'who.test']).answers;
  for (const [params, label] of [[{ hostNames: 'gone.test' }, 'no upstreamServer'], [{ hostNames: 'gone.test', upstreamServer: upstream }, 'upstreamServer']] as const) {
    const file = ws.file('dns.json', experimentYaml([[{ kind: 'linux-dns-error', duration: '60s', params }]]));
    const child = startCli(['--log-format', 'json', 'run', file], ws.stateDir, pair.a.name);
    t.teardown(() => child.kill('SIGKILL'));
    await waitForLine(child, /fault applied/);
    for (const transport of ['+notcp', '+tcp']) {
      for (const server of [ns1, ns2]) t.is(dig(pair.a, [`@${server}`, transport, 'gone.test']).status, 'NXDOMAIN', `${label}: ${server} ${transport} intercepted`);
      if (label === 'no upstreamServer') {
        t.deepEqual(who(ns1, transport), [`who.test. IN A 10.0.1.${ns1.split('.')[3] ?? ''}`], `${transport}: forwarded to the server it was sent to`);
        t.deepEqual(who(ns2, transport), [`who.test. IN A 10.0.1.${ns2.split('.')[3] ?? ''}`], `${transport}: forwarded to the server it was sent to`);
      } else {
        for (const server of [ns1, ns2, upstream]) t.deepEqual(who(server, transport), ['who.test. IN A 10.0.1.4'], `${transport}: ${server}'s query answered by upstreamServer`);
        t.is(dig(pair.a, [`@${upstream}`, transport, 'gone.test']).status, 'NXDOMAIN', 'a query to upstreamServer itself is intercepted too');
      }
    }
    child.kill('SIGINT');
    t.is((await finish(child)).code, 3);
    t.deepEqual(ruleset(pair.a), before);
    t.deepEqual(who(ns2, '+notcp'), ['who.test. IN A 10.0.1.3'], 'after revert: the server itself');
  }
});

// One UDP socket across the apply and the revert: a query before the fault, one during, one after.
const KEPT_SOCKET_CLIENT = `
import socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(1.0)
def q(name, i):
    labels = b''.join(bytes([len(l)]) + l.encode() for l in name.split('.')) + b'\\0'
    s.sendto(struct.pack('>HHHHHH', i, 0x0100, 1, 0, 0, 0) + labels + b'\\0\\x01\\0\\x01', (sys.argv[1], 53))
    try:
        return 'rcode=%d' % (s.recv(512)[3] & 15)
    except Exception as e:
        return 'error: %s' % e
for phase in ('before', 'during', 'after'):
    print(phase, q('gone.test', 1), flush=True)
    sys.stdin.readline()
`;

test('a UDP socket kept across the apply (its conntrack entry already there) is redirected by its next query', async (t) => {
  const pair = testNetnsPair(t);
  const ws = workspace();
  t.teardown(() => ws.remove());
  await startDnsmasq(t, pair.b, pair.addressB, RECORDS);
  // A host firewall that tracks connections: the socket's flow has a conntrack entry before the fault.
  pair.a.exec('nft', ['add', 'table', 'ip', 'hostfw']);
  pair.a.exec('nft', ['add', 'chain', 'ip', 'hostfw', 'out', '{ type filter hook output priority 0; policy accept; }']);
  pair.a.exec('nft', ['add', 'rule', 'ip', 'hostfw', 'out', 'ct', 'state', 'new', 'counter']);
  netnsResolvConf(t, pair.a, [pair.addressB]);
  const client = spawn(systemTool('ip'), ['netns', 'exec', pair.a.name, 'python3', '-c', KEPT_SOCKET_CLIENT, pair.addressB], { stdio: ['pipe', 'pipe', 'inherit'] });
  t.teardown(() => client.kill('SIGKILL'));
  const lines = createInterface({ input: client.stdout })[Symbol.asyncIterator]();
  t.is((await lines.next()).value, 'before rcode=0');
  t.regex(pair.a.exec('conntrack', ['-L', '-p', 'udp', '--orig-dst', pair.addressB, '--dport', '53']), /dport=53/, 'the flow has its entry');
  const file = ws.file('dns.json', experimentYaml([[{ kind: 'linux-dns-error', duration: '60s', params: { hostNames: 'gone.test' } }]]));
  const dry = await runCli(['run', '--dry-run', file], ws.stateDir, pair.a.name);
  t.regex(dry.stdout, /conntrack: delete the entries of UDP flows to [\d.]+:53 that exist/);
  const child = startCli(['--log-format', 'json', 'run', file], ws.stateDir, pair.a.name);
  t.teardown(() => child.kill('SIGKILL'));
  await waitForLine(child, /fault applied/);
  client.stdin.write('\n');
  t.is((await lines.next()).value, 'during rcode=3', 'the same socket is intercepted at once');
  child.kill('SIGINT');
  t.is((await finish(child)).code, 3);
  client.stdin.write('\n');
  t.is((await lines.next()).value, 'after rcode=0', 'and answered by the server right after the revert');
});

test('a local stub (dnsmasq on 127.0.0.53 as nobody) forwarding to an intercepted nameserver: percentage 50 fails about half of the queries, not three quarters', async (t) => {
  const pair = testNetnsPair(t);
  const ws = workspace();
  t.teardown(() => ws.remove());
  await startDnsmasq(t, pair.b, pair.addressB, RECORDS);
  pair.a.exec('ip', ['addr', 'add', '127.0.0.53/8', 'dev', 'lo']);
  // Run as nobody from the start, as systemd-resolved runs as its user (port 53 allowed to users in this namespace).
  pair.a.exec('sysctl', ['-qw', 'net.ipv4.ip_unprivileged_port_start=0']);
  const asNobody = [systemTool('setpriv'), '--reuid=nobody', '--regid=nogroup', '--clear-groups'];
  await startDnsmasq(t, pair.a, '127.0.0.53', { 'stub.test': '10.0.0.7' }, [`--server=${pair.addressB}`, '--cache-size=0'], asNobody);
  // As on a systemd-resolved host: the stub, and its upstream, both nameservers of the host.
  netnsResolvConf(t, pair.a, ['127.0.0.53', pair.addressB]);
  const file = ws.file('dns.json', experimentYaml([[{ kind: 'linux-dns-error', duration: '60s', params: { hostNames: 'gone.test', percentage: 50 } }]]));
  const dry = await runCli(['run', '--dry-run', file], ws.stateDir, pair.a.name);
  t.regex(dry.stdout, /accept meta skuid \d+ \(a local DNS server on 127\.0\.0\.53:53/);
  const child = startCli(['--log-format', 'json', 'run', file], ws.stateDir, pair.a.name);
  t.teardown(() => child.kill('SIGKILL'));
  await waitForLine(child, /fault applied/);
  t.regex(pair.a.exec('nft', ['list', 'table', 'inet', 'faultd']), /meta skuid \S+ accept/);
  const batch = ws.file('batch.txt', Array.from({ length: 200 }, () => 'gone.test').join('\n'));
  const out = pair.a.exec('dig', ['@127.0.0.53', '+time=1', '+tries=1', '-f', batch]);
  const failed = (out.match(/status: NXDOMAIN/g) ?? []).length;
  const passed = (out.match(/status: NOERROR/g) ?? []).length;
  t.log(`${failed} of ${failed + passed} queries through the stub failed for 50 % asked`);
  t.is(failed + passed, 200);
  t.true(failed >= 70 && failed <= 130, `${failed} failed (drawn twice: about 150)`);
  child.kill('SIGINT');
  t.is((await finish(child)).code, 3);
});
