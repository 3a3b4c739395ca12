// SPDX-License-Identifier: Apache-2.0
import test from 'ava';

import { RunOutbox } from '../../../src/agent/outbox.js';
import { HubService } from '../../../src/hub/service.js';
import { SqliteHubStore } from '../../../src/hub/sqlite-store.js';

function hub(t: { teardown(fn: () => void | Promise<void>): void }, start = 1_000_000) {
  const clock = { now: start };
  const store = new SqliteHubStore(':memory:');
  t.teardown(() => store.close());
  const service = new HubService(store, { tokenTtlSeconds: 3, connectedWithinMs: 10_000, now: () => clock.now });
  return { service, clock, store };
}

test('an infrastructure gets a key once; only its hash is stored', async (t) => {
  const { service, store } = hub(t);
  const { id, accessKey } = await service.createInfra('edge-1');
  t.regex(accessKey, /^fdk_[A-Za-z0-9_-]{43}$/);
  const stored = await store.infraById(id);
  t.truthy(stored);
  t.false(JSON.stringify(stored).includes(accessKey.slice(4)));
  await t.throwsAsync(() => service.createInfra('edge-1'), { message: /already exists/ });
  await t.throwsAsync(() => service.createInfra('Bad Name'), { message: /must be 1–63 of a-z/ });
});

test('token exchange: right key → token valid for its TTL; wrong key or unknown infra → nothing', async (t) => {
  const { service, clock } = hub(t);
  const { id, accessKey } = await service.createInfra('edge-1');
  const response = await service.exchangeToken({ infraId: id, accessKey });
  t.truthy(response);
  t.is(response?.ttlSeconds, 3);
  t.is(await service.authenticate(response?.accessToken ?? ''), id);
  clock.now += 3000;
  t.is(await service.authenticate(response?.accessToken ?? ''), undefined, 'expired after its TTL');
  t.is(await service.exchangeToken({ infraId: id, accessKey: `${accessKey.slice(0, -2)}xx` }), undefined);
  t.is(await service.exchangeToken({ infraId: 'inf_nope', accessKey }), undefined);
});

test('key rotation: both keys work until the new one is confirmed; a lost new key is handed out again, the same', async (t) => {
  const { service } = hub(t);
  const { id, accessKey: oldKey } = await service.createInfra('edge-1');
  await service.rotateKey('edge-1');
  t.is((await service.listInfras())[0]?.keyRotation, 'requested');
  const first = await service.exchangeToken({ infraId: id, accessKey: oldKey });
  t.truthy(first?.rotation);
  // The agent crashed before storing it: it comes back with the old key and gets the same one.
  const second = await service.exchangeToken({ infraId: id, accessKey: oldKey });
  t.deepEqual(second?.rotation, first?.rotation, 'the pending key and its rotation id, unchanged until confirmed');
  t.not(second?.accessToken, first?.accessToken);
  t.is((await service.listInfras())[0]?.keyRotation, 'awaiting confirmation');
  t.false(await service.confirmKey(id, 'rot_other'), 'a rotation id that is not the open one is refused');
  // The agent stored the key and confirms it with the token it just got.
  t.true(await service.confirmKey(id, second?.rotation?.rotationId ?? ''));
  t.is(await service.exchangeToken({ infraId: id, accessKey: oldKey }), undefined, 'the old key stops working once confirmed');
  const after = await service.exchangeToken({ infraId: id, accessKey: second?.rotation?.newAccessKey ?? '' });
  t.truthy(after);
  t.is(after?.rotation, undefined, 'no rotation once confirmed');
  t.is((await service.listInfras())[0]?.keyRotation, 'none');
});

test('key rotation: overlapping exchanges with the old key get the same new key, which stays valid', async (t) => {
  const { service, store } = hub(t);
  const { id, accessKey: oldKey } = await service.createInfra('edge-1');
  await service.rotateKey('edge-1');
  // Both key checks run before either answer is recorded (a retry while the first is in flight).
  const [a, b] = await Promise.all([service.exchangeToken({ infraId: id, accessKey: oldKey }), service.exchangeToken({ infraId: id, accessKey: oldKey })]);
  t.truthy(a?.rotation);
  t.deepEqual(b?.rotation, a?.rotation);
  // Whichever answer the agent stored last, its key works, and confirming it ends the rotation.
  const newKey = b?.rotation?.newAccessKey ?? '';
  t.false(JSON.stringify(await store.infraById(id)).includes(newKey.slice(4)), 'the pending key is not stored in clear');
  t.truthy(await service.exchangeToken({ infraId: id, accessKey: newKey }));
  t.is(await service.exchangeToken({ infraId: id, accessKey: oldKey }), undefined, 'the old key is retired');
  t.false(await service.confirmKey(id, a?.rotation?.rotationId ?? ''), 'already confirmed by the exchange with the new key');
  // A later rotation starts afresh with a different key.
  await service.rotateKey('edge-1');
  const next = await service.exchangeToken({ infraId: id, accessKey: newKey });
  t.truthy(next?.rotation);
  t.not(next?.rotation?.newAccessKey, newKey);
  t.not(next?.rotation?.rotationId, a?.rotation?.rotationId);
});

