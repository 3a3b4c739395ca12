// SPDX-License-Identifier: Apache-2.0
// The HTTP interceptor (`faultd-stressor http`) with HTTP/2 and TLS, against real servers this
// test starts on loopback (Node's http2: a cleartext server for h2c with prior knowledge, a
// secure server with allowHTTP1 for TLS) and certificates it makes with `openssl req -x509`.
// Clients: curl (--http2-prior-knowledge, --http2 with --cacert, --http1.1), nghttp and h2load.
// Each effect is measured at the client and at the server: what reached the server, with which
// protocol, SNI and ALPN.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http2 from 'node:http2';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TLSSocket } from 'node:tls';
import { promisify } from 'node:util';

import type { ExecutionContext } from 'ava';

import { launchInterceptor as launchMode, startInterceptor as startMode, type InterceptorProcess as Interceptor, type Launched } from '../helpers/interceptor-process.js';
import { systemTool } from '../helpers/netns.js';
import { privilegedTest as test } from '../helpers/privileged.js';

const execFileAsync = promisify(execFile);

/** Starts `faultd-stressor http --mark=7 <args>`; resolves at "ready", or with the exit code and lines if it exits first. */
const launchInterceptor = (t: ExecutionContext, args: readonly string[]): Promise<Launched> => launchMode(t, 'http', ['--mark=7', ...args]);
const startInterceptor = (t: ExecutionContext, args: readonly string[]): Promise<Interceptor> => startMode(t, 'http', ['--mark=7', ...args]);

/** The last stats line the interceptor printed (it prints one a second). */
async function lastStats(ic: Interceptor): Promise<Record<string, number>> {
  await new Promise((resolve) => setTimeout(resolve, 1100));
  const line = [...ic.lines].reverse().find((l) => l.includes('"event":"stats"'));
  return JSON.parse(line ?? '{}') as Record<string, number>;
}

interface Certs {
  dir: string;
  userCert: string;
  userKey: string;
  upstreamCert: string;
  upstreamKey: string;
}

/** Two self-signed certificates for localhost/127.0.0.1: the user's (the interceptor's) and the upstream's. */
async function makeCerts(t: ExecutionContext): Promise<Certs> {
  const dir = mkdtempSync(path.join(tmpdir(), 'faultd-h2tls-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const make = (name: string) =>
    execFileAsync(systemTool('openssl'), [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1',
      '-subj', `/CN=${name}`, '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
      '-keyout', path.join(dir, `${name}.key`), '-out', path.join(dir, `${name}.crt`),
    ]);
  await Promise.all([make('user'), make('upstream')]);
  return {
    dir,
    userCert: path.join(dir, 'user.crt'),
    userKey: path.join(dir, 'user.key'),
    upstreamCert: path.join(dir, 'upstream.crt'),
    upstreamKey: path.join(dir, 'upstream.key'),
  };
}

interface Seen {
  method: string;
  path: string;
  headers: http2.IncomingHttpHeaders;
  httpVersion: string;
  servername: string | false | null | undefined;
  alpn: string | false | null | undefined;
  bodySha: string;
  bodyLength: number;
}

/** 1 MiB the servers send for /big (a pattern, so a shifted byte is caught). */
const BIG = Buffer.alloc(1 << 20);
for (let i = 0; i < BIG.length; i += 1) BIG[i] = Math.imul(i, 2654435761) >>> 24;

type Handler = (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void;

/** Records what arrives, then answers by path: /big 1 MiB, /echo the body's sha256, else JSON. */
function recordingHandler(seen: Seen[]): Handler {
  return (req, res) => {
    const hash = createHash('sha256');
    let length = 0;
    req.on('data', (d: Buffer) => {
      hash.update(d);
      length += d.length;
    });
    req.on('end', () => {
      const socket = req.socket as Partial<TLSSocket>;
      const bodySha = hash.digest('hex');
      seen.push({
        method: req.method,
        path: req.url,
        headers: req.headers,
        httpVersion: req.httpVersion,
        servername: socket.servername,
        alpn: socket.alpnProtocol,
        bodySha,
        bodyLength: length,
      });
      res.setHeader('x-server', 'node');
      res.setHeader('x-remove-me', 'yes');
      if (req.url.startsWith('/big')) {
        res.setHeader('content-length', String(BIG.length));
        res.end(BIG);
      } else if (req.url.startsWith('/echo')) {
        res.end(`${bodySha} ${String(length)}`);
      } else {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ path: req.url, version: req.httpVersion }));
      }
    });
  };
}

