// SPDX-License-Identifier: Apache-2.0
// The http check against real HTTP and HTTPS servers on 127.0.0.1 that the tests start and flip.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

import test, { type ExecutionContext } from 'ava';

import { isFaultdError } from '../../../src/errors.js';
import { createHttpCheck } from '../../../src/probes/checks/http.js';
import type { HttpCheckSpec, ProbeCheck } from '../../../src/probes/types.js';
import { probeTarget, selfSignedCertificate } from '../../helpers/http-servers.js';

const NEVER = new AbortController().signal;

function spec(url: string, more: Partial<Omit<HttpCheckSpec, 'criteria'>> & { criteria?: Partial<HttpCheckSpec['criteria']> } = {}): HttpCheckSpec {
  const { criteria, ...rest } = more;
  return {
    type: 'http',
    url,
    method: 'GET',
    headers: {},
    insecureSkipVerify: false,
    ...rest,
    criteria: { responseCode: { type: 'int', criteria: '==', value: 200 }, ...criteria },
  };
}

function check(t: ExecutionContext, s: HttpCheckSpec): ProbeCheck {
  const made = createHttpCheck(s);
  t.teardown(() => made.close());
  return made;
}

function certificateDir(t: ExecutionContext): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'faultd-probe-tls-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('responseCode ==: passes on 200, fails when the server turns to 503', async (t) => {
  const target = await probeTarget(t);
  const probe = check(t, spec(`${target.origin}/health`));
  const up = await probe.attempt(2000, NEVER);
  t.like(up, { passed: true, observed: '200', criterion: 'responseCode (int) == 200' });
  t.is(up.error, undefined);
  target.answer({ status: 503, body: 'down' });
  const down = await probe.attempt(2000, NEVER);
  t.like(down, { passed: false, observed: '503' });
  t.is(down.error, undefined, 'a wrong status is observed, not an error');
  t.deepEqual(target.requests().map((r) => `${r.method} ${r.url}`), ['GET /health', 'GET /health']);
});

test('responseCode != and oneOf', async (t) => {
  const target = await probeTarget(t);
  const notError = check(t, spec(target.origin, { criteria: { responseCode: { type: 'int', criteria: '!=', value: 500 } } }));
  const oneOf = check(t, spec(target.origin, { criteria: { responseCode: { type: 'int', criteria: 'oneOf', value: [200, 204] } } }));
  target.answer({ status: 204, body: '' });
  t.true((await notError.attempt(2000, NEVER)).passed);
  t.true((await oneOf.attempt(2000, NEVER)).passed);
  target.answer({ status: 500, body: 'boom' });
  t.false((await notError.attempt(2000, NEVER)).passed);
  t.false((await oneOf.attempt(2000, NEVER)).passed);
});

test('body contains and matches on the whole body', async (t) => {
  const target = await probeTarget(t);
  target.answer({ body: 'status: healthy, version 2.4.1' });
  const contains = check(t, spec(target.origin, { criteria: { body: { type: 'string', criteria: 'contains', value: 'healthy' } } }));
  const matches = check(t, spec(target.origin, { criteria: { body: { type: 'string', criteria: 'matches', value: 'version 2\\.\\d+' } } }));
  const passing = await contains.attempt(2000, NEVER);
  t.like(passing, { passed: true, observed: '200, body "status: healthy, version 2.4.1"', criterion: 'responseCode (int) == 200, body (string) contains "healthy"' });
  t.true((await matches.attempt(2000, NEVER)).passed);
  target.answer({ body: 'status: degraded, version 3.0.0' });
  t.like(await contains.attempt(2000, NEVER), { passed: false, observed: '200, body "status: degraded, version 3.0.0"' });
  t.false((await matches.attempt(2000, NEVER)).passed);
});

