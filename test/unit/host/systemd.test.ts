// SPDX-License-Identifier: Apache-2.0
// sd_notify through the addon, received on a real AF_UNIX datagram socket (a small python3
// listener: Node cannot bind one), for a path socket and an abstract one.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import test from 'ava';

import { ServiceNotifier } from '../../../src/host/systemd.js';
import { loadNative } from '../../../src/native/load.js';
import { SILENT } from '../../helpers/fake.js';

const LISTENER = `
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
name = sys.argv[1]
s.bind(('\\0' + name[1:]) if name.startswith('@') else name)
print('ready', flush=True)
for _ in range(int(sys.argv[2])):
    print(repr(s.recv(4096).decode()), flush=True)
`;

/** Listens on `address` for `count` datagrams; resolves with them. */
async function listen(address: string, count: number): Promise<{ messages: Promise<string[]> }> {
  const child = spawn('python3', ['-c', LISTENER, address, String(count)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  await new Promise<void>((resolve, reject) => {
    child.on('error', reject);
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk;
      if (out.startsWith('ready\n')) resolve();
    });
  });
  const messages = new Promise<string[]>((resolve) => {
    child.on('exit', () => resolve(out.split('\n').slice(1).filter(Boolean).map((l) => l.slice(1, -1).replaceAll('\\n', '\n'))));
  });
  setTimeout(() => child.kill(), 5000).unref();
  return { messages };
}

test('READY, STATUS, WATCHDOG and STOPPING reach $NOTIFY_SOCKET (a path, or an abstract @name)', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'faultd-notify-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  for (const address of [path.join(dir, 'notify'), `@faultd-test-${process.pid}`]) {
    const { messages } = await listen(address, 4);
    const notifier = new ServiceNotifier(loadNative(), SILENT, { NOTIFY_SOCKET: address, WATCHDOG_USEC: '200000', WATCHDOG_PID: String(process.pid) });
    t.true(notifier.enabled);
    t.is(notifier.watchdogMs, 200);
    notifier.ready('polling\nthe hub');
    notifier.status('running run_1');
    const stop = notifier.startWatchdog();
    stop();
    notifier.stopping('bye');
    t.deepEqual(await messages, ['READY=1\nSTATUS=polling the hub', 'STATUS=running run_1', 'WATCHDOG=1', 'STOPPING=1\nSTATUS=bye'], address);
  }
});

test('outside systemd nothing is sent; a watchdog meant for another pid is ignored; a dead socket is only a warning', (t) => {
  const off = new ServiceNotifier(loadNative(), SILENT, {});
  t.false(off.enabled);
  off.ready('x');
  t.is(new ServiceNotifier(loadNative(), SILENT, { NOTIFY_SOCKET: '/x', WATCHDOG_USEC: '1000000', WATCHDOG_PID: '1' }).watchdogMs, undefined);
  const dead = new ServiceNotifier(loadNative(), SILENT, { NOTIFY_SOCKET: '/nonexistent/faultd-notify' });
  t.notThrows(() => dead.ready('x'));
  t.throws(() => loadNative().sdNotify('relative/path', 'READY=1'), { code: 'EINVAL' });
  t.throws(() => loadNative().sdNotify('/nonexistent/faultd-notify', 'READY=1'), { code: 'ENOENT', message: /sendto/ });
});
