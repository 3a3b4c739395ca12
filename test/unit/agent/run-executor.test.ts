// SPDX-License-Identifier: Apache-2.0
/**
 * One task end to end without root: a real hub, a session of fake faults on a real ledger. The
 * run is journaled, reported (status, logs, result), aborted from the hub, or rejected; its status
 * history is whole and free of duplicates however many requests had to be resent.
 */
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';

import test, { type ExecutionContext } from 'ava';
import type { z } from 'zod';

import type { HubReply } from '../../../src/agent/hub-client.js';
import { RunExecutor } from '../../../src/agent/run-executor.js';
import { Shipper } from '../../../src/agent/shipper.js';
import { FaultdError } from '../../../src/errors.js';
import type { CheckSpec, ProbeCheck } from '../../../src/probes/types.js';
import { TaskResponse } from '../../../src/protocol/messages.js';
import { linkTo, SILENT, startHub } from '../../helpers/hub.js';
import { fakeSession } from '../../helpers/session.js';

const experiment = (duration: string) => ({
  apiVersion: 'faultd/v1',
  kind: 'Experiment',
  metadata: { name: 'x' },
  spec: { steps: [{ name: 's', faults: [{ name: 'f1', kind: 'fake', duration, params: {} }] }] },
});

async function setup(t: ExecutionContext, document: unknown, createCheck?: (spec: CheckSpec) => ProbeCheck) {
  const hub = await startHub(t);
  const { infraId, link } = await linkTo(t, hub);
  const { session, events, stateDir } = await fakeSession(t, createCheck ? { createCheck } : {});
  await hub.service.queueRun('edge-1', document);
  const task = TaskResponse.parse(await hub.service.nextTask(infraId));
  const executor = new RunExecutor({ session, link, shipper: new Shipper(link, SILENT), logger: SILENT, stateDir, disconnectTimeoutMs: 60_000, abortWaitMs: 30_000 });
  return { hub, task, executor, events, stateDir, link };
}

test('a task runs, is reported and its journal removed once the hub has the result', async (t) => {
  const { hub, task, executor, events, stateDir } = await setup(t, experiment('300ms'));
  const running = executor.execute(task, new AbortController().signal);
  t.is(executor.currentRunId, task.task.runId);
  await running;
  t.is(executor.currentRunId, undefined);
  const run = await hub.service.run(task.task.runId);
  t.like(run, { state: 'finished' });
  t.is(run?.result?.verdict, 'completed');
  t.deepEqual(events, [`apply:${task.task.runId}-f1`, `revert:${task.task.runId}-f1`]);
  const phases = (await hub.service.runStatus(task.task.runId)).map((s) => s.phase);
  t.is(phases[0], 'running');
  t.is(phases.at(-1), 'finished');
  t.true((await hub.service.runLogs(task.task.runId, 0, 1000)).some((l) => l.message === 'step started'));
  const runsDir = path.join(stateDir, 'runs');
  t.true(!existsSync(runsDir) || readdirSync(runsDir).length === 0, 'journal removed');
});

test('an abort from the hub reaches the run through the held abort call and its faults revert', async (t) => {
  const { hub, task, executor, events } = await setup(t, experiment('60s'));
  const running = executor.execute(task, new AbortController().signal);
  while (!events.some((e) => e.startsWith('apply:'))) await new Promise((resolve) => setTimeout(resolve, 10));
  await hub.service.requestAbort(task.task.runId);
  await running;
  const run = await hub.service.run(task.task.runId);
  t.is(run?.result?.verdict, 'aborted');
  t.is(run?.result?.reason, 'aborted from the hub');
  t.true(events.some((e) => e.startsWith('revert:')));
});

test('an experiment this host refuses is rejected and nothing is applied', async (t) => {
  const { hub, task, executor, events } = await setup(t, { apiVersion: 'faultd/v1', kind: 'Experiment', metadata: { name: 'x' }, spec: { steps: [{ name: 's', faults: [{ kind: 'no-such-kind', duration: '1s', params: {} }] }] } });
  await executor.execute(task, new AbortController().signal);
  const run = await hub.service.run(task.task.runId);
  t.is(run?.result?.verdict, 'rejected');
  t.regex(run?.result?.reason ?? '', /unknown fault kind "no-such-kind"/);
  t.deepEqual(events, []);
});

