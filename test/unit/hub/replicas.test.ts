// SPDX-License-Identifier: Apache-2.0
// Two hub replicas (each its own PostgresHubStore: pool and LISTEN connection) on one real
// PostgreSQL 15, serving over TLS: runs are dispatched exactly once under concurrent long-polls on
// both, one at a time per infrastructure; a run queued or aborted through one replica wakes the
// long-polls held by the other within 100 ms. Skipped, saying why, where PostgreSQL is missing.
import { setMaxListeners } from 'node:events';

import test from 'ava';
import { request } from 'undici';

import { testPostgres, stopTestPostgres } from '../../helpers/hub-stores.js';
import { startHub, QUEUED_EXPERIMENT, type TestHub } from '../../helpers/hub.js';
import { postgresMissing } from '../../helpers/postgres.js';

test.after.always(stopTestPostgres);

const missing = postgresMissing();
const pgTest = missing ? test.skip : test.serial;
const skipNote = missing ? ` (skipped: ${missing})` : '';

type Teardown = { teardown(fn: () => void | Promise<void>): void };

/** Two replicas A and B on a new database (B shares A's TLS files, as replicas behind one name do). */
async function replicas(t: Teardown): Promise<[TestHub, TestHub]> {
  const url = await (await testPostgres()).createDatabase();
  const a = await startHub(t, { database: url });
  const b = await startHub(t, { dir: a.dir, database: url });
  return [a, b];
}

async function call(hub: TestHub, method: 'GET' | 'POST', route: string, token: string, body?: unknown, signal?: AbortSignal) {
  const response = await request(`${hub.url}${route}`, {
    method,
    dispatcher: hub.agent,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    ...(signal ? { signal } : {}),
  });
  const text = await response.body.text();
  return { status: response.statusCode, json: text ? (JSON.parse(text) as Record<string, unknown>) : undefined };
}

async function infra(hub: TestHub, name: string): Promise<{ infraId: string; token: string }> {
  const { id, accessKey } = await hub.service.createInfra(name);
  return { infraId: id, token: (await hub.service.exchangeToken({ infraId: id, accessKey }))?.accessToken ?? '' };
}

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? Number.NaN;
}

const INFRAS = 20;
const RUNS_PER_INFRA = 10;

pgTest(`200 queued runs on ${INFRAS} infrastructures are dispatched exactly once, one at a time each, to long-polls held on both replicas${skipNote}`, async (t) => {
  t.timeout(120_000);
  const [a, b] = await replicas(t);
  const fleet: { name: string; infraId: string; token: string }[] = [];
  for (let i = 0; i < INFRAS; i += 1) fleet.push({ name: `edge-${i}`, ...(await infra(i % 2 ? b : a, `edge-${i}`)) });
  // Queued alternately through both replicas.
  const queued = new Set<string>();
  const queueOrder = new Map<string, string[]>(fleet.map((f) => [f.name, []]));
  for (let r = 0; r < RUNS_PER_INFRA; r += 1) {
    for (const [i, f] of fleet.entries()) {
      const { id } = await ((i + r) % 2 ? b : a).service.queueRun(f.name, QUEUED_EXPERIMENT);
      queued.add(id);
      queueOrder.get(f.name)?.push(id);
    }
  }
  const received: string[] = [];
  const receivedOrder = new Map<string, string[]>(fleet.map((f) => [f.name, []]));
  /** Tasks of each infrastructure handed out and not yet answered: never more than one. */
  const outstanding = new Map<string, number>();
  let overlaps = 0;
  const stop = new AbortController();
  setMaxListeners(100, stop.signal);
  const started = performance.now();
  let allDone: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (allDone = resolve));
  // Each infrastructure polls both replicas at once (an agent's retried poll landing on the other
  // one); a task is answered with its result through the other replica.
  const poller = async (f: (typeof fleet)[number], on: TestHub, other: TestHub): Promise<void> => {
    while (!stop.signal.aborted) {
      let task;
      try {
        task = await call(on, 'GET', '/v1/tasks/next?waitSeconds=5', f.token, undefined, stop.signal);
      } catch {
        return; // aborted at the end
      }
      if (task.status !== 200) continue;
      const runId = String((task.json?.['task'] as { runId?: unknown } | undefined)?.runId);
      received.push(runId);
      receivedOrder.get(f.name)?.push(runId);
      if ((outstanding.get(f.name) ?? 0) > 0) overlaps += 1;
      // The run is out for 5 ms: a hand-out of the next one meanwhile is an overlap. Counted
      // down before the result is sent: the hub may hand out the next run the moment it has
      // stored the result, before this call returns.
      outstanding.set(f.name, 1);
      await new Promise((resolve) => setTimeout(resolve, 5));
      outstanding.set(f.name, 0);
      const result = await call(other, 'POST', `/v1/runs/${runId}/result`, f.token, { verdict: 'completed', faults: [] });
      if (result.status !== 204) t.fail(`result of ${runId}: ${result.status}`);
      if (received.length >= queued.size) allDone();
    }
  };
  const polls = fleet.flatMap((f) => [poller(f, a, b), poller(f, b, a)]);
  await Promise.race([done, new Promise((resolve) => setTimeout(resolve, 90_000))]);
  const elapsedMs = performance.now() - started;
  // A second of quiet: a duplicate hand-out would show up now.
  await new Promise((resolve) => setTimeout(resolve, 1000));
  stop.abort();
  await Promise.all(polls);
  t.is(received.length, queued.size, 'every run handed out');
  t.is(new Set(received).size, received.length, 'none twice');
  t.deepEqual([...received].sort(), [...queued].sort(), 'exactly the queued runs');
  t.is(overlaps, 0, 'never two runs of one infrastructure out at once');
  for (const f of fleet) {
    t.deepEqual(receivedOrder.get(f.name), queueOrder.get(f.name), `${f.name}: handed out in queue order`);
    t.is((await a.service.runs(f.name)).filter((r) => r.state === 'finished').length, RUNS_PER_INFRA, `${f.name}: every run finished`);
  }
  t.log(`${queued.size} runs on ${INFRAS} infrastructures, ${INFRAS * 2} concurrent long-polls over 2 replicas: all dispatched once in ${elapsedMs.toFixed(0)} ms (${((queued.size / elapsedMs) * 1000).toFixed(0)} runs/s incl. results)`);
});

