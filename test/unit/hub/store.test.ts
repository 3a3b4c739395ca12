// SPDX-License-Identifier: Apache-2.0
// HubStore, one test body per behaviour run against both backends: SQLite (hub.db) and a real
// PostgreSQL 15 server (skipped, saying why, where it is not installed).
import test, { type ExecutionContext } from 'ava';

import { FaultdError } from '../../../src/errors.js';
import { hashKey } from '../../../src/hub/credentials.js';
import type { HubStore } from '../../../src/hub/store.js';
import { STORE_BACKENDS, stopTestPostgres } from '../../helpers/hub-stores.js';

test.after.always(stopTestPostgres);

type Body = (t: ExecutionContext, store: HubStore, db: { url: string; connect(): Promise<HubStore> }) => Promise<void>;

function both(title: string, body: Body): void {
  for (const backend of STORE_BACKENDS) {
    const run = backend.missing ? test.skip : test.serial;
    run(`${backend.name}: ${title}${backend.missing ? ` (skipped: ${backend.missing})` : ''}`, async (t) => {
      const db = await backend.database(t);
      await body(t, await db.connect(), db);
    });
  }
}

const KEY = hashKey(`fdk_${'k'.repeat(43)}`);
const AT = '2026-12-01T00:00:00.000Z';

async function infraWithRun(store: HubStore, runs = 1): Promise<string[]> {
  await store.addInfra({ id: 'inf_a', name: 'edge-1', createdAt: 1, key: KEY });
  const ids = Array.from({ length: runs }, (_, i) => `run_${i}`);
  for (const id of ids) await store.addRun({ id, infraId: 'inf_a', experiment: '{"kind":"Experiment"}', queuedAt: 1000 });
  return ids;
}

both('infrastructures: keys as bytes, times past 2^31 as numbers, conditional binding, rotation and release', async (t, store) => {
  const created = Date.parse('2026-12-01T00:00:00Z');
  await store.addInfra({ id: 'inf_b', name: 'zeta', createdAt: created, key: KEY });
  await store.addInfra({ id: 'inf_a', name: 'alpha', createdAt: created, key: KEY });
  t.false(await store.addInfra({ id: 'inf_c', name: 'alpha', createdAt: 1, key: KEY }), 'names are unique: nothing added');
  t.is(await store.infraById('inf_c'), undefined);
  t.deepEqual((await store.listInfras()).map((i) => i.name), ['alpha', 'zeta']);
  const alpha = await store.infraByName('alpha');
  t.is(alpha?.createdAt, created);
  t.true(alpha?.key.salt.equals(KEY.salt) && alpha.key.hash.equals(KEY.hash));
  t.like(alpha, { rotationRequested: false, capabilities: [] });
  const binding = { agentId: 'a'.repeat(32), hostname: 'host-a', since: created };
  t.true(await store.bindAgent('inf_a', binding));
  t.false(await store.bindAgent('inf_a', { ...binding, agentId: 'b'.repeat(32) }), 'bound already: the first binding stays');
  t.like((await store.infraById('inf_a'))?.binding, { agentId: 'a'.repeat(32), hostname: 'host-a' });
  await store.recordHeartbeat('inf_a', created + 5, { version: '9.9.9', hostname: 'host-a', capabilities: ['linux-cpu-stress'] });
  t.like(await store.infraById('inf_a'), { lastSeen: created + 5, agentVersion: '9.9.9', capabilities: ['linux-cpu-stress'] });
  await store.requestRotation('inf_a');
  const pending = { ...hashKey(`fdk_${'p'.repeat(43)}`), rotationId: 'rot_1', sealed: Buffer.from([0, 1, 255]) };
  t.true(await store.setPendingKey('inf_a', pending), 'no rotation open: recorded');
  t.false(await store.setPendingKey('inf_a', { ...pending, rotationId: 'rot_2' }), 'replaces none, but rot_1 is open');
  t.true(await store.setPendingKey('inf_a', { ...pending, rotationId: 'rot_2' }, 'rot_1'));
  t.true((await store.infraById('inf_a'))?.pendingKey?.sealed?.equals(Buffer.from([0, 1, 255])));
  t.false(await store.confirmPendingKey('inf_a', 'rot_1'));
  t.true(await store.confirmPendingKey('inf_a', 'rot_2'));
  const rotated = await store.infraById('inf_a');
  t.true(rotated?.key.hash.equals(pending.hash));
  t.like(rotated, { rotationRequested: false, pendingKey: undefined, binding: undefined });
  t.true(await store.bindAgent('inf_a', binding));
  t.true(await store.releaseAgent('inf_a'));
  t.false(await store.releaseAgent('inf_a'));
});

