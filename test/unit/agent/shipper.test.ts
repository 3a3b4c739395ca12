// SPDX-License-Identifier: Apache-2.0
/** Shipping a run's outbox and delivering its result to a real hub. */
import test from 'ava';
import type { z } from 'zod';

import type { HubReply } from '../../../src/agent/hub-client.js';
import type { HubLink } from '../../../src/agent/hub-link.js';

import { RunOutbox } from '../../../src/agent/outbox.js';
import { deliverResult } from '../../../src/agent/result-delivery.js';
import { SHIP_BATCH, Shipper } from '../../../src/agent/shipper.js';
import { dispatchRun, linkTo, SILENT, startHub } from '../../helpers/hub.js';

async function dispatched(t: Parameters<typeof startHub>[0]) {
  const hub = await startHub(t);
  const { infraId, link } = await linkTo(t, hub);
  const runId = await dispatchRun(hub, infraId);
  return { hub, link, runId, shipper: new Shipper(link, SILENT) };
}

test('flush ships status events and every log line, in batches, until acknowledged', async (t) => {
  const { hub, runId, shipper } = await dispatched(t);
  const outbox = new RunOutbox();
  outbox.status({ phase: 'running' });
  for (let i = 1; i <= SHIP_BATCH + 20; i += 1) outbox.add('info', `line ${i}`);
  await shipper.flush(runId, outbox);
  t.deepEqual(outbox.pendingLogs(10), [], 'all acknowledged');
  const logs = await hub.service.runLogs(runId, 0, 10_000);
  t.is(logs.length, SHIP_BATCH + 20);
  t.deepEqual(logs.map((l) => l.seq), Array.from({ length: SHIP_BATCH + 20 }, (_, i) => i + 1));
  t.deepEqual((await hub.service.runStatus(runId)).map((s) => s.phase), ['running']);
});

test('the result goes after the logs, and the run is finished on the hub', async (t) => {
  const { hub, link, runId, shipper } = await dispatched(t);
  const outbox = new RunOutbox();
  outbox.add('info', 'last words');
  const delivered = await deliverResult({ link, shipper, logger: SILENT }, runId, outbox, { verdict: 'completed', faults: [] }, new AbortController().signal);
  t.true(delivered);
  t.like(await hub.service.run(runId), { state: 'finished' });
  t.is((await hub.service.runLogs(runId, 0)).length, 1);
});

test('a run the hub forgot is dropped (true); a hub that is down when the agent stops keeps it for the next start (false)', async (t) => {
  const { hub, link, shipper } = await dispatched(t);
  t.true(await deliverResult({ link, shipper, logger: SILENT }, 'forgotten-run', new RunOutbox(), { verdict: 'completed', faults: [] }, new AbortController().signal));
  await hub.stop();
  const shutdown = new AbortController();
  setTimeout(() => shutdown.abort(), 300);
  t.false(await deliverResult({ link, shipper, logger: SILENT }, 'any', new RunOutbox(), { verdict: 'completed', faults: [] }, shutdown.signal));
});

/** `link` answering status calls as a hub before 2026-12 would (`reply`), without reaching the hub. */
function olderHub(link: HubLink, reply: HubReply<never>): unknown[][] {
  const sent: unknown[][] = [];
  const post = link.post.bind(link);
  link.post = async <T>(route: string, body: unknown, schema: z.ZodType<T>): Promise<HubReply<T>> => {
    if (!route.endsWith('/status')) return post(route, body, schema);
    sent.push((body as { events: unknown[] }).events);
    return reply;
  };
  return sent;
}

test('an older hub\'s 204 (stored) and 409 (run finished) both settle the status events: nothing is resent', async (t) => {
  for (const reply of [{ status: 204 }, { status: 409, error: 'CONFLICT: run is already finished' }] as const) {
    const { link, runId, shipper } = await dispatched(t);
    const sent = olderHub(link, reply);
    const outbox = new RunOutbox();
    outbox.status({ phase: 'running' });
    outbox.status({ faultId: 'f1', phase: 'reverting' });
    await shipper.flush(runId, outbox);
    await shipper.flush(runId, outbox);
    t.is(sent.length, 1, `HTTP ${reply.status}: one request`);
    t.false(outbox.statusOwed);
  }
});

