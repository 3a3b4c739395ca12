// SPDX-License-Identifier: Apache-2.0
// The DNS interceptor (`faultd-stressor dns`) alone, without a redirect: asked directly on its
// loopback port, it answers the targeted name with the asked rcode (EDNS kept), forwards other
// names to a real dnsmasq and returns the same answer a direct query gets, over UDP and TCP,
// and its forwards carry the mark faultd's chain accepts.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';

import type { ExecutionContext } from 'ava';

import { STRESSOR_BIN } from '../helpers/cli.js';
import { startInterceptor as startMode, type InterceptorProcess } from '../helpers/interceptor-process.js';
import { dig, startDnsmasq } from '../helpers/dns.js';
import { systemTool, testNetnsPair, type TestNetns } from '../helpers/netns.js';
import { privilegedTest as test } from '../helpers/privileged.js';

const RECORDS = { 'ok.test': '10.0.0.1', 'gone.test': '10.0.0.2', 'v6.test': 'fd00::9' };

const startInterceptor = (t: ExecutionContext, ns: TestNetns, args: readonly string[]): Promise<InterceptorProcess> => startMode(t, 'dns', args, { ns });

for (const action of ['nxdomain', 'servfail', 'refused'] as const) {
  test(`answers the targeted name with ${action.toUpperCase()} over UDP and TCP, and forwards the rest unchanged`, async (t) => {
    const pair = testNetnsPair(t);
    await startDnsmasq(t, pair.b, pair.addressB, RECORDS);
    const { port } = await startInterceptor(t, pair.a, [`--upstream=${pair.addressB}`, '--mark=262241619', `--action=${action}`, '--name=gone.test']);
    for (const transport of ['+notcp', '+tcp']) {
      const hit = dig(pair.a, ['@127.0.0.1', '-p', String(port), transport, 'gone.test']);
      t.is(hit.status, action.toUpperCase(), `${transport} gone.test`);
      t.deepEqual(hit.answers, []);
      t.true(hit.edns, 'EDNS OPT kept in the answer');
      const direct = dig(pair.a, [`@${pair.addressB}`, transport, 'ok.test']);
      const through = dig(pair.a, ['@127.0.0.1', '-p', String(port), transport, 'ok.test']);
      t.is(through.status, 'NOERROR', `${transport} ok.test`);
      t.deepEqual(through.answers, direct.answers);
      t.deepEqual(through.answers, ['ok.test. IN A 10.0.0.1']);
      // IPv6 records pass as they came.
      const v6 = dig(pair.a, ['@127.0.0.1', '-p', String(port), transport, 'AAAA', 'v6.test']);
      t.deepEqual(v6.answers, ['v6.test. IN AAAA fd00::9']);
      t.deepEqual(v6.answers, dig(pair.a, [`@${pair.addressB}`, transport, 'AAAA', 'v6.test']).answers);
    }
  });
}

test('timeout drops the targeted query; percentage 0 leaves every query alone', async (t) => {
  const pair = testNetnsPair(t);
  await startDnsmasq(t, pair.b, pair.addressB, RECORDS);
  const drop = await startInterceptor(t, pair.a, [`--upstream=${pair.addressB}`, '--mark=7', '--action=timeout', '--name=gone.test']);
  t.is(dig(pair.a, ['@127.0.0.1', '-p', String(drop.port), 'gone.test']).status, 'timeout');
  t.is(dig(pair.a, ['@127.0.0.1', '-p', String(drop.port), '+tcp', 'gone.test']).status, 'timeout');
  t.is(dig(pair.a, ['@127.0.0.1', '-p', String(drop.port), 'ok.test']).status, 'NOERROR');
  const none = await startInterceptor(t, pair.a, [`--upstream=${pair.addressB}`, '--mark=7', '--action=nxdomain', '--percentage=0']);
  t.deepEqual(dig(pair.a, ['@127.0.0.1', '-p', String(none.port), 'gone.test']).answers, ['gone.test. IN A 10.0.0.2']);
});

