// SPDX-License-Identifier: Apache-2.0
// GET /api/v1/runs/:id/events over TLS: a live run's log lines, status events and state as
// server-sent events, ending when the run has ended; Last-Event-ID resumes; streams are bounded.
// Each test on SQLite and on a real PostgreSQL (skipped, saying why, where it is not installed).
import test from 'ava';
import { request } from 'undici';

import { dispatchRun, linkTo, startHub, type TestHub } from '../../../helpers/hub.js';
import { stopTestPostgres, testOnStores } from '../../../helpers/hub-stores.js';
import { addOperator, apiToken } from '../../../helpers/operator-api.js';

test.after.always(stopTestPostgres);

interface SseEvent {
  readonly event: string;
  readonly id?: string;
  readonly data: unknown;
}

/** Opens the stream; `events` fills as they arrive, `done` resolves when the hub closes it. */
async function openStream(hub: TestHub, token: string, runId: string, headers: Record<string, string> = {}) {
  const response = await request(`${hub.url}/api/v1/runs/${runId}/events`, { dispatcher: hub.agent, headers: { authorization: `Bearer ${token}`, ...headers } });
  const events: SseEvent[] = [];
  const comments: string[] = [];
  const done = (async () => {
    let buffer = '';
    for await (const chunk of response.body) {
      buffer += (chunk as Buffer).toString('utf8');
      for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const fields = new Map<string, string>();
        for (const line of block.split('\n')) {
          if (line.startsWith(':')) comments.push(line);
          const colon = line.indexOf(': ');
          if (colon > 0) fields.set(line.slice(0, colon), line.slice(colon + 2));
        }
        const event = fields.get('event');
        const id = fields.get('id');
        if (event) events.push({ event, data: JSON.parse(fields.get('data') ?? 'null') as unknown, ...(id === undefined ? {} : { id }) });
      }
    }
  })();
  return { status: response.statusCode, contentType: String(response.headers['content-type']), events, comments, done };
}

async function until(check: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

testOnStores(test, 'a live run streams its logs, status and state, then end; the stream closes', async (t, backend) => {
  const hub = await startHub(t, { backend, streams: { pollMs: 50, heartbeatMs: 100 } });
  const { infraId } = await linkTo(t, hub);
  await addOperator(hub, 'vic', 'viewer');
  const token = await apiToken(hub, 'vic');
  const runId = await dispatchRun(hub, infraId);
  const stream = await openStream(hub, token, runId);
  t.is(stream.status, 200);
  t.regex(stream.contentType, /^text\/event-stream/);
  await until(() => stream.events.some((e) => e.event === 'state'));
  t.deepEqual(stream.events.find((e) => e.event === 'state')?.data, { state: 'dispatched' });
  const at = new Date().toISOString();
  await hub.service.reportStatus(infraId, runId, { events: [{ seq: 1, at, faultId: 'f1', phase: 'applying' }] });
  await hub.service.reportLogs(infraId, runId, { entries: [{ seq: 1, at, level: 'info', message: 'one' }, { seq: 2, at, level: 'warn', message: 'two' }] });
  await until(() => stream.events.filter((e) => e.event === 'log').length === 2);
  t.deepEqual(stream.events.filter((e) => e.event === 'log').map((e) => [e.id, (e.data as { message: string }).message]), [['1', 'one'], ['2', 'two']]);
  t.deepEqual(stream.events.find((e) => e.event === 'status')?.data, { seq: 1, at, faultId: 'f1', phase: 'applying' });
  await until(() => stream.comments.length > 0);
  t.is(stream.comments[0], ': keep-alive', 'heartbeat comments while idle');
  await hub.service.reportLogs(infraId, runId, { entries: [{ seq: 3, at, level: 'info', message: 'three' }] });
  await hub.service.reportResult(infraId, runId, { verdict: 'completed', faults: [] });
  await stream.done;
  const names = stream.events.map((e) => e.event);
  t.is(names.at(-1), 'end');
  t.deepEqual(stream.events.at(-1)?.data, { state: 'finished', verdict: 'completed' });
  t.deepEqual(stream.events.filter((e) => e.event === 'log').map((e) => e.id), ['1', '2', '3'], 'every line, before end');
  t.true(stream.events.some((e) => e.event === 'state' && (e.data as { state: string }).state === 'running'));
  // Resuming after line 2 sends line 3 only, then end at once (the run has ended).
  const resumed = await openStream(hub, token, runId, { 'last-event-id': '2' });
  await resumed.done;
  t.deepEqual(resumed.events.filter((e) => e.event === 'log').map((e) => e.id), ['3']);
  t.is(resumed.events.at(-1)?.event, 'end');
});

testOnStores(test, 'streams are bounded: beyond maxStreams the hub answers 503 TOO_MANY_STREAMS; an unknown run is 404', async (t, backend) => {
  const hub = await startHub(t, { backend, streams: { maxStreams: 2, pollMs: 50 } });
  const { infraId } = await linkTo(t, hub);
  await addOperator(hub, 'vic', 'viewer');
  const token = await apiToken(hub, 'vic');
  const runId = await dispatchRun(hub, infraId);
  const first = await openStream(hub, token, runId);
  const second = await openStream(hub, token, runId);
  t.is(first.status, 200);
  t.is(second.status, 200);
  const third = await request(`${hub.url}/api/v1/runs/${runId}/events`, { dispatcher: hub.agent, headers: { authorization: `Bearer ${token}` } });
  t.is(third.statusCode, 503);
  t.like(await third.body.json(), { error: { code: 'TOO_MANY_STREAMS' } });
  const unknown = await request(`${hub.url}/api/v1/runs/run_nope/events`, { dispatcher: hub.agent, headers: { authorization: `Bearer ${token}` } });
  t.is(unknown.statusCode, 404);
  await unknown.body.dump();
  await hub.service.reportResult(infraId, runId, { verdict: 'completed', faults: [] });
  await Promise.all([first.done, second.done]);
  // Both ended: a new stream is served again.
  const again = await openStream(hub, token, runId);
  t.is(again.status, 200);
  await again.done;
});