test('status events the hub refuses for good become one note spanning their numbers, which the hub acknowledges', async (t) => {
  const { hub, link, runId, shipper } = await dispatched(t);
  const outbox = new RunOutbox();
  outbox.status({ phase: 'running', detail: 'x' });
  outbox.status({ faultId: 'f1', phase: 'applying' });
  const post = link.post.bind(link);
  let refusals = 1;
  link.post = async <T>(route: string, body: unknown, schema: z.ZodType<T>): Promise<HubReply<T>> => {
    if (route.endsWith('/status') && refusals-- > 0) return { status: 413, error: 'PAYLOAD_TOO_LARGE: too big' };
    return post(route, body, schema);
  };
  await shipper.flush(runId, outbox);
  t.false(outbox.statusOwed);
  t.deepEqual((await hub.service.runStatus(runId)).map((s) => [s.seq, s.phase]), [[1, 'left-out']]);
  outbox.status({ phase: 'finished' });
  await shipper.flush(runId, outbox);
  t.deepEqual((await hub.service.runStatus(runId)).map((s) => [s.seq, s.phase]), [[1, 'left-out'], [3, 'finished']], 'numbering goes on past the note');
});

test('the result waits until the hub has acknowledged every status event', async (t) => {
  const { hub, link, runId, shipper } = await dispatched(t);
  const outbox = new RunOutbox();
  outbox.status({ faultId: 'f1', phase: 'reverting' });
  outbox.status({ phase: 'finished', detail: 'completed' });
  const post = link.post.bind(link);
  const order: string[] = [];
  let statusCalls = 0;
  link.post = async <T>(route: string, body: unknown, schema: z.ZodType<T>): Promise<HubReply<T>> => {
    order.push(route.split('/').at(-1) ?? '');
    if (!route.endsWith('/status')) return post(route, body, schema);
    statusCalls += 1;
    // The second answer acknowledges nothing (as a hub still missing an earlier number would):
    // the flush ends without an error, and the result must still wait.
    if (statusCalls === 2) return { status: 200, body: { ackedThrough: 0 } as T };
    const reply = await post(route, body, schema);
    // The first is delivered, but its answer is lost (a timeout).
    if (statusCalls === 1) throw new Error('the hub did not answer within 10 s');
    return reply;
  };
  t.true(await deliverResult({ link, shipper, logger: SILENT }, runId, outbox, { verdict: 'completed', faults: [] }, new AbortController().signal));
  t.deepEqual(order, ['status', 'status', 'status', 'result']);
  t.deepEqual((await hub.service.runStatus(runId)).map((s) => `${s.seq}:${s.phase}`), ['1:reverting', '2:finished'], 'stored once each, before the result');
  t.like(await hub.service.run(runId), { state: 'finished' });
});

test('a hub that lost status events it had acknowledged (hub.db restored) gets a note spanning them, and the result then goes', async (t) => {
  const { hub, link, runId, shipper } = await dispatched(t);
  const outbox = new RunOutbox();
  outbox.status({ phase: 'running' });
  outbox.status({ faultId: 'f1', phase: 'applying' });
  outbox.status({ faultId: 'f1', phase: 'running' });
  // The hub had 1 and 2 and acknowledged them; then it lost them.
  outbox.acknowledgeStatus(2);
  outbox.status({ phase: 'finished' });
  t.true(await deliverResult({ link, shipper, logger: SILENT }, runId, outbox, { verdict: 'completed', faults: [] }, new AbortController().signal));
  t.deepEqual((await hub.service.runStatus(runId)).map((s) => `${s.seq}:${s.phase}`), ['1:lost', '3:running', '4:finished']);
  t.like(await hub.service.run(runId), { state: 'finished' });
});