test('key rotation: rotate-key again while a key awaits confirmation keeps that key (the agent may have stored it)', async (t) => {
  const { service } = hub(t);
  const { id, accessKey: oldKey } = await service.createInfra('edge-1');
  await service.rotateKey('edge-1');
  const first = await service.exchangeToken({ infraId: id, accessKey: oldKey });
  await service.rotateKey('edge-1');
  t.deepEqual((await service.exchangeToken({ infraId: id, accessKey: oldKey }))?.rotation, first?.rotation);
  t.truthy(await service.exchangeToken({ infraId: id, accessKey: first?.rotation?.newAccessKey ?? '' }));
});

test('key rotation: a pending key recorded without its seal (by an older hub) is replaced once, then handed out again', async (t) => {
  const { service, store } = hub(t);
  const { id, accessKey: oldKey } = await service.createInfra('edge-1');
  await service.rotateKey('edge-1');
  const first = await service.exchangeToken({ infraId: id, accessKey: oldKey });
  const pending = (await store.infraById(id))?.pendingKey;
  t.truthy(pending?.sealed);
  // What a hub of schema version 1 left: the hash and id only.
  t.true(await store.setPendingKey(id, { salt: pending?.salt ?? Buffer.alloc(0), hash: pending?.hash ?? Buffer.alloc(0), rotationId: 'rot_old' }, pending?.rotationId));
  const second = await service.exchangeToken({ infraId: id, accessKey: oldKey });
  t.truthy(second?.rotation);
  t.not(second?.rotation?.rotationId, 'rot_old');
  t.not(second?.rotation?.newAccessKey, first?.rotation?.newAccessKey);
  t.deepEqual((await service.exchangeToken({ infraId: id, accessKey: oldKey }))?.rotation, second?.rotation);
});

test('key rotation: an exchange with the pending key makes it the key, so a lost answer cannot lock the agent out', async (t) => {
  const { service } = hub(t);
  const { id, accessKey: oldKey } = await service.createInfra('edge-1');
  await service.rotateKey('edge-1');
  const first = await service.exchangeToken({ infraId: id, accessKey: oldKey });
  const stored = first?.rotation?.newAccessKey ?? '';
  // The agent stored the new key, but its confirmation was lost; it exchanges the stored key.
  const withStored = await service.exchangeToken({ infraId: id, accessKey: stored });
  t.truthy(withStored?.accessToken);
  t.is(withStored?.rotation, undefined, 'no second rotation: its answer could be lost too');
  t.is((await service.listInfras())[0]?.keyRotation, 'none');
  t.truthy(await service.exchangeToken({ infraId: id, accessKey: stored }), 'the stored key keeps working');
  t.is(await service.exchangeToken({ infraId: id, accessKey: oldKey }), undefined, 'the old key is retired');
  t.false(await service.confirmKey(id, first?.rotation?.rotationId ?? ''), 'a late confirmation changes nothing');
});

test('heartbeats make an infrastructure CONNECTED until they age out', async (t) => {
  const { service, clock } = hub(t);
  const { id } = await service.createInfra('edge-1');
  t.is((await service.listInfras())[0]?.state, 'NEVER_SEEN');
  await service.heartbeat(id, { agentVersion: '0.1.0', hostname: 'edge-1.example', capabilities: ['linux-cpu-stress'] });
  t.like((await service.listInfras())[0], { state: 'CONNECTED', agentVersion: '0.1.0', hostname: 'edge-1.example', capabilities: ['linux-cpu-stress'] });
  clock.now += 10_001;
  t.is((await service.listInfras())[0]?.state, 'DISCONNECTED');
});

