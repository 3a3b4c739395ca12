// SPDX-License-Identifier: Apache-2.0
// The web console's files as the hub serves them at /ui/ (src/hub/console-assets.ts): redirects,
// content types, caching and ETag revalidation, the Content-Security-Policy, no way out of the
// console's folder, and the built console of this checkout (npm run build) served whole.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

import test, { type ExecutionContext } from 'ava';
import { request } from 'undici';

import { CONSOLE_CSP, consoleDir } from '../../../src/hub/console-assets.js';
import { startHubServer } from '../../../src/hub/server.js';
import { HubService } from '../../../src/hub/service.js';
import { SqliteHubStore } from '../../../src/hub/sqlite-store.js';
import { SILENT, startHub } from '../../helpers/hub.js';

/** A plain-HTTP hub on 127.0.0.1 serving the console from `dir`. */
async function hubWithConsole(t: ExecutionContext, dir?: string): Promise<string> {
  const state = mkdtempSync(path.join(tmpdir(), 'faultd-console-hub-'));
  const store = new SqliteHubStore(path.join(state, 'hub.db'));
  const server = await startHubServer({ service: new HubService(store), logger: SILENT, host: '127.0.0.1', port: 0, insecureHttp: true, ...(dir ? { consoleDir: dir } : {}) });
  t.teardown(async () => {
    await server.close();
    store.close();
    rmSync(state, { recursive: true, force: true });
  });
  return server.url;
}

/** A console folder with an HTML shell, a script and a stylesheet; and a secret next to it. */
function fakeConsole(t: ExecutionContext): string {
  const root = mkdtempSync(path.join(tmpdir(), 'faultd-console-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const dir = path.join(root, 'console');
  mkdirSync(path.join(dir, 'assets'), { recursive: true });
  writeFileSync(path.join(dir, 'index.html'), '<!doctype html><title>x</title><script type="module" src="assets/main-A1.js"></script>');
  writeFileSync(path.join(dir, 'assets', 'main-A1.js'), 'console.log(1);');
  writeFileSync(path.join(dir, 'assets', 'main-A1.css'), 'body{}');
  writeFileSync(path.join(dir, 'assets', 'notes.unknown'), 'not a type the console serves');
  writeFileSync(path.join(root, 'secret.txt'), 'outside the console');
  return dir;
}

async function get(url: string, headers: Record<string, string> = {}, method: 'GET' | 'HEAD' | 'POST' = 'GET') {
  const response = await request(url, { method, headers });
  const body = await response.body.text();
  return { status: response.statusCode, headers: response.headers, body };
}

/** A request line sent as it is (fetch and undici normalise `..` away). */
async function rawGet(url: string, target: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.end(`GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`));
    let answer = '';
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString('utf8')));
    socket.on('end', () => resolve(answer));
    socket.on('error', reject);
  });
}

test('/ and /ui redirect to /ui/, which serves the HTML shell with a strict CSP and no caching without revalidation', async (t) => {
  const url = await hubWithConsole(t, fakeConsole(t));
  for (const from of ['/', '/ui']) {
    const r = await get(`${url}${from}`);
    t.is(r.status, 302, from);
    t.is(r.headers['location'], '/ui/', from);
  }
  const shell = await get(`${url}/ui/`);
  t.is(shell.status, 200);
  t.is(shell.headers['content-type'], 'text/html; charset=utf-8');
  t.is(shell.headers['cache-control'], 'no-cache');
  t.is(shell.headers['content-security-policy'], CONSOLE_CSP);
  t.regex(CONSOLE_CSP, /default-src 'self'/);
  t.notRegex(CONSOLE_CSP, /unsafe-inline|unsafe-eval/);
  t.is(shell.headers['x-content-type-options'], 'nosniff');
  t.regex(shell.body, /assets\/main-A1\.js/);
});