both('tokens: stored by hash with their agent, pruned once expired', async (t, store) => {
  await infraWithRun(store, 0);
  const expiry = Date.parse('2026-12-01T00:10:00Z');
  await store.addToken('h1', { infraId: 'inf_a', expiresAt: expiry, agentId: 'a'.repeat(32) });
  await store.addToken('h2', { infraId: 'inf_a', expiresAt: expiry + 1 });
  t.deepEqual(await store.token('h1'), { infraId: 'inf_a', expiresAt: expiry, agentId: 'a'.repeat(32) });
  t.deepEqual(await store.token('h2'), { infraId: 'inf_a', expiresAt: expiry + 1 });
  t.is(await store.pruneTokens(expiry), 1);
  t.is(await store.token('h1'), undefined);
});

both('runs: handed out one at a time, in queue order (also within one millisecond); abort, close and result are conditional', async (t, store) => {
  const [first = '', second = '', third = ''] = await infraWithRun(store, 3);
  t.true(await store.hasQueued('inf_a'));
  t.deepEqual((await store.listRuns()).map((r) => r.id), [third, second, first], 'newest first');
  t.like(await store.dispatchNext('inf_a', 2000), { id: first, state: 'dispatched', dispatchedAt: 2000 });
  t.is(await store.dispatchNext('inf_a', 2001), undefined, 'one at a time');
  t.deepEqual((await store.unreportedDispatches('inf_a', 2000)).map((r) => r.id), [first]);
  t.deepEqual((await store.unreportedDispatches('inf_a', 1999)).map((r) => r.id), []);
  t.is(await store.requestAbort(third, 2002), 'cancelled');
  t.is(await store.requestAbort(first, 2003), 'requested');
  t.deepEqual(await store.abortRequested('inf_a'), [first]);
  t.deepEqual((await store.unfinishedRuns()).map((r) => r.id), [first]);
  await store.addStatus(first, [{ seq: 1, at: AT, phase: 'running' }]);
  t.false(await store.closeRun(first, { verdict: 'interrupted', faults: [] }, 2004, { unreportedOnly: true }), 'reported on: not lost');
  t.true(await store.setResult(first, { verdict: 'aborted', faults: [] }, 2005));
  t.false(await store.setResult(first, { verdict: 'completed', faults: [] }, 2005), 'ended already: kept');
  t.false(await store.closeRun(first, { verdict: 'interrupted', faults: [] }, 2006), 'ended already');
  t.like(await store.run(first), { state: 'finished', finishedAt: 2005, result: { verdict: 'aborted' } });
  t.like(await store.dispatchNext('inf_a', 2007), { id: second });
  t.true(await store.closeRun(second, { verdict: 'aborted', reason: 'operator', faults: [] }, 2008));
  t.like(await store.run(second), { state: 'finished', abortRequested: true, result: { verdict: 'aborted', reason: 'operator' } });
  t.like(await store.run(third), { state: 'cancelled' });
  t.false(await store.hasQueued('inf_a'));
  t.is(await store.requestAbort('run_none', 1), 'finished');
});

