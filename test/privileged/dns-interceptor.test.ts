// SPDX-License-Identifier: Apache-2.0
// The DNS interceptor (`faultd-stressor dns`) alone, without a redirect: asked directly on its
// loopback port, it answers the targeted name with the asked rcode (EDNS kept), forwards other
// names to a real dnsmasq and returns the same answer a direct query gets, over UDP and TCP,
// and its forwards carry the mark faultd's chain accepts.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

import { STRESSOR_BIN } from '../helpers/cli.js';
import { dig, startDnsmasq } from '../helpers/dns.js';
import { systemTool, testNetnsPair, type TestNetns } from '../helpers/netns.js';
import { privilegedTest as test } from '../helpers/privileged.js';

const RECORDS = { 'ok.test': '10.0.0.1', 'gone.test': '10.0.0.2', 'v6.test': 'fd00::9' };

async function startInterceptor(t: { teardown(fn: () => void): void }, ns: TestNetns, args: readonly string[]): Promise<{ port: number; lines: string[] }> {
  const child = spawn(systemTool('ip'), ['netns', 'exec', ns.name, STRESSOR_BIN, 'dns', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => {
    child.kill('SIGKILL');
  });
  const lines: string[] = [];
  return new Promise((resolve, reject) => {
    let port = 0;
    createInterface({ input: child.stdout }).on('line', (line) => {
      lines.push(line);
      const event = JSON.parse(line) as { event: string; port?: number };
      if (event.event === 'listening') port = event.port ?? 0;
      if (event.event === 'ready') resolve({ port, lines });
    });
    child.once('exit', (code) => reject(new Error(`interceptor exited with ${String(code)}: ${lines.join('\n')}`)));
  });
}

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
