// SPDX-License-Identifier: Apache-2.0
/** The abort call against a real hub: held until the abort, answered at once, and its fallbacks. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';

import test from 'ava';

import { watchForAbort } from '../../../src/agent/abort-channel.js';
import { HubClient } from '../../../src/agent/hub-client.js';
import { HubLink } from '../../../src/agent/hub-link.js';
import { TokenSource } from '../../../src/agent/token-source.js';
import { HubService } from '../../../src/hub/service.js';
import { SqliteHubStore } from '../../../src/hub/sqlite-store.js';
import { dispatchRun, linkTo, SILENT, startHub } from '../../helpers/hub.js';

async function dispatchedRun(t: Parameters<typeof startHub>[0]) {
  const hub = await startHub(t);
  const { infraId, link } = await linkTo(t, hub);
  const runId = await dispatchRun(hub, infraId);
  return { hub, link, runId };
}

test('held until the hub aborts the run, then answered at once', async (t) => {
  const { hub, link, runId } = await dispatchedRun(t);
  const ended = new AbortController();
  t.teardown(() => ended.abort());
  const reasons: string[] = [];
  let abortedAt = 0;
  const watching = watchForAbort({ link, logger: SILENT, waitMs: 30_000 }, runId, ended.signal, (reason) => {
    abortedAt = Date.now();
    reasons.push(reason);
  });
  await new Promise((resolve) => setTimeout(resolve, 500));
  t.deepEqual(reasons, [], 'nothing while the run may go on');
  const requestedAt = Date.now();
  t.is(await hub.service.requestAbort(runId), 'requested');
  await watching;
  t.deepEqual(reasons, ['aborted from the hub']);
  // Well before the 30 s hold ends (how fast exactly is `npm run bench`'s business).
  t.true(abortedAt - requestedAt < 2000, `answered ${abortedAt - requestedAt} ms after the abort`);
});

test('a short wait ends in 204 and the call is made again; a run closed without its agent is aborted too', async (t) => {
  const { hub, link, runId } = await dispatchedRun(t);
  const ended = new AbortController();
  t.teardown(() => ended.abort());
  const reasons: string[] = [];
  const watching = watchForAbort({ link, logger: SILENT, waitMs: 1000 }, runId, ended.signal, (reason) => reasons.push(reason));
  await new Promise((resolve) => setTimeout(resolve, 1600));
  await hub.service.closeRun(runId, 'operator');
  await watching;
  t.is(reasons.length, 1);
  t.regex(reasons[0] ?? '', /already finished/);
});

test('a run the hub does not know (or a control plane without the call) ends the channel: heartbeats carry aborts', async (t) => {
  const hub = await startHub(t);
  const { link } = await linkTo(t, hub);
  const reasons: string[] = [];
  await watchForAbort({ link, logger: SILENT, waitMs: 30_000 }, 'no-such-run', new AbortController().signal, (reason) => reasons.push(reason));
  t.deepEqual(reasons, []);
});

test('the run ending stops the channel at once, without an abort', async (t) => {
  const { link, runId } = await dispatchedRun(t);
  const ended = new AbortController();
  const reasons: string[] = [];
  const watching = watchForAbort({ link, logger: SILENT, waitMs: 30_000 }, runId, ended.signal, (reason) => reasons.push(reason));
  await new Promise((resolve) => setTimeout(resolve, 300));
  const stoppedAt = Date.now();
  ended.abort();
  await watching;
  t.true(Date.now() - stoppedAt < 500);
  t.deepEqual(reasons, []);
});

test('an abort made by another process (another store on the same hub.db) reaches the held call long before the hold ends', async (t) => {
  const { hub, link, runId } = await dispatchedRun(t);
  const other = new SqliteHubStore(path.join(hub.dir, 'hub.db'));
  t.teardown(() => other.close());
  const ended = new AbortController();
  t.teardown(() => ended.abort());
  let abortedAt = 0;
  const watching = watchForAbort({ link, logger: SILENT, waitMs: 30_000 }, runId, ended.signal, () => (abortedAt = Date.now()));
  await new Promise((resolve) => setTimeout(resolve, 300));
  const requestedAt = Date.now();
  new HubService(other, {}).requestAbort(runId);
  await watching;
  t.true(abortedAt > 0 && abortedAt - requestedAt < 2000, `answered ${abortedAt - requestedAt} ms after the other process's abort`);
});

test('a control plane that answers the abort call at once (it does not hold it) is asked at most once a second', async (t) => {
  let abortCalls = 0;
  // A minimal control plane of its own: tokens, and an abort call it answers 204 at once.
  const server = createServer((req, res) => {
    if (req.url === '/v1/token') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ accessToken: `fdt_${'a'.repeat(32)}`, expiresAt: new Date(Date.now() + 600_000).toISOString(), ttlSeconds: 600 }));
      return;
    }
    abortCalls += 1;
    res.writeHead(204);
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    server.closeAllConnections();
    server.close();
  });
  const dir = mkdtempSync(path.join(tmpdir(), 'faultd-agent-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const keyFile = path.join(dir, 'access-key');
  writeFileSync(keyFile, `fdk_${'k'.repeat(32)}\n`, { mode: 0o600 });
  const { port } = server.address() as { port: number };
  const client = new HubClient({ url: `http://127.0.0.1:${port}`, insecure: true });
  t.teardown(() => client.close());
  const link = new HubLink(client, new TokenSource({ client, infraId: 'inf_x', keyFile, logger: SILENT }));
  const ended = new AbortController();
  const watching = watchForAbort({ link, logger: SILENT, waitMs: 30_000 }, 'run_x', ended.signal, () => undefined);
  await new Promise((resolve) => setTimeout(resolve, 2500));
  ended.abort();
  await watching;
  t.true(abortCalls >= 2 && abortCalls <= 4, `${abortCalls} calls in 2.5 s`);
});
