// SPDX-License-Identifier: Apache-2.0
/** The heartbeat against a real hub: liveness recorded, aborts delivered, woken by a new run. */
import test from 'ava';

import { Heartbeat } from '../../../src/agent/heartbeat.js';
import { dispatchRun, linkTo, SILENT, startHub } from '../../helpers/hub.js';

test('beats with version and capabilities; a run the hub aborts is reported on the next beat; wake() beats now', async (t) => {
  const hub = await startHub(t);
  const { infraId, link } = await linkTo(t, hub);
  const state: { current?: string } = {};
  const aborts: string[] = [];
  const heartbeat = new Heartbeat({ link, logger: SILENT, agentVersion: '9.9.9', capabilities: ['linux-cpu-stress'], idleMs: 60_000, runningMs: 300, currentRunId: () => state.current, onAbortRequested: (runId) => aborts.push(runId) });
  const stop = new AbortController();
  t.teardown(() => stop.abort());
  const beating = heartbeat.run(stop.signal);
  const infra = async () => (await hub.service.listInfras()).find((i) => i.id === infraId);
  while (!(await infra())?.lastSeen) await new Promise((resolve) => setTimeout(resolve, 10));
  t.like(await infra(), { agentVersion: '9.9.9', capabilities: ['linux-cpu-stress'] });
  // Idle at 60 s: only wake() makes the next beat come soon.
  const runId = await dispatchRun(hub, infraId);
  await hub.service.requestAbort(runId);
  state.current = runId;
  const wokenAt = Date.now();
  heartbeat.wake();
  while (aborts.length === 0) await new Promise((resolve) => setTimeout(resolve, 10));
  t.true(Date.now() - wokenAt < 1000);
  t.deepEqual(aborts, [runId]);
  // While running it beats every 300 ms, and says so every time until the run ends.
  await new Promise((resolve) => setTimeout(resolve, 700));
  t.true(aborts.length >= 2);
  stop.abort();
  await beating;
});

test('a hub that is down is retried, never faster than full jitter allows, and the loop survives it', async (t) => {
  const hub = await startHub(t);
  const { link } = await linkTo(t, hub);
  await hub.stop();
  const heartbeat = new Heartbeat({ link, logger: SILENT, agentVersion: '1', capabilities: [], idleMs: 200, runningMs: 200, currentRunId: () => undefined, onAbortRequested: () => undefined });
  const stop = new AbortController();
  const beating = heartbeat.run(stop.signal);
  await new Promise((resolve) => setTimeout(resolve, 600));
  stop.abort();
  await t.notThrowsAsync(beating);
});