test('a run its agent received but never reported on is closed as lost when the infrastructure polls again 30 s later', async (t) => {
  const { service, clock, store } = hub(t);
  const { id } = await service.createInfra('edge-1');
  const experiment = { apiVersion: 'faultd/v1', kind: 'Experiment', metadata: { name: 'x' }, spec: { steps: [{ faults: [{ kind: 'linux-cpu-stress', duration: '1s' }] }] } };
  const first = await service.queueRun('edge-1', experiment);
  const second = await service.queueRun('edge-1', experiment);
  t.is((await service.nextTask(id))?.task.runId, first.id, 'dispatched; then the agent dies before recording it');
  clock.now += 29_000;
  t.is(await service.nextTask(id), undefined, 'within 30 s the run is still out: nothing else is handed out');
  t.is((await store.run(first.id))?.state, 'dispatched');
  clock.now += 1_000;
  t.is((await service.nextTask(id))?.task.runId, second.id, 'the lost run is closed and the queue moves on in the same poll');
  const lost = await service.run(first.id);
  t.is(lost?.state, 'finished');
  t.like(lost?.result, { verdict: 'interrupted', faults: [] });
  t.regex(lost?.result?.reason ?? '', /^lost: the agent asked for new work 30 s after receiving this run and never reported on it/);
  // A run its agent reported on (status received) is its agent's, however long it takes.
  await service.reportStatus(id, second.id, { events: [{ at: new Date(clock.now).toISOString(), phase: 'running' }] });
  clock.now += 600_000;
  t.is(await service.nextTask(id), undefined);
  t.is((await store.run(second.id))?.state, 'running');
});

test('a note spanning dropped lines moves the acknowledgement past them, also when an earlier delivery had stored its first number', async (t) => {
  const { service, store } = hub(t);
  const { id } = await service.createInfra('edge-1');
  const run = await service.queueRun('edge-1', { apiVersion: 'faultd/v1', kind: 'Experiment', metadata: { name: 'x' }, spec: { steps: [{ faults: [{ kind: 'linux-cpu-stress', duration: '1s' }] }] } });
  await service.nextTask(id);
  const at = new Date().toISOString();
  const line = (seq: number) => ({ seq, at, level: 'info' as const, message: `line ${seq}` });
  // Lines 1–3 were stored, but the answer was lost; the agent then dropped 1–10 into one note.
  t.is(await store.addLogs(run.id, [line(1), line(2), line(3)]), 3);
  const outbox = new RunOutbox({ limits: { maxEntries: 3 } });
  for (let seq = 1; seq <= 12; seq += 1) outbox.add('info', `line ${seq}`);
  const pending = outbox.pendingLogs(100);
  t.deepEqual(pending.map((e) => [e.seq, e.span]), [[1, 10], [11, undefined], [12, undefined]]);
  const acked = await service.reportLogs(id, run.id, { entries: pending });
  t.is(acked, 12, 'acknowledged through the last line');
  outbox.acknowledge(acked);
  t.true(outbox.empty);
  t.deepEqual((await service.runLogs(run.id, 0)).map((e) => e.seq), [1, 2, 3, 11, 12]);
});

test('a run whose agent has sent no heartbeat for 2 h is closed as lost, so its queue moves on; a heartbeat keeps it', async (t) => {
  const { service, clock, store } = hub(t);
  const { id } = await service.createInfra('edge-1');
  const experiment = { apiVersion: 'faultd/v1', kind: 'Experiment', metadata: { name: 'x' }, spec: { steps: [{ faults: [{ kind: 'linux-cpu-stress', duration: '1s' }] }] } };
  const beat = () => service.heartbeat(id, { agentVersion: '0.1.0', hostname: 'h', capabilities: [] });
  await beat();
  const run = await service.queueRun('edge-1', experiment);
  const next = await service.queueRun('edge-1', experiment);
  t.is((await service.nextTask(id))?.task.runId, run.id);
  await service.reportStatus(id, run.id, { events: [{ at: new Date(clock.now).toISOString(), phase: 'running' }] });
  clock.now += 90 * 60_000;
  await beat();
  clock.now += 90 * 60_000;
  t.deepEqual(await service.closeSilentRuns(), [], '90 min since the last heartbeat');
  clock.now += 30 * 60_000;
  t.deepEqual(await service.closeSilentRuns(), [run.id], '2 h since the last heartbeat');
  t.is((await store.run(run.id))?.result?.verdict, 'interrupted');
  t.regex((await store.run(run.id))?.result?.reason ?? '', /^lost: no heartbeat from its agent for 120 min/);
  t.is((await store.run(next.id))?.state, 'queued', 'a queued run is not touched');
  t.deepEqual(await service.closeSilentRuns(), [], 'closed once');
});