test('an experiment whose probes cannot run here (no user for its command probes) is rejected before anything is applied', async (t) => {
  const withProbe = { ...experiment('1s'), spec: { ...experiment('1s').spec, probes: [{ name: 'c', type: 'cmd', mode: 'SOT', command: ['true'] }] } };
  const refuse = (): ProbeCheck => {
    throw new FaultdError('FAULTD_ERR_PROBE_USER', 'probes.user "nobody" does not exist on this host');
  };
  const { hub, task, executor, events } = await setup(t, withProbe, refuse);
  await executor.execute(task, new AbortController().signal);
  const run = await hub.service.run(task.task.runId);
  t.is(run?.result?.verdict, 'rejected');
  t.regex(run?.result?.reason ?? '', /probes\.user "nobody" does not exist/);
  t.deepEqual(events, []);
  t.deepEqual(
    (await hub.service.runStatus(task.task.runId)).map((s) => s.phase),
    ['rejected', 'finished'],
  );
});

test('the agent stopping mid-run aborts it, and a hub that is gone keeps the result in the journal', async (t) => {
  const { hub, task, executor, events, stateDir } = await setup(t, experiment('60s'));
  const shutdown = new AbortController();
  const running = executor.execute(task, shutdown.signal);
  while (!events.some((e) => e.startsWith('apply:'))) await new Promise((resolve) => setTimeout(resolve, 10));
  await hub.stop();
  shutdown.abort('the agent is stopping');
  await running;
  t.true(events.some((e) => e.startsWith('revert:')));
  t.is(readdirSync(path.join(stateDir, 'runs')).length, 1, 'journal kept for the next start');
});

test('after resends (answers lost, requests delivered) the hub holds every phase of every fault once, reverting included, before the result', async (t) => {
  const twoFaults = {
    ...experiment('300ms'),
    spec: { steps: [{ name: 's', faults: [{ name: 'f1', kind: 'fake', duration: '300ms', params: {} }, { name: 'f2', kind: 'fake', duration: '200ms', params: {} }] }] },
  };
  const { hub, task, executor, link } = await setup(t, twoFaults);
  const post = link.post.bind(link);
  let statusCalls = 0;
  let resultSeenWith: string[] | undefined;
  link.post = async <T>(route: string, body: unknown, schema: z.ZodType<T>): Promise<HubReply<T>> => {
    if (route.endsWith('/result')) resultSeenWith = (await hub.service.runStatus(task.task.runId)).map((s) => s.phase);
    const reply = await post(route, body, schema);
    // Every other status request reaches the hub but its answer is lost: the agent resends.
    if (route.endsWith('/status') && (statusCalls += 1) % 2 === 1) throw new Error('the hub did not answer within 10 s');
    return reply;
  };
  await executor.execute(task, new AbortController().signal);
  t.is((await hub.service.run(task.task.runId))?.result?.verdict, 'completed');
  t.true(statusCalls >= 2, `${statusCalls} status requests`);
  const history = await hub.service.runStatus(task.task.runId);
  const seqs = history.map((s) => s.seq);
  t.deepEqual(seqs, seqs.map((_, i) => i + 1), 'every number once, none missing');
  const keys = history.map((s) => `${s.faultId ?? 'run'}:${s.phase}`);
  t.deepEqual(keys, [...new Set(keys)], 'no event stored twice');
  for (const fault of ['f1', 'f2']) t.deepEqual(keys.filter((k) => k.startsWith(`${fault}:`)), ['applying', 'running', 'reverting', 'done'].map((p) => `${fault}:${p}`));
  t.is(keys.at(-1), 'run:finished');
  t.is(resultSeenWith?.at(-1), 'finished', 'the result went after the last status event was stored');
});