test('its forwards carry the mark (a filter on the mark cuts them, the interceptor reports the failures)', async (t) => {
  const pair = testNetnsPair(t);
  await startDnsmasq(t, pair.b, pair.addressB, RECORDS);
  pair.a.exec('nft', ['add', 'table', 'inet', 'marktest']);
  pair.a.exec('nft', ['add', 'chain', 'inet', 'marktest', 'out', '{ type filter hook output priority 0; policy accept; }']);
  pair.a.exec('nft', ['add', 'rule', 'inet', 'marktest', 'out', 'meta', 'mark', '0x1234', 'counter', 'drop']);
  const { port, lines } = await startInterceptor(t, pair.a, [`--upstream=${pair.addressB}`, '--mark=4660', '--action=nxdomain', '--name=gone.test']);
  t.is(dig(pair.a, ['@127.0.0.1', '-p', String(port), '+tcp', 'ok.test']).status, 'timeout', 'marked TCP forward dropped');
  t.is(dig(pair.a, [`@${pair.addressB}`, 'ok.test']).status, 'NOERROR', 'unmarked traffic passes');
  t.regex(pair.a.exec('nft', ['list', 'chain', 'inet', 'marktest', 'out']), /counter packets [1-9]/);
  await new Promise((resolve) => setTimeout(resolve, 1200));
  t.regex(lines.join('\n'), /"event":"stats".*"queries":1/);
});

test('a truncated UDP answer passes with its TC flag, and the TCP retry gets the whole answer', async (t) => {
  const pair = testNetnsPair(t);
  const chunk = 'x'.repeat(200);
  await startDnsmasq(t, pair.b, pair.addressB, RECORDS, [`--txt-record=big.test,"${chunk}","${chunk}","${chunk}","${chunk}"`]);
  const { port } = await startInterceptor(t, pair.a, [`--upstream=${pair.addressB}`, '--mark=7', '--action=nxdomain', '--name=gone.test']);
  const udp = dig(pair.a, ['@127.0.0.1', '-p', String(port), '+notcp', '+ignore', '+bufsize=512', 'TXT', 'big.test']);
  const direct = dig(pair.a, [`@${pair.addressB}`, '+notcp', '+ignore', '+bufsize=512', 'TXT', 'big.test']);
  t.true(direct.flags.includes('tc'), 'dnsmasq truncates it');
  t.deepEqual(udp.flags, direct.flags, 'the TC flag passes through');
  const tcp = dig(pair.a, ['@127.0.0.1', '-p', String(port), '+tcp', 'TXT', 'big.test']);
  t.is(tcp.answers.length, 1);
  t.true((tcp.answers[0] ?? '').includes(chunk));
  t.deepEqual(tcp.answers, dig(pair.a, [`@${pair.addressB}`, '+tcp', 'TXT', 'big.test']).answers, 'the whole answer, as directly');
});

// Python clients and a slow upstream for the lifecycle tests (no DNS library needed).
const PY_QUERY = `
import struct
def query(name, i):
    labels = b''.join(bytes([len(l)]) + l.encode() for l in name.split('.')) + b'\\0'
    return struct.pack('>HHHHHH', i, 0x0100, 1, 0, 0, 0) + labels + b'\\0\\x01\\0\\x01'
`;

const HALF_CLOSE_CLIENT = `${PY_QUERY}
import socket, struct, sys
s = socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=2)
q = query('ok.test', 7)
s.sendall(struct.pack('>H', len(q)) + q)
s.shutdown(socket.SHUT_WR)
data = b''
while True:
    chunk = s.recv(4096)
    if not chunk: break
    data += chunk
print('answered rcode=%d bytes=%d' % (data[5] & 15, len(data)) if len(data) > 14 else 'no answer')
`;

/** A UDP "DNS server" that answers every query NOERROR (question echoed) after 150 ms. */
const SLOW_UPSTREAM = `
import socket, sys, threading, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind((sys.argv[1], 53))
print('ready', flush=True)
def answer(d, a):
    time.sleep(0.15)
    s.sendto(d[:2] + bytes([0x81, 0x80]) + d[4:], a)
while True:
    d, a = s.recvfrom(512)
    threading.Thread(target=answer, args=(d, a)).start()
`;

const ONE_UDP_QUERY = `${PY_QUERY}
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(2)
s.sendto(query('slow.test', 9), ('127.0.0.1', int(sys.argv[1])))
print('sent', flush=True)
t0 = time.monotonic()
try:
    d = s.recv(512); print('answered rcode=%d after %d ms' % (d[3] & 15, (time.monotonic() - t0) * 1000), flush=True)
except Exception as e:
    print('no answer: %s' % e, flush=True)
`;

