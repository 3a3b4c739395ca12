// SPDX-License-Identifier: Apache-2.0
/** The agent's HTTP transport against real servers on 127.0.0.1: answers, bounds, keep-alive. */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

import test, { type ExecutionContext } from 'ava';

import { HttpTransport } from '../../../src/agent/http-transport.js';

async function serve(t: ExecutionContext, handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ url: URL; sockets: () => number }> {
  let sockets = 0;
  const server = createServer(handler);
  server.on('connection', () => (sockets += 1));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    server.closeAllConnections();
    server.close();
  });
  return { url: new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/prefix`), sockets: () => sockets };
}

test('an answer: status, headers and body; the URL path prefix stays; one kept-alive connection serves every call', async (t) => {
  const seen: string[] = [];
  const { url, sockets } = await serve(t, (req, res) => {
    seen.push(`${req.method ?? ''} ${req.url ?? ''}`);
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      res.writeHead(201, { 'retry-after': '3', 'content-type': 'application/json' });
      res.end(JSON.stringify({ echo: body }));
    });
  });
  const transport = new HttpTransport(url, { timeoutMs: 2000 });
  t.teardown(() => transport.close());
  const reply = await transport.send({ method: 'POST', path: '/v1/heartbeat', headers: { 'content-type': 'application/json' }, body: '{"a":1}' });
  t.is(reply.statusCode, 201);
  t.is(reply.headers['retry-after'], '3');
  t.deepEqual(JSON.parse(reply.text), { echo: '{"a":1}' });
  for (let i = 0; i < 5; i += 1) await transport.send({ method: 'GET', path: '/v1/tasks/next?waitSeconds=0', headers: {} });
  t.is(seen[0], 'POST /prefix/v1/heartbeat');
  t.is(seen[1], 'GET /prefix/v1/tasks/next?waitSeconds=0');
  t.is(sockets(), 1, 'keep-alive');
});

test('a hub that accepts and never answers fails within the bound; a held call may take its own longer bound', async (t) => {
  const { url } = await serve(t, (req, res) => {
    if (req.url?.includes('held')) setTimeout(() => res.end('late'), 600);
    // otherwise: never answer
  });
  const transport = new HttpTransport(url, { timeoutMs: 300 });
  t.teardown(() => transport.close());
  const started = Date.now();
  await t.throwsAsync(transport.send({ method: 'GET', path: '/silent', headers: {} }), { code: 'ETIMEDOUT', message: /no answer from the hub within 300 ms/ });
  t.true(Date.now() - started < 2000);
  const held = await transport.send({ method: 'GET', path: '/held', headers: {}, answerTimeoutMs: 2000 });
  t.is(held.text, 'late');
});

test('a refused connection and an aborted call reject with their cause', async (t) => {
  const { url } = await serve(t, () => undefined);
  const closed = new URL(url.href);
  closed.port = '1';
  const refused = new HttpTransport(closed, { timeoutMs: 1000 });
  t.teardown(() => refused.close());
  await t.throwsAsync(refused.send({ method: 'GET', path: '/', headers: {} }), { code: 'ECONNREFUSED' });
  const transport = new HttpTransport(url, { timeoutMs: 5000 });
  t.teardown(() => transport.close());
  const abort = new AbortController();
  setTimeout(() => abort.abort(), 100);
  await t.throwsAsync(transport.send({ method: 'GET', path: '/', headers: {}, signal: abort.signal }), { name: 'AbortError' });
});

test('an answer larger than the bound is refused, not buffered without end', async (t) => {
  const { url } = await serve(t, (_req, res) => {
    res.writeHead(200);
    const chunk = Buffer.alloc(1 << 20, 0x61);
    for (let i = 0; i < 6; i += 1) res.write(chunk);
    res.end();
  });
  const transport = new HttpTransport(url, { timeoutMs: 5000 });
  t.teardown(() => transport.close());
  await t.throwsAsync(transport.send({ method: 'GET', path: '/', headers: {} }), { code: 'EMSGSIZE' });
});
