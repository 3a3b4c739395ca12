// SPDX-License-Identifier: Apache-2.0
// Run changes wake only the waiters of their infrastructure: in a fleet of thousands of held
// long-polls, a run queued for one agent must not make every poll query the store.
import test from 'ava';

import { HubService } from '../../../src/hub/service.js';
import { STORE_BACKENDS, stopTestPostgres } from '../../helpers/hub-stores.js';

test.after.always(stopTestPostgres);

const EXPERIMENT = { apiVersion: 'faultd/v1', kind: 'Experiment', metadata: { name: 'x' }, spec: { steps: [{ faults: [{ kind: 'linux-cpu-stress', duration: '1s' }] }] } };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Counts the wake-ups of listeners on infrastructure `a`, on `b`, and on any. */
function counters(service: HubService, a: string, b: string): { a: number; b: number; any: number; stop(): void } {
  const counts = { a: 0, b: 0, any: 0 };
  const stops = [service.onRunsChanged(() => (counts.a += 1), a), service.onRunsChanged(() => (counts.b += 1), b), service.onRunsChanged(() => (counts.any += 1))];
  return Object.assign(counts, { stop: () => stops.forEach((stop) => stop()) });
}

for (const backend of STORE_BACKENDS) {
  const run = backend.missing ? test.skip : test.serial;
  run(`${backend.name}: a run queued, aborted or finished here wakes the listeners of its infrastructure and of any, not those of another${backend.missing ? ` (skipped: ${backend.missing})` : ''}`, async (t) => {
    const db = await backend.database(t);
    const service = new HubService(await db.connect());
    const a = await service.createInfra('edge-a');
    const b = await service.createInfra('edge-b');
    const counts = counters(service, a.id, b.id);
    t.teardown(() => counts.stop());
    // Each change wakes at once, from this process; on PostgreSQL the change's own NOTIFY may
    // wake the same listeners again a moment later (harmless: they check and find nothing new).
    const woken = async (what: string, change: () => Promise<unknown>): Promise<void> => {
      const before = { ...counts };
      await change();
      t.true(counts.a > before.a, `${what}: its infrastructure's listener`);
      t.true(counts.any > before.any, `${what}: the listener of any infrastructure`);
    };
    let queuedId = '';
    await woken('queued', async () => (queuedId = (await service.queueRun('edge-a', EXPERIMENT)).id));
    await service.nextTask(a.id);
    await woken('abort requested', () => service.requestAbort(queuedId));
    await woken('finished', () => service.reportResult(a.id, queuedId, { verdict: 'aborted', faults: [] }));
    await sleep(300); // any NOTIFY echo has arrived
    t.is(counts.b, 0, 'another infrastructure is never woken');
  });

  run(`${backend.name}: a run queued by another process or replica wakes ${backend.name === 'postgres' ? 'only its infrastructure\'s listeners (NOTIFY names it)' : 'every listener (data_version cannot name it)'}${backend.missing ? ` (skipped: ${backend.missing})` : ''}`, async (t) => {
    const db = await backend.database(t);
    const service = new HubService(await db.connect());
    const other = new HubService(await db.connect());
    const a = await service.createInfra('edge-a');
    const b = await service.createInfra('edge-b');
    const counts = counters(service, a.id, b.id);
    t.teardown(() => counts.stop());
    await other.queueRun('edge-a', EXPERIMENT);
    const deadline = Date.now() + 2000;
    while (counts.a === 0 && Date.now() < deadline) await sleep(10);
    await sleep(300); // one more SQLite watch period, for a wake-up that should not come
    t.is(counts.a, 1, 'the infrastructure of the run');
    t.is(counts.any, 1, 'a listener of any infrastructure');
    t.is(counts.b, backend.name === 'postgres' ? 0 : 1, 'another infrastructure');
  });
}