both('status and logs: stored once, acknowledged through gaps closed by spans; unnumbered status first', async (t, store) => {
  const [run = ''] = await infraWithRun(store);
  await store.dispatchNext('inf_a', 2000);
  const event = (seq: number, span?: number) => ({ seq, at: AT, phase: span ? 'dropped' : `p${seq}`, ...(span ? { span } : {}) });
  await store.addStatus(run, [{ at: AT, phase: 'old-agent' }]);
  t.is(await store.addStatus(run, [1, 2, 3, 4, 5].map((seq) => event(seq))), 5);
  t.is(await store.addStatus(run, [event(3, 5)]), 7);
  t.is(await store.addStatus(run, [event(9)]), 7, 'a gap holds the acknowledgement');
  t.is(await store.addStatus(run, [event(8)]), 9);
  t.deepEqual((await store.statusHistory(run)).map((s) => `${s.seq ?? '-'}:${s.phase}`), ['-:old-agent', '1:p1', '2:p2', '3:p3', '4:p4', '5:p5', '8:p8', '9:p9']);
  t.like(await store.run(run), { state: 'running' });
  const line = (seq: number, span?: number) => ({ seq, at: AT, level: 'info' as const, message: `line ${seq}`, ...(span ? { span } : {}) });
  t.is(await store.addLogs(run, [line(1), line(2)]), 2);
  t.is(await store.addLogs(run, [line(2), line(5)]), 2, 'a resent line is ignored; 3–4 are missing');
  t.is(await store.addLogs(run, [line(3, 2)]), 5, 'a note for dropped lines 3–4 closes the gap');
  t.deepEqual((await store.logs(run, 1, 10)).map((l) => l.seq), [2, 3, 5]);
  t.deepEqual((await store.logs(run, 0, 2)).map((l) => l.seq), [1, 2]);
});

both('transaction(): committed when its function resolves, rolled back when it throws', async (t, store) => {
  await infraWithRun(store, 0);
  await store.transaction(async (tx) => {
    await tx.addRun({ id: 'run_kept', infraId: 'inf_a', experiment: '{}', queuedAt: 1 });
    t.truthy(await tx.run('run_kept'), 'visible inside');
  });
  await t.throwsAsync(
    store.transaction(async (tx) => {
      await tx.addRun({ id: 'run_gone', infraId: 'inf_a', experiment: '{}', queuedAt: 2 });
      await tx.requestRotation('inf_a');
      throw new Error('changed my mind');
    }),
    { message: 'changed my mind' },
  );
  t.truthy(await store.run('run_kept'));
  t.is(await store.run('run_gone'), undefined);
  t.false((await store.infraById('inf_a'))?.rotationRequested);
});

both('recordAdmittedHeartbeat records a heartbeat only where the binding admits the agent as it stands, and answers the runs to abort', async (t, store) => {
  const [running] = await infraWithRun(store);
  const info = { version: '9.9.9', hostname: 'host-a', capabilities: ['linux-cpu-stress'] };
  const agent = { id: 'a'.repeat(32), machineId: 'm'.repeat(32) };
  const lastSeen = async () => (await store.infraById('inf_a'))?.lastSeen;
  t.deepEqual(await store.recordAdmittedHeartbeat('inf_a', undefined, 10, info), [], 'unbound, no identity: admitted');
  t.is(await lastSeen(), 10);
  t.is(await store.recordAdmittedHeartbeat('inf_a', agent, 20, info), undefined, 'unbound, an identity: it must bind first');
  t.is(await lastSeen(), 10, 'nothing written');
  t.true(await store.bindAgent('inf_a', { agentId: agent.id, machineId: agent.machineId, hostname: 'host-a', since: 15 }));
  t.is(await store.recordAdmittedHeartbeat('inf_a', undefined, 30, info), undefined, 'bound: no identity is refused');
  t.is(await store.recordAdmittedHeartbeat('inf_a', { id: 'b'.repeat(32) }, 30, info), undefined, 'another instance');
  t.is(await store.recordAdmittedHeartbeat('inf_a', { ...agent, machineId: 'n'.repeat(32) }, 30, info), undefined, 'the same id on another machine');
  t.is(await lastSeen(), 10, 'nothing written by the refused ones');
  t.deepEqual(await store.recordAdmittedHeartbeat('inf_a', agent, 40, info), []);
  t.deepEqual(await store.recordAdmittedHeartbeat('inf_a', { id: agent.id }, 50, { ...info, version: '9.9.10' }), [], 'an identity without machine id');
  t.like(await store.infraById('inf_a'), { lastSeen: 50, agentVersion: '9.9.10', hostname: 'host-a', capabilities: ['linux-cpu-stress'] });
  t.is(await store.recordAdmittedHeartbeat('inf_none', undefined, 60, info), undefined, 'an unknown infrastructure');
  await store.dispatchNext('inf_a', 70);
  await store.requestAbort(running ?? '', 80);
  t.deepEqual(await store.recordAdmittedHeartbeat('inf_a', agent, 90, info), [running]);
});