async function listen(t: ExecutionContext, server: http2.Http2Server | http2.Http2SecureServer): Promise<number> {
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (s: http2.ServerHttp2Session) => {
    sessions.add(s);
    s.on('close', () => sessions.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    for (const s of sessions) s.destroy();
    server.close();
  });
  return (server.address() as AddressInfo).port;
}

async function startH2cServer(t: ExecutionContext): Promise<{ port: number; seen: Seen[] }> {
  const seen: Seen[] = [];
  const port = await listen(t, http2.createServer(recordingHandler(seen)));
  return { port, seen };
}

async function startTlsServer(t: ExecutionContext, certs: Certs): Promise<{ port: number; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = http2.createSecureServer(
    { key: readFileSync(certs.upstreamKey), cert: readFileSync(certs.upstreamCert), allowHTTP1: true },
    recordingHandler(seen),
  );
  const port = await listen(t, server);
  return { port, seen };
}

interface CurlReply {
  status: number;
  version: string;
  headers: string;
  body: Buffer;
  seconds: number;
}

/** curl, asynchronously (the servers run in this process's event loop). */
async function curl(args: readonly string[]): Promise<CurlReply> {
  const dir = mkdtempSync(path.join(tmpdir(), 'faultd-curl-'));
  try {
    const bodyFile = path.join(dir, 'body');
    const { stdout } = await execFileAsync(
      systemTool('curl'),
      ['-s', '-S', '--max-time', '10', '-D', '-', '-o', bodyFile, '-w', '\n%{http_code} %{http_version} %{time_total}', ...args],
      { encoding: 'utf8' },
    );
    const tail = stdout.trimEnd().split('\n').pop() ?? '';
    const [code, version, seconds] = tail.split(' ');
    return { status: Number(code), version: version ?? '', headers: stdout, body: readFileSync(bodyFile), seconds: Number(seconds) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const sha = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

// --- h2c (prior knowledge) ------------------------------------------------------------------

test('h2c with prior knowledge: a non-matching request passes (HTTP/2 both ways), a matching one is blocked at the interceptor', async (t) => {
  const server = await startH2cServer(t);
  const ic = await startInterceptor(t, [`--upstream=127.0.0.1:${String(server.port)}`, '--action=block', '--status=503', '--path=/fault']);
  const base = `http://127.0.0.1:${String(ic.port)}`;
  const ok = await curl(['--http2-prior-knowledge', '-H', 'x-client: c1', `${base}/ok?q=1`]);
  t.is(ok.status, 200);
  t.is(ok.version, '2');
  t.deepEqual(JSON.parse(ok.body.toString()), { path: '/ok?q=1', version: '2.0' });
  t.regex(ok.headers, /x-server: node/);
  t.is(server.seen.length, 1);
  t.is(server.seen[0]?.httpVersion, '2.0', 'the upstream was spoken to in HTTP/2');
  t.is(server.seen[0]?.headers['x-client'], 'c1');
  t.is(server.seen[0]?.headers[':authority'], `127.0.0.1:${String(ic.port)}`, ':authority passed as the client sent it');

  const blocked = await curl(['--http2-prior-knowledge', `${base}/fault/x`]);
  t.is(blocked.status, 503);
  t.is(blocked.version, '2');
  t.is(blocked.body.toString(), 'faultd: request blocked (HTTP 503)\n');
  t.is(server.seen.length, 1, 'the blocked request never reached the server');
  const stats = await lastStats(ic);
  t.like(stats, { requests: 2, matched: 1, faulted: 1, passed: 1 });
});

test('h2c: h2load with 4 connections × 10 concurrent streams, 400 requests, all answered by the server', async (t) => {
  const server = await startH2cServer(t);
  const ic = await startInterceptor(t, [`--upstream=127.0.0.1:${String(server.port)}`, '--action=block', '--path=/never']);
  const { stdout } = await execFileAsync(systemTool('h2load'), ['-n', '400', '-c', '4', '-m', '10', `http://127.0.0.1:${String(ic.port)}/load`], { encoding: 'utf8' });
  t.regex(stdout, /requests: 400 total, 400 started, 400 done, 400 succeeded, 0 failed, 0 errored/);
  t.regex(stdout, /status codes: 400 2xx/);
  t.is(server.seen.length, 400);
  t.like(await lastStats(ic), { requests: 400, passed: 400, faulted: 0 });
});

test('h2c: 1 MiB up and 1 MiB down pass unchanged (flow control end to end)', async (t) => {
  const server = await startH2cServer(t);
  const ic = await startInterceptor(t, [`--upstream=127.0.0.1:${String(server.port)}`, '--action=block', '--path=/never']);
  const base = `http://127.0.0.1:${String(ic.port)}`;
  const down = await curl(['--http2-prior-knowledge', `${base}/big`]);
  t.is(down.body.length, BIG.length);
  t.is(sha(down.body), sha(BIG));
  const upload = path.join(mkdtempSync(path.join(tmpdir(), 'faultd-up-')), 'big');
  t.teardown(() => rmSync(path.dirname(upload), { recursive: true, force: true }));
  writeFileSync(upload, BIG);
  const up = await curl(['--http2-prior-knowledge', '--data-binary', `@${upload}`, `${base}/echo`]);
  t.is(up.body.toString(), `${sha(BIG)} ${String(BIG.length)}`);
  t.is(server.seen.at(-1)?.bodySha, sha(BIG));
});

test('h2c: nghttp with several streams on one connection, request latency only on the matching one', async (t) => {
  const server = await startH2cServer(t);
  const ic = await startInterceptor(t, [`--upstream=127.0.0.1:${String(server.port)}`, '--action=latency', '--latency-ms=400', '--direction=request', '--path=/slow']);
  const base = `http://127.0.0.1:${String(ic.port)}`;
  const started = performance.now();
  const { stdout } = await execFileAsync(systemTool('nghttp'), ['-n', '-s', `${base}/slow/a`, `${base}/fast/b`, `${base}/fast/c`], { encoding: 'utf8' });
  const elapsed = performance.now() - started;
  t.true(elapsed >= 400, `took ${elapsed.toFixed(0)} ms`);
  t.regex(stdout, /\/slow\/a/);
  t.is(server.seen.length, 3);
  // The fast streams reached the server first: they were not held behind the slow one.
  t.is(server.seen.at(-1)?.path, '/slow/a');
  const fast = await curl(['--http2-prior-knowledge', `${base}/fast/d`]);
  const slow = await curl(['--http2-prior-knowledge', `${base}/slow/e`]);
  t.true(slow.seconds >= 0.4, `slow ${String(slow.seconds)} s`);
  t.true(fast.seconds < 0.4, `fast ${String(fast.seconds)} s`);
});

test('h2c: status with a body, and header edits on both directions', async (t) => {
  const server = await startH2cServer(t);
  const status = await startInterceptor(t, [`--upstream=127.0.0.1:${String(server.port)}`, '--action=status', '--status=418', '--body={"teapot":true}', '--path=/fault']);
  const r = await curl(['--http2-prior-knowledge', `http://127.0.0.1:${String(status.port)}/fault/big`]);
  t.is(r.status, 418);
  t.is(r.body.toString(), '{"teapot":true}');
  t.regex(r.headers, /content-length: 15/);
  t.is(server.seen.at(-1)?.path, '/fault/big', 'the request went to the server (status rewrites its answer)');

  const header = await startInterceptor(t, [
    `--upstream=127.0.0.1:${String(server.port)}`, '--action=header', '--direction=both',
    '--set-header=X-Fault:injected', '--remove-header=x-remove-me', '--remove-header=x-client',
  ]);
  const h = await curl(['--http2-prior-knowledge', '-H', 'x-client: c1', `http://127.0.0.1:${String(header.port)}/any`]);
  t.is(h.status, 200);
  t.regex(h.headers, /x-fault: injected/);
  t.notRegex(h.headers, /x-remove-me/);
  t.regex(h.headers, /x-server: node/);
  const seen = server.seen.at(-1);
  t.is(seen?.headers['x-fault'], 'injected');
  t.is(seen?.headers['x-client'], undefined);
});

test('h2c: SIGTERM sends GOAWAY, the stream in flight still gets its answer, then the interceptor exits', async (t) => {
  const server = await startH2cServer(t);
  const ic = await startInterceptor(t, [`--upstream=127.0.0.1:${String(server.port)}`, '--action=latency', '--latency-ms=600', '--direction=response', '--path=/slow']);
  const inFlight = curl(['--http2-prior-knowledge', `http://127.0.0.1:${String(ic.port)}/slow/x`]);
  await new Promise((resolve) => setTimeout(resolve, 200));
  const signalled = performance.now();
  ic.child.kill('SIGTERM');
  const reply = await inFlight;
  t.is(reply.status, 200);
  t.deepEqual(JSON.parse(reply.body.toString()), { path: '/slow/x', version: '2.0' });
  t.is(await ic.exited, 0);
  const exitMs = performance.now() - signalled;
  t.true(exitMs < 1500, `exited ${exitMs.toFixed(0)} ms after SIGTERM (grace 2000 ms)`);
});

// --- TLS --------------------------------------------------------------------------------------

test('TLS: h2 via ALPN with the user certificate; the upstream gets TLS with the client SNI and h2; http/1.1 clients stay HTTP/1.1', async (t) => {
  const certs = await makeCerts(t);
  const server = await startTlsServer(t, certs);
  const ic = await startInterceptor(t, [
    `--upstream=127.0.0.1:${String(server.port)}`, `--tls-cert=${certs.userCert}`, `--tls-key=${certs.userKey}`,
    `--upstream-ca=${certs.upstreamCert}`, '--action=block', '--status=451', '--path=/fault',
  ]);
  const url = (p: string) => `https://localhost:${String(ic.port)}${p}`;
  const resolve = ['--resolve', `localhost:${String(ic.port)}:127.0.0.1`, '--cacert', certs.userCert];
  const h2 = await curl(['--http2', ...resolve, url('/ok')]);
  t.is(h2.status, 200);
  t.is(h2.version, '2', 'the client agreed on h2 with the interceptor (verified against the user certificate)');
  t.is(server.seen.at(-1)?.httpVersion, '2.0');
  t.is(server.seen.at(-1)?.alpn, 'h2');
  t.is(server.seen.at(-1)?.servername, 'localhost', 'SNI passed on');

  const h1 = await curl(['--http1.1', ...resolve, url('/one')]);
  t.is(h1.status, 200);
  t.is(h1.version, '1.1');
  t.is(server.seen.at(-1)?.httpVersion, '1.1');
  t.is(server.seen.at(-1)?.alpn, 'http/1.1');

  const before = server.seen.length;
  for (const flag of ['--http2', '--http1.1']) {
    const blocked = await curl([flag, ...resolve, url('/fault/z')]);
    t.is(blocked.status, 451, flag);
    t.is(blocked.body.toString(), 'faultd: request blocked (HTTP 451)\n');
  }
  t.is(server.seen.length, before);

  const big = await curl(['--http2', '-k', url('/big')]);
  t.is(sha(big.body), sha(BIG));
  const { stdout } = await execFileAsync(systemTool('nghttp'), ['-n', '-s', url('/ok'), url('/fault/n')], { encoding: 'utf8' });
  t.regex(stdout, /\/fault\/n/);
  t.like(await lastStats(ic), { faulted: 3, upstreamErrors: 0 });
});

test('TLS: a client offering h2 gets HTTP/1.1 when the upstream speaks only HTTP/1.1 (never bridged h2 to 1.1)', async (t) => {
  const certs = await makeCerts(t);
  const seen: { version: string; alpn: string | false | null | undefined }[] = [];
  const server = https.createServer({ key: readFileSync(certs.upstreamKey), cert: readFileSync(certs.upstreamCert) }, (req, res) => {
    seen.push({ version: req.httpVersion, alpn: (req.socket as Partial<TLSSocket>).alpnProtocol });
    res.end('one-one');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    server.closeAllConnections();
    server.close();
  });
  const upstreamPort = (server.address() as AddressInfo).port;
  const ic = await startInterceptor(t, [`--upstream=127.0.0.1:${String(upstreamPort)}`, `--tls-cert=${certs.userCert}`, `--tls-key=${certs.userKey}`, '--action=block', '--path=/fault']);
  const reply = await curl(['--http2', '-k', `https://127.0.0.1:${String(ic.port)}/x`]);
  t.is(reply.status, 200);
  t.is(reply.version, '1.1', 'curl offered h2 and http/1.1 and was given the upstream choice');
  t.is(reply.body.toString(), 'one-one');
  t.deepEqual(seen, [{ version: '1.1', alpn: 'http/1.1' }], 'the upstream chose http/1.1 of the two the client offered');
  const blocked = await curl(['--http2', '-k', `https://127.0.0.1:${String(ic.port)}/fault`]);
  t.is(blocked.status, 404);
  t.is(blocked.version, '1.1');
});

test('TLS: an upstream whose certificate the --upstream-ca does not vouch for is refused (counted as an upstream error)', async (t) => {
  const certs = await makeCerts(t);
  const server = await startTlsServer(t, certs);
  const ic = await startInterceptor(t, [
    `--upstream=127.0.0.1:${String(server.port)}`, `--tls-cert=${certs.userCert}`, `--tls-key=${certs.userKey}`,
    `--upstream-ca=${certs.userCert}`, '--action=block', '--path=/fault',
  ]);
  const error = await curl(['--http2', '-k', `https://127.0.0.1:${String(ic.port)}/ok`]).then(
    () => undefined,
    (e: unknown) => e,
  );
  t.truthy(error, 'the client got no answer');
  t.is(server.seen.length, 0);
  t.true(((await lastStats(ic))['upstreamErrors'] ?? 0) >= 1);
  // Without --upstream-ca the upstream is not verified.
  const lax = await startInterceptor(t, [`--upstream=127.0.0.1:${String(server.port)}`, `--tls-cert=${certs.userCert}`, `--tls-key=${certs.userKey}`, '--action=block', '--path=/fault']);
  t.is((await curl(['--http2', '-k', `https://127.0.0.1:${String(lax.port)}/ok`])).status, 200);
});

test('TLS: a key that does not match the certificate, or an unreadable file, stops it before ready with the reason', async (t) => {
  const certs = await makeCerts(t);
  const mismatch = await launchInterceptor(t, ['--upstream=127.0.0.1:9', `--tls-cert=${certs.userCert}`, `--tls-key=${certs.upstreamKey}`, '--action=block']);
  t.is(mismatch.ready, undefined);
  t.not(mismatch.exitCode, 0);
  t.regex(mismatch.lines.join('\n'), /does not match the certificate/);
  t.false(mismatch.lines.some((l) => l.includes('"ready"')));
  const missing = await launchInterceptor(t, ['--upstream=127.0.0.1:9', `--tls-cert=${path.join(certs.dir, 'absent.crt')}`, `--tls-key=${certs.userKey}`, '--action=block']);
  t.is(missing.ready, undefined);
  t.regex(missing.lines.join('\n'), /absent\.crt/);
  const alone = await launchInterceptor(t, ['--upstream=127.0.0.1:9', `--tls-cert=${certs.userCert}`, '--action=block']);
  t.is(alone.exitCode, 2, '--tls-cert without --tls-key is bad input');
});