test('body JSON path compared as an int; absent path and non-JSON bodies are errors', async (t) => {
  const target = await probeTarget(t);
  const probe = check(t, spec(target.origin, { criteria: { body: { type: 'int', criteria: '>=', value: 3, jsonPath: '$.pool[0].ready' } } }));
  target.answer({ contentType: 'application/json', body: JSON.stringify({ pool: [{ ready: 4 }] }) });
  t.like(await probe.attempt(2000, NEVER), { passed: true, observed: '200, $.pool[0].ready "4"', criterion: 'responseCode (int) == 200, body $.pool[0].ready (int) >= 3' });
  target.answer({ body: JSON.stringify({ pool: [{ ready: 2 }] }) });
  t.like(await probe.attempt(2000, NEVER), { passed: false, observed: '200, $.pool[0].ready "2"' });
  target.answer({ body: JSON.stringify({ pool: [] }) });
  t.like(await probe.attempt(2000, NEVER), { passed: false, error: '$.pool[0].ready not found in the body' });
  target.answer({ body: JSON.stringify({ pool: [{ ready: { n: 1 } }] }) });
  t.like(await probe.attempt(2000, NEVER), { passed: false, error: '$.pool[0].ready is an object, not a scalar' });
  target.answer({ body: JSON.stringify({ pool: [{ ready: 'many' }] }) });
  t.like(await probe.attempt(2000, NEVER), { passed: false, error: 'body: expected an integer, saw "many"' });
  target.answer({ contentType: 'text/html', body: '<html>maintenance</html>' });
  const html = await probe.attempt(2000, NEVER);
  t.false(html.passed);
  t.regex(html.error ?? '', /^body is not JSON \(.+\): "<html>maintenance<\/html>"$/);
  t.throws(() => createHttpCheck(spec(target.origin, { criteria: { body: { type: 'int', criteria: '==', value: 1, jsonPath: '$.a[*]' } } })), {
    message: /criteria\.body\.jsonPath: JSON path "\$\.a\[\*\]"/,
  });
});

test('maxResponseTime: a slow answer fails it, a fast one passes; latency covers the wait', async (t) => {
  const target = await probeTarget(t);
  const strict = check(t, spec(target.origin, { criteria: { maxResponseTimeMs: 150 } }));
  const loose = check(t, spec(target.origin, { criteria: { maxResponseTimeMs: 2000 } }));
  const fast = await strict.attempt(2000, NEVER);
  t.true(fast.passed);
  t.true(fast.latencyMs < 150);
  target.answer({ delayMs: 400 });
  const slow = await strict.attempt(2000, NEVER);
  t.like(slow, { passed: false, criterion: 'responseCode (int) == 200, responseTime <= 150 ms' });
  t.regex(slow.observed, /^200, (39\d|[4-9]\d\d|1\d\d\d) ms$/);
  t.true(slow.latencyMs >= 395 && slow.latencyMs < 1500, `latency ${slow.latencyMs}`);
  t.true((await loose.attempt(2000, NEVER)).passed);
});

test('a server that never answers: "timed out" at the probe timeout, and the connection is dropped', async (t) => {
  const target = await probeTarget(t);
  const probe = check(t, spec(target.origin));
  target.answer({ hang: true });
  const started = performance.now();
  const outcome = await probe.attempt(300, NEVER);
  const elapsed = performance.now() - started;
  t.like(outcome, { passed: false, observed: '-', error: 'timed out after 300 ms' });
  t.true(elapsed >= 295 && elapsed < 300 + 150, `returned after ${elapsed} ms`);
  t.is(target.requests().length, 1, 'the request reached the server');
  await new Promise((resolve) => setTimeout(resolve, 100));
  const { accepted, closed } = target.connections();
  t.true(accepted >= 1);
  t.is(closed, accepted, 'the client closed the connection it gave up on (none left open on the server)');
  target.answer({ hang: false });
  t.true((await probe.attempt(2000, NEVER)).passed, 'the next attempt gets a fresh connection');
});

test('the caller\'s signal aborts an attempt ("aborted")', async (t) => {
  const target = await probeTarget(t);
  const probe = check(t, spec(target.origin));
  target.answer({ hang: true });
  const controller = new AbortController();
  setTimeout(() => controller.abort(), 100);
  const started = performance.now();
  const outcome = await probe.attempt(5000, controller.signal);
  t.like(outcome, { passed: false, error: 'aborted' });
  t.true(performance.now() - started < 1000);
});