test('a TCP client that half-closes after its query still gets the answer', async (t) => {
  const pair = testNetnsPair(t);
  await startDnsmasq(t, pair.b, pair.addressB, RECORDS);
  const { port } = await startInterceptor(t, pair.a, [`--upstream=${pair.addressB}`, '--mark=7', '--action=nxdomain', '--name=gone.test']);
  const out = pair.a.exec('python3', ['-c', HALF_CLOSE_CLIENT, String(port)]).trim();
  t.regex(out, /^answered rcode=0 bytes=\d+$/);
});

test('on SIGTERM it stops taking queries but answers the forwarded ones still in flight, then exits', async (t) => {
  const pair = testNetnsPair(t);
  const slow = spawn(systemTool('ip'), ['netns', 'exec', pair.b.name, 'python3', '-u', '-c', SLOW_UPSTREAM, pair.addressB], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => {
    slow.kill('SIGKILL');
  });
  await new Promise<void>((resolve) => slow.stdout.once('data', () => resolve()));
  const { port, child } = await startInterceptor(t, pair.a, [`--upstream=${pair.addressB}`, '--mark=7', '--action=nxdomain', '--name=gone.test']);
  const client = spawn(systemTool('ip'), ['netns', 'exec', pair.a.name, 'python3', '-u', '-c', ONE_UDP_QUERY, String(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => client.kill('SIGKILL'));
  const lines = createInterface({ input: client.stdout })[Symbol.asyncIterator]();
  t.is((await lines.next()).value, 'sent');
  await new Promise((resolve) => setTimeout(resolve, 30));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const stopAt = performance.now();
  child.kill('SIGTERM');
  t.regex(String((await lines.next()).value), /^answered rcode=0 after \d+ ms$/, 'the in-flight query was answered');
  t.is(await exited, 0);
  const stopMs = performance.now() - stopAt;
  t.log(`exited ${stopMs.toFixed(0)} ms after SIGTERM`);
  t.true(stopMs < 300, 'within the revert\'s SIGTERM grace');
  // With nothing in flight, a stop is immediate.
  const idle = await startInterceptor(t, pair.a, [`--upstream=${pair.addressB}`, '--mark=7', '--action=nxdomain']);
  const idleExit = new Promise<number | null>((resolve) => idle.child.once('exit', (code) => resolve(code)));
  const idleAt = performance.now();
  idle.child.kill('SIGTERM');
  t.is(await idleExit, 0);
  t.true(performance.now() - idleAt < 150, 'an idle interceptor exits at once');
});

const IDLE_CLIENT = `
import socket, sys, time
s = socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=20)
s.sendall(b'\\x00\\x40\\x01')  # a length prefix and one byte of a query that never comes
t0 = time.monotonic()
data = s.recv(10)
print('closed after %.1f s' % (time.monotonic() - t0) if data == b'' else 'data')
`;

test('a TCP connection idle for 10 s is closed (a query that never completes holds nothing)', async (t) => {
  const pair = testNetnsPair(t);
  await startDnsmasq(t, pair.b, pair.addressB, RECORDS);
  const { port } = await startInterceptor(t, pair.a, [`--upstream=${pair.addressB}`, '--mark=7', '--action=nxdomain']);
  const out = pair.a.exec('python3', ['-c', IDLE_CLIENT, String(port)]).trim();
  const seconds = Number(/^closed after ([\d.]+) s$/.exec(out)?.[1] ?? NaN);
  t.log(out);
  t.true(seconds >= 9 && seconds <= 12, out);
  const after = dig(pair.a, ['@127.0.0.1', '-p', String(port), '+tcp', 'ok.test']);
  t.is(after.status, 'NXDOMAIN', 'still serving (every name is targeted here)');
});

/**
 * A UDP "DNS server" that answers every query twice with its id: first a reply to another
 * question (the name's first label changed), rcode NXDOMAIN, then the real answer, NOERROR.
 */
const TWO_REPLY_UPSTREAM = `
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind((sys.argv[1], 53))
print('ready', flush=True)
while True:
    d, a = s.recvfrom(512)
    wrong = bytearray(d); wrong[13] = ord('x')  # first letter of the first label
    s.sendto(bytes(wrong[:2]) + bytes([0x81, 0x83]) + bytes(wrong[4:]), a)
    s.sendto(d[:2] + bytes([0x81, 0x80]) + d[4:], a)
`;

test('an upstream reply with the id of a forwarded query but another question is not passed on; the real answer is', async (t) => {
  const pair = testNetnsPair(t);
  const upstream = spawn(systemTool('ip'), ['netns', 'exec', pair.b.name, 'python3', '-u', '-c', TWO_REPLY_UPSTREAM, pair.addressB], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => {
    upstream.kill('SIGKILL');
  });
  await new Promise<void>((resolve) => upstream.stdout.once('data', () => resolve()));
  // Matched by id alone, the interceptor passed the first (wrong) reply on and dropped the real
  // one (its forward was done): dig, which ignores a reply to another question, timed out.
  const { port } = await startInterceptor(t, pair.a, [`--upstream=${pair.addressB}`, '--mark=7', '--action=nxdomain', '--name=gone.test']);
  for (const name of ['ok.test', 'Other.Test']) {
    const through = dig(pair.a, ['@127.0.0.1', '-p', String(port), '+notcp', name]);
    t.is(through.status, 'NOERROR', `${name}: the reply to its question`);
  }
});

test('an upstream it cannot reach (no route) fails before "ready", naming the upstream', async (t) => {
  const pair = testNetnsPair(t);
  const child = spawn(systemTool('ip'), ['netns', 'exec', pair.a.name, STRESSOR_BIN, 'dns', '--server=10.77.250.53', '--upstream=10.99.99.53', '--mark=7', '--action=nxdomain'], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => {
    child.kill('SIGKILL');
  });
  const lines: string[] = [];
  createInterface({ input: child.stdout }).on('line', (line) => lines.push(line));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  t.not(code, 0);
  t.false(lines.some((l) => l.includes('"ready"')), lines.join('\n'));
  t.false(lines.some((l) => l.includes('"listening"')), 'no port is reported for a redirect');
  t.regex(lines.join('\n'), /"event":"error","errno":101,"syscall":"connect","message":"Network is unreachable \(UDP upstream 10\.99\.99\.53:53\)"/);
});

test('a spoofed answer larger than the client takes over UDP comes with TC set, and whole over TCP', async (t) => {
  const pair = testNetnsPair(t);
  await startDnsmasq(t, pair.b, pair.addressB, RECORDS);
  const many = Array.from({ length: 40 }, (_, i) => `--spoof=many.test=10.0.1.${i}`);
  const { port } = await startInterceptor(t, pair.a, [`--upstream=${pair.addressB}`, '--mark=7', '--action=spoof', ...many]);
  const udp = dig(pair.a, ['@127.0.0.1', '-p', String(port), '+notcp', '+ignore', '+noedns', 'many.test']);
  t.true(udp.flags.includes('tc'), udp.text);
  t.deepEqual(udp.answers, []);
  t.is(dig(pair.a, ['@127.0.0.1', '-p', String(port), '+notcp', '+ignore', '+bufsize=1232', 'many.test']).answers.length, 40, 'fits in the EDNS size the client gave');
  t.is(dig(pair.a, ['@127.0.0.1', '-p', String(port), '+tcp', 'many.test']).answers.length, 40);
});

/** Opens N TCP connections to the port and holds them until stdin closes. */
const HOLD_CONNECTIONS = `
import socket, sys
held = []
for _ in range(int(sys.argv[2])):
    s = socket.socket(); s.setblocking(False)
    try: s.connect(('127.0.0.1', int(sys.argv[1])))
    except BlockingIOError: pass
    held.append(s)
print('holding', flush=True)
sys.stdin.read()
`;

/** CPU time (utime + stime, clock ticks) of a process. */
function cpuTicks(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

test('out of file descriptors (RLIMIT_NOFILE 24), it stops accepting for a while instead of spinning, and serves again once connections close', async (t) => {
  const pair = testNetnsPair(t);
  await startDnsmasq(t, pair.b, pair.addressB, RECORDS);
  const child = spawn(systemTool('ip'), ['netns', 'exec', pair.a.name, systemTool('prlimit'), '--nofile=24', STRESSOR_BIN, 'dns', `--upstream=${pair.addressB}`, '--mark=7', '--action=nxdomain', '--name=gone.test'], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => {
    child.kill('SIGKILL');
  });
  const lines: string[] = [];
  const ready = new Promise<void>((resolve) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      lines.push(line);
      if (line.includes('"ready"')) resolve();
    });
  });
  await ready;
  const port = Number(/"listening","port":(\d+)/.exec(lines.join('\n'))?.[1] ?? 0);
  const pid = child.pid ?? 0;
  t.true(pid > 0 && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('faultd-stressor'), 'prlimit and ip exec it in place');
  const holder = spawn(systemTool('ip'), ['netns', 'exec', pair.a.name, 'python3', '-u', '-c', HOLD_CONNECTIONS, String(port), '40'], { stdio: ['pipe', 'pipe', 'inherit'] });
  t.teardown(() => holder.kill('SIGKILL'));
  await new Promise<void>((resolve) => holder.stdout.once('data', () => resolve()));
  await new Promise((resolve) => setTimeout(resolve, 300));
  const before = cpuTicks(pid);
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const used = cpuTicks(pid) - before;
  t.log(`${used} clock ticks of CPU in 1 s with 40 connections against 24 descriptors`);
  t.true(used < 20, `${used} ticks: a busy loop would take ~100`);
  t.is(dig(pair.a, ['@127.0.0.1', '-p', String(port), '+notcp', 'ok.test']).status, 'NOERROR', 'UDP is served meanwhile');
  holder.stdin.end();
  await new Promise((resolve) => holder.once('exit', resolve));
  t.is(dig(pair.a, ['@127.0.0.1', '-p', String(port), '+tcp', '+time=3', 'gone.test']).status, 'NXDOMAIN', 'TCP served again');
  await new Promise((resolve) => setTimeout(resolve, 1100));
  t.regex(lines.join('\n'), /"acceptPauses":[1-9]/);
});

