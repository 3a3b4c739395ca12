// SPDX-License-Identifier: Apache-2.0
// The HTTP test servers (test/helpers/http-servers.ts) that the HTTP faults' tests and the bench
// proxy to: what real clients (curl, nghttp, a raw socket) get from each endpoint over HTTP/1.1,
// h2c and TLS with ALPN, in a namespace and on loopback, and nothing left after stop.
import { existsSync, readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';

import { createHash } from 'node:crypto';

import { httpServers, startHttpServers } from '../helpers/http-servers.js';
import { testNetns, type TestNetns } from '../helpers/netns.js';
import { privilegedTest as test } from '../helpers/privileged.js';

interface Echo {
  server: string;
  method: string;
  target: string;
  httpVersion: string;
  headers: [string, string][];
  body: string;
  alpn: string | null;
}

const curl = (ns: TestNetns, args: readonly string[]): string => ns.exec('curl', ['-sS', '--max-time', '5', ...args]);

test('in a namespace: echo, keep-alive, chunked, small, slow and status over HTTP/1.1 on IPv4 and IPv6', async (t) => {
  const ns = testNetns(t);
  const servers = await httpServers(t, { netns: ns, logRequests: true });
  t.is(servers.host, '::');
  const base = `http://127.0.0.1:${servers.ports.http1}`;
  const echo = JSON.parse(curl(ns, ['-X', 'POST', '-H', 'X-Test: yes', '--data-binary', 'hello body', `${base}/api/v1?q=1`])) as Echo;
  t.like(echo, { server: 'http1', method: 'POST', target: '/api/v1?q=1', httpVersion: '1.1', body: 'hello body', alpn: null });
  t.true(echo.headers.some(([name, value]) => name === 'X-Test' && value === 'yes'), 'header as sent, name case kept');
  // Two requests in one curl run: the second reuses the first's connection (0 new connects).
  t.is(curl(ns, ['-o', '/dev/null', '-o', '/dev/null', '-w', '%{num_connects}\n', `${base}/small`, `${base}/small`]), '1\n0\n');
  const raw = curl(ns, ['--raw', '-D', '-', `${base}/chunked?chunks=3&size=4`]);
  t.regex(raw, /transfer-encoding: chunked/i);
  t.true(raw.endsWith('\r\n\r\n4\r\naaaa\r\n4\r\nbbbb\r\n4\r\ncccc\r\n0\r\n\r\n'), raw);
  const small = curl(ns, ['-D', '-', `http://[::1]:${servers.ports.http1}/small`]);
  t.regex(small, /content-length: 100\r\n/i);
  t.true(small.endsWith(`\r\n\r\n${'x'.repeat(100)}`));
  const [code, seconds] = curl(ns, ['-o', '/dev/null', '-w', '%{http_code} %{time_total}', `${base}/slow?ms=300`]).split(' ');
  t.is(code, '200');
  t.true(Number(seconds) >= 0.3, `slow answered after ${seconds} s`);
  t.is(curl(ns, ['-o', '/dev/null', '-w', '%{http_code}', `${base}/status/503`]), '503');
  t.is(servers.requests().length, 7);
  t.deepEqual(servers.requests()[0], { server: 'http1', method: 'POST', target: '/api/v1?q=1', httpVersion: '1.1' });
});

test('in a namespace: h2c with prior knowledge, and TLS negotiating h2 or http/1.1 by ALPN under the self-signed certificate', async (t) => {
  const ns = testNetns(t);
  const servers = await httpServers(t, { netns: ns });
  const h2c = JSON.parse(curl(ns, ['--http2-prior-knowledge', `http://127.0.0.1:${servers.ports.h2c}/e?h2c`])) as Echo;
  t.like(h2c, { server: 'h2c', method: 'GET', target: '/e?h2c', httpVersion: '2.0' });
  t.is(ns.exec('nghttp', [`http://[::1]:${servers.ports.h2c}/small`]), 'x'.repeat(100));
  t.regex(curl(ns, ['--raw', '--http2-prior-knowledge', '-D', '-', `http://127.0.0.1:${servers.ports.h2c}/chunked?chunks=2&size=3`]), /^HTTP\/2 200[\s\S]*\r\n\r\naaabbb$/);
  const tlsUrl = `https://localhost:${servers.ports.tls}/secure`;
  const h2 = JSON.parse(curl(ns, ['--cacert', servers.certificate, tlsUrl])) as Echo;
  t.like(h2, { server: 'tls', alpn: 'h2', httpVersion: '2.0', target: '/secure' });
  const h1 = JSON.parse(curl(ns, ['--cacert', servers.certificate, '--http1.1', tlsUrl])) as Echo;
  t.like(h1, { server: 'tls', alpn: 'http/1.1', httpVersion: '1.1' });
  // The certificate is checked, not skipped: without it curl refuses the server.
  t.throws(() => curl(ns, [tlsUrl]));
});

/** Upgrades to a WebSocket on /ws and returns the 101 head and what the server sent back for `payload`. */
function webSocketEcho(socket: net.Socket, payload: string): Promise<{ head: string; echoed: string; accept: string }> {
  const key = Buffer.from('faultd-test-key!').toString('base64');
  const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
  socket.write(`GET /ws HTTP/1.1\r\nHost: test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
  return new Promise((resolve, reject) => {
    let received = '';
    let sent = false;
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      received += chunk;
      const end = received.indexOf('\r\n\r\n');
      if (end < 0) return;
      if (!sent) {
        sent = true;
        socket.write(payload, 'latin1');
      }
      const echoed = received.slice(end + 4);
      if (echoed.length >= payload.length) {
        socket.destroy();
        resolve({ head: received.slice(0, end), echoed, accept });
      }
    });
    socket.on('error', reject);
    setTimeout(() => reject(new Error(`no echo: ${received}`)), 5000);
  });
}

test('on loopback: WebSocket upgrade answered 101 and bytes echoed (cleartext and TLS); stop leaves no process, port or file', async (t) => {
  const servers = await startHttpServers();
  t.teardown(() => servers.stop());
  t.is(servers.host, '127.0.0.1');
  const payload = '\u0081\u0005hello raw bytes\u00ff';
  const plain = await webSocketEcho(net.connect(servers.ports.http1, '127.0.0.1'), payload);
  t.regex(plain.head, /^HTTP\/1\.1 101 Switching Protocols\r\n/);
  t.true(plain.head.includes(`Sec-WebSocket-Accept: ${plain.accept}`));
  t.is(plain.echoed, payload);
  const ca = readFileSync(servers.certificate);
  const secure = tls.connect({ port: servers.ports.tls, host: '127.0.0.1', servername: 'localhost', ca, ALPNProtocols: ['http/1.1'] });
  await new Promise((resolve) => secure.once('secureConnect', resolve));
  t.is(secure.alpnProtocol, 'http/1.1');
  const overTls = await webSocketEcho(secure, payload);
  t.regex(overTls.head, /^HTTP\/1\.1 101 /);
  t.is(overTls.echoed, payload);

  await servers.stop();
  t.false(existsSync(`/proc/${servers.pid}`), 'server process gone');
  t.false(existsSync(servers.certificate), 'temporary directory removed');
  const refused = await new Promise<string>((resolve) => {
    const socket = net.connect(servers.ports.http1, '127.0.0.1');
    socket.on('connect', () => resolve('connected'));
    socket.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? ''));
  });
  t.is(refused, 'ECONNREFUSED');
  await servers.stop();
});
