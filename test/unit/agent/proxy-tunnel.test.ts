// SPDX-License-Identifier: Apache-2.0
// The hub client's CONNECT tunnel against small in-process proxies on 127.0.0.1: an http:// hub
// (tests only) through the tunnel with keep-alive reuse, a proxy that never answers bounded by
// the request timeout, a proxy that refuses (407) or is not there, each named in the error.
// (A real proxy, TLS through the tunnel, pinning, mutual TLS: test/privileged/agent-proxy.test.ts.)
import { createServer as createHttpServer, type IncomingMessage, type Server } from 'node:http';
import { connect, createServer as createTcpServer, type AddressInfo, type Socket } from 'node:net';

import test, { type ExecutionContext } from 'ava';

import { HubClient } from '../../../src/agent/hub-client.js';
import type { Validator } from '../../../src/protocol/validator.js';

const ANY: Validator<unknown> = { safeParse: (input) => ({ success: true, data: input }) };

async function listen(t: ExecutionContext, server: Server | ReturnType<typeof createTcpServer>): Promise<number> {
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    for (const s of sockets) s.destroy();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return (server.address() as AddressInfo).port;
}

/** A forward proxy that opens every CONNECT it is asked for and counts them. */
async function connectProxy(t: ExecutionContext): Promise<{ url: string; targets: string[] }> {
  const targets: string[] = [];
  const server = createHttpServer((_, res) => res.writeHead(405).end());
  server.on('connect', (req: IncomingMessage, client: Socket, head: Buffer) => {
    targets.push(req.url ?? '');
    const [host = '', port = ''] = (req.url ?? '').split(':');
    const upstream = connect(Number(port), host, () => {
      client.write('HTTP/1.1 200 Connection established\r\n\r\n');
      if (head.length) upstream.write(head);
      upstream.pipe(client).pipe(upstream);
    });
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  });
  return { url: `http://127.0.0.1:${await listen(t, server)}`, targets };
}

test('an http:// hub through the tunnel: requests arrive, and a kept connection is reused (one CONNECT)', async (t) => {
  let requests = 0;
  const hubPort = await listen(t, createHttpServer((_, res) => {
    requests += 1;
    res.writeHead(204).end();
  }));
  const proxy = await connectProxy(t);
  const client = new HubClient({ url: `http://127.0.0.1:${hubPort}`, insecure: true, proxy: { url: proxy.url, source: 'hub.proxy' } });
  t.teardown(() => client.close());
  t.is((await client.post('/v1/heartbeat', {}, ANY, 'tok')).status, 204);
  t.is((await client.post('/v1/heartbeat', {}, ANY, 'tok')).status, 204);
  t.is(requests, 2);
  t.deepEqual(proxy.targets, [`127.0.0.1:${hubPort}`]);
});

test('a proxy that accepts but never answers CONNECT is bounded by the request timeout', async (t) => {
  const silent = createTcpServer(() => undefined);
  const port = await listen(t, silent);
  const client = new HubClient({ url: 'https://127.0.0.1:9', timeoutMs: 1000, proxy: { url: `http://127.0.0.1:${port}`, source: 'hub.proxy' } });
  t.teardown(() => client.close());
  const started = Date.now();
  const error = await t.throwsAsync(client.post('/v1/token', {}, ANY));
  const took = Date.now() - started;
  t.is((error as { code?: string }).code, 'FAULTD_ERR_AGENT_UNREACHABLE');
  t.regex(error?.message ?? '', /(no connection from the hub within 1000 ms|did not open a tunnel to 127\.0\.0\.1:9 within 1000 ms)/);
  t.true(took >= 950 && took < 3000, `${took} ms`);
});

test('a proxy that refuses (407) or is not there is named in the error', async (t) => {
  const refusing = createHttpServer((_, res) => res.writeHead(405).end());
  refusing.on('connect', (_req: IncomingMessage, socket: Socket) => socket.end('HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="corp"\r\nContent-Length: 0\r\n\r\n'));
  const port = await listen(t, refusing);
  const client = new HubClient({ url: 'https://hub.example:8443', proxy: { url: `http://127.0.0.1:${port}`, source: 'HTTPS_PROXY' } });
  t.teardown(() => client.close());
  const error = await t.throwsAsync(client.post('/v1/token', {}, ANY));
  t.is((error as { code?: string }).code, 'FAULTD_ERR_AGENT_UNREACHABLE');
  t.regex(error?.message ?? '', /the proxy 127\.0\.0\.1:\d+ answered 407 Proxy Authentication Required to CONNECT hub\.example:8443/);

  // A port nothing listens on: the connection to the proxy is refused.
  const closed = createTcpServer();
  const freePort = await new Promise<number>((resolve) => closed.listen(0, '127.0.0.1', () => resolve((closed.address() as AddressInfo).port)));
  await new Promise<void>((resolve) => closed.close(() => resolve()));
  const absent = new HubClient({ url: 'https://hub.example:8443', proxy: { url: `http://127.0.0.1:${freePort}`, source: 'hub.proxy' } });
  t.teardown(() => absent.close());
  const refused = await t.throwsAsync(absent.post('/v1/token', {}, ANY));
  t.regex(refused?.message ?? '', /the proxy 127\.0\.0\.1:\d+ \(CONNECT hub\.example:8443\): connect ECONNREFUSED/);
});