/** Opens N TCP connections that pipeline queries for `seconds` (argv 3) and never read an answer. */
const PIPELINE_NO_READ = `${PY_QUERY}
import socket, struct, sys, time
q = query('gone.test', 1); frame = struct.pack('>H', len(q)) + q
burst = frame * 2000
conns = []
for _ in range(int(sys.argv[2])):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(('127.0.0.1', int(sys.argv[1]))); s.setblocking(False); conns.append(s)
sent = 0; end = time.monotonic() + float(sys.argv[3])
while time.monotonic() < end:
    for s in conns:
        try: sent += s.send(burst)
        except (BlockingIOError, BrokenPipeError, ConnectionResetError): pass
print('sent %d' % sent, flush=True)
`;

function rssKiB(pid: number): number {
  return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN);
}

test('TCP clients that pipeline queries and never read the answers: each connection and all together hold bounded memory', async (t) => {
  const pair = testNetnsPair(t);
  // Small socket buffers in this namespace, so the interceptor's own queues are what fills.
  pair.a.exec('sysctl', ['-qw', 'net.ipv4.tcp_wmem=4096 4096 4096', 'net.ipv4.tcp_rmem=4096 4096 4096']);
  await startDnsmasq(t, pair.b, pair.addressB, RECORDS);
  const { port, lines, child } = await startInterceptor(t, pair.a, [`--upstream=${pair.addressB}`, '--mark=7', '--action=nxdomain', '--name=gone.test']);
  const pid = child.pid ?? 0;
  const before = rssKiB(pid);
  const out = pair.a.exec('python3', ['-c', PIPELINE_NO_READ, String(port), '256', '4']).trim();
  const peak = Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN);
  t.log(`${out}; VmRSS ${before} kB before, peak ${peak} kB`);
  // Measured on this machine: 22 MB with the 16 MiB cap on all connections, 42 MB without it
  // (each connection at its own 320 KiB bound).
  t.true(peak - before < 32 * 1024, `grew by ${peak - before} kB (all connections together hold at most 16 MiB of queues)`);
  await new Promise((resolve) => setTimeout(resolve, 1100));
  t.regex(lines.join('\n'), /"tcpOverBudget":[1-9]/);
  t.is(dig(pair.a, ['@127.0.0.1', '-p', String(port), '+tcp', 'gone.test']).status, 'NXDOMAIN', 'still serving');
});
