// SPDX-License-Identifier: Apache-2.0
// Runs on the hub over real TLS: queueing in order, one at a time per infrastructure, long-poll,
// status, numbered logs (duplicates and gaps), results, abort, and a restart mid-run; each test
// on SQLite and on a real PostgreSQL (skipped, saying why, where it is not installed).
import test from 'ava';
import { request } from 'undici';

import { phasedWaitMs, phaseOf } from '../../../src/hub/poll-phase.js';
import { HubService } from '../../../src/hub/service.js';
import { startHub, type TestHub } from '../../helpers/hub.js';
import { stopTestPostgres, testOnStores } from '../../helpers/hub-stores.js';

test.after.always(stopTestPostgres);

const EXPERIMENT = { apiVersion: 'faultd/v1', kind: 'Experiment', metadata: { name: 'x' }, spec: { steps: [{ faults: [{ kind: 'linux-cpu-stress', duration: '1s' }] }] } };

async function call(hub: TestHub, method: 'GET' | 'POST', route: string, token: string, body?: unknown) {
  const response = await request(`${hub.url}${route}`, {
    method,
    dispatcher: hub.agent,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.body.text();
  return { status: response.statusCode, json: text ? (JSON.parse(text) as Record<string, unknown>) : undefined };
}

async function agentToken(hub: TestHub, name: string): Promise<{ infraId: string; token: string }> {
  const { id, accessKey } = await hub.service.createInfra(name);
  return { infraId: id, token: (await hub.service.exchangeToken({ infraId: id, accessKey }))?.accessToken ?? '' };
}

const at = () => new Date().toISOString();
const log = (seq: number) => ({ seq, at: at(), level: 'info' as const, message: `line ${seq}` });

testOnStores(test, 'runs are handed out in order, one at a time, and finish with status, logs and a result', async (t, backend) => {
  const hub = await startHub(t, { backend });
  const { token } = await agentToken(hub, 'edge-1');
  const first = await hub.service.queueRun('edge-1', EXPERIMENT);
  const second = await hub.service.queueRun('edge-1', EXPERIMENT);
  const task = await call(hub, 'GET', '/v1/tasks/next?waitSeconds=0', token);
  t.is(task.status, 200);
  t.like(task.json, { task: { runId: first.id, experiment: EXPERIMENT } });
  t.is((await call(hub, 'GET', '/v1/tasks/next?waitSeconds=1', token)).status, 204, 'the second waits while the first is out');
  t.is((await call(hub, 'POST', `/v1/runs/${first.id}/status`, token, { events: [{ at: at(), phase: 'running' }, { at: at(), faultId: 'f1', phase: 'applied' }] })).status, 204);
  t.is((await hub.service.run(first.id))?.state, 'running');
  // Out of order, with a duplicate and a gap: only the contiguous prefix is acknowledged.
  t.like((await call(hub, 'POST', `/v1/runs/${first.id}/logs`, token, { entries: [log(1), log(2), log(4)] })).json, { ackedThrough: 2 });
  t.like((await call(hub, 'POST', `/v1/runs/${first.id}/logs`, token, { entries: [log(2), log(3)] })).json, { ackedThrough: 4 });
  t.deepEqual((await hub.service.runLogs(first.id, 0)).map((e) => e.seq), [1, 2, 3, 4], 'each line once, in order');
  const result = { verdict: 'completed', faults: [{ faultId: 'f1', kind: 'linux-cpu-stress', status: 'completed', revert: 'reverted' }] };
  t.is((await call(hub, 'POST', `/v1/runs/${first.id}/result`, token, result)).status, 204);
  t.is((await call(hub, 'POST', `/v1/runs/${first.id}/result`, token, result)).status, 409, 'a run ends once');
  t.like(await hub.service.run(first.id), { state: 'finished', result: { verdict: 'completed' } });
  t.like((await call(hub, 'GET', '/v1/tasks/next', token)).json, { task: { runId: second.id } });
});

testOnStores(test, 'a long-poll answers as soon as a run is queued', async (t, backend) => {
  const hub = await startHub(t, { backend });
  const { token } = await agentToken(hub, 'edge-1');
  const started = Date.now();
  // Under 10 s a poll is held in full (a longer one ends on the infrastructure's slot, poll-phase.ts).
  const polling = call(hub, 'GET', '/v1/tasks/next?waitSeconds=9', token);
  await new Promise((resolve) => setTimeout(resolve, 500));
  const run = await hub.service.queueRun('edge-1', EXPERIMENT);
  const task = await polling;
  t.is(task.status, 200);
  t.like(task.json, { task: { runId: run.id } });
  t.true(Date.now() - started < 2000, `answered after ${Date.now() - started} ms`);
});

test("a poll of 10 s or more with nothing to run is answered 204 on its infrastructure's slot, not after the full wait", async (t) => {
  const hub = await startHub(t);
  const { infraId, token } = await agentToken(hub, 'edge-1');
  const startedAt = Date.now();
  const expected = phasedWaitMs(10_000, phaseOf(infraId), startedAt);
  const answer = await call(hub, 'GET', '/v1/tasks/next?waitSeconds=10', token);
  const took = Date.now() - startedAt;
  t.is(answer.status, 204);
  t.true(Math.abs(took - expected) < 300, `answered after ${took} ms; its slot was ${expected.toFixed(0)} ms away`);
});

testOnStores(test, 'abort: a queued run is cancelled at once, a running one is announced by the heartbeat', async (t, backend) => {
  const hub = await startHub(t, { backend });
  const { token } = await agentToken(hub, 'edge-1');
  const running = await hub.service.queueRun('edge-1', EXPERIMENT);
  const queued = await hub.service.queueRun('edge-1', EXPERIMENT);
  await call(hub, 'GET', '/v1/tasks/next', token);
  t.is(await hub.service.requestAbort(queued.id), 'cancelled');
  t.is(await hub.service.requestAbort(running.id), 'requested');
  const beat = await call(hub, 'POST', '/v1/heartbeat', token, { agentVersion: '0.1.0', hostname: 'h', capabilities: [], runId: running.id });
  t.deepEqual(beat.json?.['abort'], [running.id]);
  await call(hub, 'POST', `/v1/runs/${running.id}/result`, token, { verdict: 'aborted', faults: [] });
  t.is((await call(hub, 'GET', '/v1/tasks/next', token)).status, 204, 'the cancelled run is never handed out');
  t.is((await hub.service.run(queued.id))?.state, 'cancelled');
});

testOnStores(test, 'run calls of another infrastructure, unknown runs and malformed bodies are refused', async (t, backend) => {
  const hub = await startHub(t, { backend });
  const a = await agentToken(hub, 'edge-a');
  const b = await agentToken(hub, 'edge-b');
  const run = await hub.service.queueRun('edge-a', EXPERIMENT);
  await call(hub, 'GET', '/v1/tasks/next', a.token);
  t.is((await call(hub, 'POST', `/v1/runs/${run.id}/status`, b.token, { events: [{ at: at(), phase: 'x' }] })).status, 404);
  t.is((await call(hub, 'POST', '/v1/runs/run_nope/logs', a.token, { entries: [log(1)] })).status, 404);
  const bad = await call(hub, 'POST', `/v1/runs/${run.id}/logs`, a.token, { entries: [{ seq: 0, at: at(), level: 'info', message: 'x' }] });
  t.is(bad.status, 400);
  t.regex(JSON.stringify(bad.json), /entries\.0\.seq/);
  t.is((await call(hub, 'GET', '/v1/tasks/next?waitSeconds=99', a.token)).status, 400);
  await t.throwsAsync(() => hub.service.queueRun('edge-a', { apiVersion: 'v0' }), { message: /not a faultd\/v1 experiment/ });
});

testOnStores(test, 'a body nested deeper than 64 levels is refused with 400 on every call, not a 500 stack overflow; 64 levels pass', async (t, backend) => {
  const hub = await startHub(t, { backend });
  const a = await agentToken(hub, 'edge-a');
  const run = await hub.service.queueRun('edge-a', EXPERIMENT);
  await call(hub, 'GET', '/v1/tasks/next', a.token);
  // Written as text: JSON.stringify itself overflows on a value this deep.
  const nested = (levels: number) => `${'['.repeat(levels)}${']'.repeat(levels)}`;
  const post = async (route: string, text: string) => {
    const response = await request(`${hub.url}${route}`, { method: 'POST', dispatcher: hub.agent, headers: { 'content-type': 'application/json', authorization: `Bearer ${a.token}` }, body: text });
    return { status: response.statusCode, json: await response.body.json() };
  };
  const deepLogs = `{"entries":[{"seq":1,"at":"${at()}","level":"info","message":"x","fields":{"deep":${nested(5000)}}}]}`;
  for (const [route, text] of [
    [`/v1/runs/${run.id}/logs`, deepLogs],
    [`/v1/runs/${run.id}/status`, `{"events":${nested(5000)}}`],
    [`/v1/runs/${run.id}/result`, `{"verdict":"completed","faults":${nested(5000)}}`],
    ['/v1/heartbeat', `{"agentVersion":"1","hostname":"h","capabilities":${nested(5000)}}`],
    ['/v1/key/confirm', nested(5000)],
    ['/v1/token', `{"x":${nested(65)}}`],
  ] as const) {
    const refused = await post(route, text);
    t.is(refused.status, 400, route);
    t.deepEqual(refused.json, { error: { code: 'BAD_REQUEST', message: 'the body nests arrays and objects deeper than 64 levels' } }, route);
  }
  // Brackets inside strings do not count; 64 levels in all are accepted.
  const fields = `{"text":"${'['.repeat(100)}","deep":${nested(60)}}`;
  const accepted = await post(`/v1/runs/${run.id}/logs`, `{"entries":[{"seq":1,"at":"${at()}","level":"info","message":"x","fields":${fields}}]}`);
  t.is(accepted.status, 200, JSON.stringify(accepted.json));
  t.deepEqual(accepted.json, { ackedThrough: 1 });
});

testOnStores(test, 'a hub restart mid-run keeps the run, its logs and the acknowledgement point', async (t, backend) => {
  const first = await startHub(t, { backend });
  const { infraId } = await agentToken(first, 'edge-1');
  const run = await first.service.queueRun('edge-1', EXPERIMENT);
  await first.service.nextTask(infraId);
  await first.service.reportLogs(infraId, run.id, { entries: [log(1), log(2)] });
  await first.stop();
  const second = await startHub(t, { dir: first.dir, database: first.database });
  const token = await second.service.exchangeToken({ infraId, accessKey: 'fdk_unused_unused_unused' }) ?? undefined;
  t.is(token, undefined, 'keys are not reset by a restart');
  // The agent resends what it had not seen acknowledged, plus new lines.
  t.is(await second.service.reportLogs(infraId, run.id, { entries: [log(2), log(3)] }), 3);
  t.deepEqual((await second.service.runLogs(run.id, 0)).map((e) => e.seq), [1, 2, 3]);
  t.is((await second.service.run(run.id))?.state, 'dispatched');
});

testOnStores(test, 'a waiting long-poll is woken by a run queued here or by another process, without a fixed recheck', async (t, backend) => {
  const hub = await startHub(t, { backend });
  const { token } = await agentToken(hub, 'edge-1');
  // Queued in this process: the waiting poll answers at once.
  let started = Date.now();
  const here = call(hub, 'GET', '/v1/tasks/next?waitSeconds=9', token);
  await new Promise((resolve) => setTimeout(resolve, 300));
  const first = await hub.service.queueRun('edge-1', EXPERIMENT);
  const got = await here;
  t.is(got.status, 200);
  t.like(got.json, { task: { runId: first.id } });
  t.true(Date.now() - started < 2000);
  await call(hub, 'POST', `/v1/runs/${first.id}/result`, token, { verdict: 'completed', faults: [] });

  // Queued by another process (as `faultd hub run` does): noticed through the store's watch
  // (SQLite's data version, PostgreSQL's NOTIFY).
  const other = await hub.connect();
  started = Date.now();
  const elsewhere = call(hub, 'GET', '/v1/tasks/next?waitSeconds=9', token);
  await new Promise((resolve) => setTimeout(resolve, 300));
  const second = await new HubService(other).queueRun('edge-1', EXPERIMENT);
  const answer = await elsewhere;
  t.like(answer.json, { task: { runId: second.id } });
  t.true(Date.now() - started < 2000, `answered after ${Date.now() - started} ms`);
});

testOnStores(test, 'hub abort --force closes a run whose agent is gone, so the queue moves on; a late result is refused', async (t, backend) => {
  const hub = await startHub(t, { backend });
  const { infraId, token } = await agentToken(hub, 'edge-1');
  const lost = await hub.service.queueRun('edge-1', EXPERIMENT);
  const next = await hub.service.queueRun('edge-1', EXPERIMENT);
  t.is((await hub.service.nextTask(infraId))?.task.runId, lost.id);
  t.is(await hub.service.nextTask(infraId), undefined, 'one at a time');
  await t.throwsAsync(() => hub.service.closeRun(next.id, 'x'), { message: /still queued: abort it without --force/ });
  t.true(await hub.service.closeRun(lost.id, 'closed by the operator'));
  t.like(await hub.service.run(lost.id), { state: 'finished', result: { verdict: 'aborted', reason: 'closed by the operator' } });
  t.false(await hub.service.closeRun(lost.id, 'again'), 'idempotent');
  t.is((await hub.service.nextTask(infraId))?.task.runId, next.id, 'the next run starts');
  const beat = await call(hub, 'POST', '/v1/heartbeat', token, { agentVersion: '1', hostname: 'h', capabilities: [], runId: lost.id });
  t.true((beat.json?.['abort'] as string[]).includes(lost.id), 'an agent still executing the closed run is told to stop');
  const late = await call(hub, 'POST', `/v1/runs/${lost.id}/result`, token, { verdict: 'completed', faults: [] });
  t.is(late.status, 409);
});

testOnStores(test, 'numbered status events are stored once each, in seq order, acknowledged like log lines, and accepted after the result', async (t, backend) => {
  const hub = await startHub(t, { backend });
  const { infraId, token } = await agentToken(hub, 'edge-1');
  const run = await hub.service.queueRun('edge-1', EXPERIMENT);
  await hub.service.nextTask(infraId);
  const event = (seq: number, phase: string, span?: number) => ({ seq, at: at(), faultId: 'f1', phase, ...(span ? { span } : {}) });
  const status = async (events: unknown[]) => call(hub, 'POST', `/v1/runs/${run.id}/status`, token, { events });
  // A gap: only the contiguous prefix is acknowledged; the run is running from the first event.
  t.deepEqual(await status([event(1, 'applying'), event(3, 'reverting')]), { status: 200, json: { ackedThrough: 1 } });
  t.is((await hub.service.run(run.id))?.state, 'running');
  // The timed-out request delivered late and its resend: every number once.
  t.deepEqual(await status([event(1, 'applying'), event(2, 'running')]), { status: 200, json: { ackedThrough: 3 } });
  t.deepEqual(await status([event(1, 'applying'), event(2, 'running'), event(3, 'reverting')]), { status: 200, json: { ackedThrough: 3 } });
  t.deepEqual((await hub.service.runStatus(run.id)).map((s) => `${s.seq}:${s.phase}`), ['1:applying', '2:running', '3:reverting'], 'each event once, in seq order although 3 came before 2');
  // A note spanning events the agent dropped moves the acknowledgement past them, even where
  // an earlier delivery stored the first of them.
  t.like((await status([event(4, 'done')])).json, { ackedThrough: 4 });
  t.like((await status([event(4, 'dropped', 3)])).json, { ackedThrough: 6 });
  t.is((await call(hub, 'POST', `/v1/runs/${run.id}/result`, token, { verdict: 'completed', faults: [] })).status, 204);
  // Late events of a finished run are stored (once), not refused.
  t.deepEqual(await status([{ seq: 7, at: at(), phase: 'finished', detail: 'completed' }]), { status: 200, json: { ackedThrough: 7 } });
  t.deepEqual(await status([{ seq: 7, at: at(), phase: 'finished', detail: 'completed' }]), { status: 200, json: { ackedThrough: 7 } });
  t.deepEqual((await hub.service.runStatus(run.id)).map((s) => `${s.seq}:${s.phase}`), ['1:applying', '2:running', '3:reverting', '4:done', '7:finished']);
  t.like(await hub.service.run(run.id), { state: 'finished', result: { verdict: 'completed' } });
});

testOnStores(test, 'status events without seq (agents before 2026-12) are stored as they come and answered 204', async (t, backend) => {
  const hub = await startHub(t, { backend });
  const { infraId, token } = await agentToken(hub, 'edge-1');
  const run = await hub.service.queueRun('edge-1', EXPERIMENT);
  await hub.service.nextTask(infraId);
  const events = [{ at: at(), phase: 'running' }];
  t.deepEqual(await call(hub, 'POST', `/v1/runs/${run.id}/status`, token, { events }), { status: 204, json: undefined });
  t.deepEqual(await call(hub, 'POST', `/v1/runs/${run.id}/status`, token, { events }), { status: 204, json: undefined });
  t.deepEqual((await hub.service.runStatus(run.id)).map((s) => [s.seq, s.phase]), [[undefined, 'running'], [undefined, 'running']], 'no number, no dedup: as before');
  const bad = await call(hub, 'POST', `/v1/runs/${run.id}/status`, token, { events: [{ seq: 0, at: at(), phase: 'x' }] });
  t.is(bad.status, 400);
  t.regex(JSON.stringify(bad.json), /seq/);
});

testOnStores(test, 'text with U+0000 from an agent is stored (on PostgreSQL as U+FFFD: its text cannot hold U+0000) and a lookup by it finds nothing: 200, 401, never 500', async (t, backend) => {
  const hub = await startHub(t, { backend });
  const stored = backend.name === 'postgres' ? '\uFFFD' : '\u0000';
  const { infraId, token } = await agentToken(hub, 'edge-1');
  const beat = await call(hub, 'POST', '/v1/heartbeat', token, { agentVersion: '1\u0000', hostname: 'h\u0000', capabilities: ['c\u0000'] });
  t.is(beat.status, 200, JSON.stringify(beat.json));
  t.like((await hub.service.listInfras())[0], { hostname: `h${stored}`, agentVersion: `1${stored}`, capabilities: ['c\u0000'] });
  const run = await hub.service.queueRun('edge-1', { ...EXPERIMENT, metadata: { name: 'x\u0000' } });
  await hub.service.nextTask(infraId);
  const status = await call(hub, 'POST', `/v1/runs/${run.id}/status`, token, { events: [{ seq: 1, at: at(), faultId: 'f\u0000', phase: 'p\u0000', detail: 'd\u0000' }] });
  t.deepEqual(status, { status: 200, json: { ackedThrough: 1 } });
  t.deepEqual((await hub.service.runStatus(run.id)).map((s) => [s.faultId, s.phase, s.detail]), [[`f${stored}`, `p${stored}`, `d${stored}`]]);
  t.like((await call(hub, 'POST', `/v1/runs/${run.id}/logs`, token, { entries: [{ ...log(1), message: 'm\u0000' }] })).json, { ackedThrough: 1 });
  t.is((await hub.service.runLogs(run.id, 0))[0]?.message, 'm\u0000', 'log lines are stored as JSON text: U+0000 is escaped there');
  t.is((await call(hub, 'POST', `/v1/runs/${run.id}/result`, token, { verdict: 'failed', reason: 'r\u0000', faults: [] })).status, 204);
  t.is((await hub.service.run(run.id))?.result?.reason, 'r\u0000');
  // An identified agent's hostname is stored with its binding.
  const { id, accessKey } = await hub.service.createInfra('edge-2');
  const bound = await call(hub, 'POST', '/v1/token', '', { infraId: id, accessKey, agent: { id: 'aaaaaaaa11111111', hostname: 'b\u0000' } });
  t.is(bound.status, 200, JSON.stringify(bound.json));
  t.is((await hub.service.listInfras())[1]?.binding?.hostname, `b${stored}`);
  const unknown = await call(hub, 'POST', '/v1/token', '', { infraId: 'inf_\u0000', accessKey });
  t.is(unknown.status, 401, JSON.stringify(unknown.json));
});

testOnStores(test, 'results sent at once (a resend crossing the first): the run ends once, with the result of the call answered 204; the others are told 409', async (t, backend) => {
  const hub = await startHub(t, { backend });
  const { infraId, token } = await agentToken(hub, 'edge-1');
  for (let round = 0; round < 5; round += 1) {
    const run = await hub.service.queueRun('edge-1', EXPERIMENT);
    await hub.service.nextTask(infraId);
    const results = await Promise.all([1, 2, 3].map((n) => call(hub, 'POST', `/v1/runs/${run.id}/result`, token, { verdict: 'completed', reason: `delivery ${n}`, faults: [] })));
    t.deepEqual(results.map((r) => r.status).sort(), [204, 409, 409], `round ${round}`);
    const accepted = results.findIndex((r) => r.status === 204) + 1;
    t.like(await hub.service.run(run.id), { state: 'finished', result: { reason: `delivery ${accepted}` } }, 'the accepted result is the stored one');
  }
});