both('watchRuns: a run queued or aborted through another connection (process, replica) is announced within 100 ms', async (t, store, db) => {
  await infraWithRun(store, 0);
  const other = await db.connect();
  let calls = 0;
  const named = new Set<string | undefined>();
  let wake: (() => void) | undefined;
  const stop = store.watchRuns((infraId) => {
    calls += 1;
    named.add(infraId);
    wake?.();
  });
  t.teardown(stop);
  const announced = async (change: () => Promise<unknown>): Promise<number> => {
    const seen = new Promise<void>((resolve) => (wake = resolve));
    const started = performance.now();
    await change();
    await Promise.race([seen, new Promise((resolve) => setTimeout(resolve, 2000))]);
    return performance.now() - started;
  };
  const queuedMs = await announced(() => other.addRun({ id: 'run_x', infraId: 'inf_a', experiment: '{}', queuedAt: 1 }));
  t.true(calls >= 1, 'the queued run was announced');
  t.true(queuedMs < 100, `queued → announced in ${queuedMs.toFixed(1)} ms`);
  const before = calls;
  const abortMs = await announced(() => other.requestAbort('run_x', 2));
  t.true(calls > before, 'the abort was announced');
  t.true(abortMs < 100, `aborted → announced in ${abortMs.toFixed(1)} ms`);
  // PostgreSQL names the run's infrastructure (a replica wakes only its long-polls); SQLite's
  // data_version cannot tell which, so it names none (everyone wakes).
  t.deepEqual([...named], [db.url.startsWith('postgres') ? 'inf_a' : undefined]);
  t.log(`queued → announced ${queuedMs.toFixed(1)} ms, aborted → announced ${abortMs.toFixed(1)} ms`);
});

both('a database is migrated once: reopening keeps its data; one whose schema is newer is refused untouched', async (t, store, db) => {
  await infraWithRun(store);
  const again = await db.connect();
  t.like(await again.run('run_0'), { state: 'queued' });
  await bumpSchema(db.url, 99);
  const refused = await t.throwsAsync(db.connect(), { instanceOf: FaultdError });
  t.is((refused as FaultdError | undefined)?.code, 'FAULTD_ERR_HUB_DB_SCHEMA');
  t.regex(refused?.message ?? '', /has schema version 99, newer than this faultd's/);
  t.like(await store.run('run_0'), { state: 'queued' }, 'nothing changed');
});

async function bumpSchema(url: string, version: number): Promise<void> {
  if (url.startsWith('sqlite:')) {
    const { default: Database } = await import('better-sqlite3');
    const db = new Database(url.slice('sqlite:'.length));
    db.pragma(`user_version = ${version}`);
    db.close();
    return;
  }
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query('UPDATE faultd_hub_schema SET version = $1', [version]);
  await client.end();
}
