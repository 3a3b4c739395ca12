// SPDX-License-Identifier: Apache-2.0
/** Shipping a run's outbox and delivering its result to a real hub. */
import test from 'ava';

import { RunOutbox } from '../../../src/agent/outbox.js';
import { deliverResult } from '../../../src/agent/result-delivery.js';
import { SHIP_BATCH, Shipper } from '../../../src/agent/shipper.js';
import { linkTo, QUEUED_EXPERIMENT, SILENT, startHub } from '../../helpers/hub.js';

async function dispatched(t: Parameters<typeof startHub>[0]) {
  const hub = await startHub(t);
  const { infraId, link } = linkTo(t, hub);
  const run = hub.service.queueRun('edge-1', QUEUED_EXPERIMENT);
  hub.service.nextTask(infraId);
  return { hub, link, runId: run.id, shipper: new Shipper(link, SILENT) };
}

test('flush ships status events and every log line, in batches, until acknowledged', async (t) => {
  const { hub, runId, shipper } = await dispatched(t);
  const outbox = new RunOutbox();
  outbox.status({ phase: 'running' });
  for (let i = 1; i <= SHIP_BATCH + 20; i += 1) outbox.add('info', `line ${i}`);
  await shipper.flush(runId, outbox);
  t.deepEqual(outbox.pendingLogs(10), [], 'all acknowledged');
  const logs = hub.service.runLogs(runId, 0, 10_000);
  t.is(logs.length, SHIP_BATCH + 20);
  t.deepEqual(logs.map((l) => l.seq), Array.from({ length: SHIP_BATCH + 20 }, (_, i) => i + 1));
  t.deepEqual(hub.service.runStatus(runId).map((s) => s.phase), ['running']);
});

test('the result goes after the logs, and the run is finished on the hub', async (t) => {
  const { hub, link, runId, shipper } = await dispatched(t);
  const outbox = new RunOutbox();
  outbox.add('info', 'last words');
  const delivered = await deliverResult({ link, shipper, logger: SILENT }, runId, outbox, { verdict: 'completed', faults: [] }, new AbortController().signal);
  t.true(delivered);
  t.like(hub.service.run(runId), { state: 'finished' });
  t.is(hub.service.runLogs(runId, 0).length, 1);
});

test('a run the hub forgot is dropped (true); a hub that is down when the agent stops keeps it for the next start (false)', async (t) => {
  const { hub, link, shipper } = await dispatched(t);
  t.true(await deliverResult({ link, shipper, logger: SILENT }, 'forgotten-run', new RunOutbox(), { verdict: 'completed', faults: [] }, new AbortController().signal));
  await hub.stop();
  const shutdown = new AbortController();
  setTimeout(() => shutdown.abort(), 300);
  t.false(await deliverResult({ link, shipper, logger: SILENT }, 'any', new RunOutbox(), { verdict: 'completed', faults: [] }, shutdown.signal));
});