test('assets have their content type, a year of immutable caching and an ETag answered with 304', async (t) => {
  const url = await hubWithConsole(t, fakeConsole(t));
  const js = await get(`${url}/ui/assets/main-A1.js`);
  t.is(js.status, 200);
  t.is(js.headers['content-type'], 'text/javascript; charset=utf-8');
  t.is(js.headers['cache-control'], 'public, max-age=31536000, immutable');
  t.is(js.body, 'console.log(1);');
  const etag = String(js.headers['etag']);
  t.regex(etag, /^"[A-Za-z0-9_-]{27}"$/);
  const again = await get(`${url}/ui/assets/main-A1.js`, { 'if-none-match': etag });
  t.is(again.status, 304);
  t.is(again.body, '');
  const css = await get(`${url}/ui/assets/main-A1.css`);
  t.is(css.headers['content-type'], 'text/css; charset=utf-8');
  t.not(css.headers['etag'], etag, 'each file its own ETag');
  const head = await get(`${url}/ui/assets/main-A1.css`, {}, 'HEAD');
  t.is(head.status, 200);
  t.is(head.headers['content-length'], '6');
  t.is(head.body, '');
  t.is((await get(`${url}/ui/assets/main-A1.css`, {}, 'POST')).status, 405);
});

test('nothing outside the console folder, and no file of a type it does not serve', async (t) => {
  const url = await hubWithConsole(t, fakeConsole(t));
  for (const target of ['/ui/../secret.txt', '/ui/assets/../../secret.txt', '/ui/%2e%2e/secret.txt', '/ui/..%2fsecret.txt', '/ui//etc/passwd', '/ui/assets/notes.unknown', '/ui/assets/', '/ui/assets']) {
    const answer = await rawGet(url, target);
    t.regex(answer, /^HTTP\/1\.1 404 /, target);
    t.notRegex(answer, /outside the console/, target);
  }
  // The agent API is still there, beside the console.
  t.is((await get(`${url}/v1/heartbeat`, {}, 'POST')).status, 401);
});

test('a hub whose console is not built says so (503) and still serves the agent API', async (t) => {
  const url = await hubWithConsole(t, path.join(tmpdir(), 'faultd-no-console-here'));
  const r = await get(`${url}/ui/`);
  t.is(r.status, 503);
  t.regex(r.body, /npm run build/);
  t.is((await get(`${url}/v1/tasks/next`)).status, 401);
});

test('the console built by npm run build: its shell names a script and a stylesheet the hub serves, with no inline script', async (t) => {
  t.truthy(consoleDir());
  const url = await hubWithConsole(t);
  const shell = await get(`${url}/ui/`);
  t.is(shell.status, 200, 'dist/console/index.html exists (npm run build)');
  const js = /<script type="module" src="(assets\/main-[A-Z0-9]+\.js)"><\/script>/.exec(shell.body)?.[1];
  const css = /<link rel="stylesheet" href="(assets\/main-[A-Z0-9]+\.css)">/.exec(shell.body)?.[1];
  t.truthy(js);
  t.truthy(css);
  t.is((shell.body.match(/<script/g) ?? []).length, 1, 'one script element, with a src');
  t.notRegex(shell.body, /<style|style=/);
  const script = await get(`${url}/ui/${js ?? ''}`);
  t.is(script.status, 200);
  t.is(script.headers['content-type'], 'text/javascript; charset=utf-8');
  t.regex(script.body, /"\/api\/v1"/, 'the console script calls the operator API');
  t.notRegex(script.body, /https?:\/\/(cdn|unpkg|fonts)\./, 'nothing from a CDN');
  t.is((await get(`${url}/ui/${css ?? ''}`)).headers['content-type'], 'text/css; charset=utf-8');
});

test('under --require-client-cert a browser without a client certificate still gets the console (it logs in with a password), and an agent call without one is refused', async (t) => {
  const hub = await startHub(t, { requireClientCert: true });
  const shell = await request(`${hub.url}/ui/`, { dispatcher: hub.agent });
  t.is(shell.statusCode, 200);
  t.regex(await shell.body.text(), /<script type="module"/);
  const agentCall = await request(`${hub.url}/v1/heartbeat`, { method: 'POST', dispatcher: hub.agent, headers: { 'content-type': 'application/json' }, body: '{}' });
  await agentCall.body.text();
  t.is(agentCall.statusCode, 401);
});