pgTest(`a run queued or aborted through replica A wakes the long-poll held by replica B within 100 ms${skipNote}`, async (t) => {
  t.timeout(120_000);
  const [a, b] = await replicas(t);
  const { infraId, token } = await infra(a, 'edge-1');
  const queueMs: number[] = [];
  const abortMs: number[] = [];
  for (let i = 0; i < 20; i += 1) {
    // tasks/next held on B; the run is queued through A.
    // Under 10 s a poll is held in full (a longer one ends on the infrastructure's slot, poll-phase.ts).
    const polling = call(b, 'GET', '/v1/tasks/next?waitSeconds=9', token);
    await new Promise((resolve) => setTimeout(resolve, 150)); // the poll is held by now
    const queuedAt = performance.now();
    const run = await a.service.queueRun('edge-1', QUEUED_EXPERIMENT);
    const task = await polling;
    queueMs.push(performance.now() - queuedAt);
    t.like(task.json, { task: { runId: run.id } });
    // runs/{id}/abort held on B; the abort is asked through A.
    const aborting = call(b, 'GET', `/v1/runs/${run.id}/abort?waitSeconds=10`, token);
    await new Promise((resolve) => setTimeout(resolve, 150));
    const abortAt = performance.now();
    t.is(await a.service.requestAbort(run.id), 'requested');
    const answer = await aborting;
    abortMs.push(performance.now() - abortAt);
    t.like(answer.json, { abort: true, reason: 'aborted from the hub' });
    t.is((await call(b, 'POST', `/v1/runs/${run.id}/result`, token, { verdict: 'aborted', faults: [] })).status, 204);
  }
  t.truthy(infraId);
  const summary = (ms: number[]) => `p50 ${percentile(ms, 0.5).toFixed(1)} ms, p99 ${percentile(ms, 0.99).toFixed(1)} ms, max ${Math.max(...ms).toFixed(1)} ms`;
  t.log(`queued via A → task on B: ${summary(queueMs)} (n=${queueMs.length})`);
  t.log(`aborted via A → abort answer on B: ${summary(abortMs)} (n=${abortMs.length})`);
  t.true(Math.max(...queueMs) < 100, `queue wake ${summary(queueMs)}`);
  t.true(Math.max(...abortMs) < 100, `abort wake ${summary(abortMs)}`);
});