test('keep-alive: attempts reuse one connection; close() ends it', async (t) => {
  const target = await probeTarget(t);
  const probe = createHttpCheck(spec(target.origin));
  for (let i = 0; i < 5; i++) t.true((await probe.attempt(2000, NEVER)).passed);
  t.is(target.requests().length, 5);
  t.deepEqual(target.connections(), { accepted: 1, closed: 0 });
  await probe.close();
  await probe.close();
  await new Promise((resolve) => setTimeout(resolve, 100));
  t.deepEqual(target.connections(), { accepted: 1, closed: 1 });
  t.like(await probe.attempt(2000, NEVER), { passed: false, error: 'check closed' });
});

test('POST sends the body and headers', async (t) => {
  const target = await probeTarget(t);
  const probe = check(t, spec(`${target.origin}/submit?x=1`, { method: 'POST', body: '{"ping":true}', headers: { 'content-type': 'application/json', 'x-probe': 'faultd' } }));
  t.true((await probe.attempt(2000, NEVER)).passed);
  const [request] = target.requests();
  t.like(request, { method: 'POST', url: '/submit?x=1', body: '{"ping":true}' });
  t.is(request?.headers['x-probe'], 'faultd');
  t.is(request?.headers['content-type'], 'application/json');
  t.is(request?.headers['user-agent'], 'faultd-probe');
  const own = check(t, spec(target.origin, { headers: { 'User-Agent': 'mine/1' } }));
  t.true((await own.attempt(2000, NEVER)).passed);
  t.is(target.requests()[1]?.headers['user-agent'], 'mine/1', 'the probe\'s own User-Agent, not two');
});

test('a body over 1 MiB fails a body criterion with a clear error; without one it is drained and passes', async (t) => {
  const target = await probeTarget(t);
  target.answer({ body: Buffer.alloc(2 * 1024 * 1024, 'a') });
  const withBody = check(t, spec(target.origin, { criteria: { body: { type: 'string', criteria: 'contains', value: 'a' } } }));
  t.like(await withBody.attempt(5000, NEVER), { passed: false, error: 'response body larger than 1 MiB' });
  const statusOnly = check(t, spec(target.origin));
  t.true((await statusOnly.attempt(5000, NEVER)).passed);
  t.true((await statusOnly.attempt(5000, NEVER)).passed);
});

test('connection refused is an error naming ECONNREFUSED', async (t) => {
  const port = await new Promise<number>((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
  const outcome = await check(t, spec(`http://127.0.0.1:${port}/`)).attempt(2000, NEVER);
  t.false(outcome.passed);
  t.regex(outcome.error ?? '', /ECONNREFUSED/);
});

test('TLS with a self-signed certificate: refused without its CA, trusted with caFile, accepted with insecureSkipVerify', async (t) => {
  const certificate = selfSignedCertificate(certificateDir(t), []);
  const target = await probeTarget(t, { tls: certificate });
  const untrusted = await check(t, spec(target.origin)).attempt(2000, NEVER);
  t.false(untrusted.passed);
  t.regex(untrusted.error ?? '', /self[- ]signed certificate/i);
  t.is(target.requests().length, 0, 'no request was sent over the untrusted connection');
  t.like(await check(t, spec(target.origin, { caFile: certificate.certificate })).attempt(2000, NEVER), { passed: true, observed: '200' });
  t.like(await check(t, spec(target.origin, { insecureSkipVerify: true })).attempt(2000, NEVER), { passed: true, observed: '200' });
  t.is(target.requests().length, 2);
  const other = selfSignedCertificate(certificateDir(t), []);
  const wrongCa = await check(t, spec(target.origin, { caFile: other.certificate })).attempt(2000, NEVER);
  t.false(wrongCa.passed, 'another CA does not vouch for this server');
});

test('an unreadable caFile is refused when the check is made', (t) => {
  const error = t.throws(() => createHttpCheck(spec('https://127.0.0.1:1/', { caFile: '/nonexistent/ca.pem' })));
  t.true(isFaultdError(error, 'FAULTD_ERR_INPUT_INVALID'));
  t.regex(error.message, /caFile \/nonexistent\/ca\.pem: cannot be read .*ENOENT/);
});
