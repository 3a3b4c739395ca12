// SPDX-License-Identifier: Apache-2.0
// `faultd agent` against a real hub over TLS on 127.0.0.1 (same machine: the hub sees the
// skewed clock too) running linux-time-chaos with offset +24h and then -24h: each run
// completes, the agent keeps its token and its line to the hub through the step (its waits run
// on CLOCK_MONOTONIC, the hub's on its steady clock), a third run afterwards works, and the
// clock is back within 1 ms of the test's own reference (anchor + elapsed BOOTTIME) after each.
import { writeFileSync } from 'node:fs';
import path from 'node:path';

import type { ExecutionContext } from 'ava';

import { finish, runCli, startCli, workspace, type Workspace } from '../helpers/cli.js';
import { assertBackOnTimeline, clockOffsetNs, guardClock, stepClockNs, type ClockPair } from '../helpers/clock.js';
import { startHub, type TestHub } from '../helpers/hub.js';
import { privilegedTest as test } from '../helpers/privileged.js';
import { waitUntil } from '../helpers/processes.js';

async function configureAgent(hub: TestHub, ws: Workspace): Promise<void> {
  const { id, accessKey } = await hub.service.createInfra('edge-1');
  const keyFile = path.join(ws.dir, 'access-key');
  writeFileSync(keyFile, `${accessKey}\n`, { mode: 0o600 });
  const caFile = ws.file('ca.pem', hub.ca);
  ws.file('config.yaml', [
    'hub:', `  url: ${hub.url}`, `  infraId: ${id}`, `  accessKeyFile: ${keyFile}`, `  caFile: ${caFile}`,
    // A disconnect timeout far below the skew: a wall-clock watchdog would abort at once.
    'agent:', '  heartbeatInterval: 1s', '  runningHeartbeatInterval: 1s', '  pollWait: 1s', '  disconnectTimeout: 10s', '',
  ].join('\n'));
}

const timeChaos = (offset: string) => ({
  apiVersion: 'faultd/v1',
  kind: 'Experiment',
  metadata: { name: `time-${offset}` },
  spec: { steps: [{ faults: [{ kind: 'linux-time-chaos', name: 'clock', duration: '4s', params: { offset } }] }] },
});

const DAY_NS = 86_400_000_000_000n;

/** Puts the clock back to `anchor` + elapsed (what the guard does at teardown), at once. */
function restoreNow(anchor: ClockPair): void {
  stepClockNs(-clockOffsetNs(anchor));
}

/** An agent on a new hub, in its own workspace; killed and its remnants reverted at teardown. */
async function agentOnHub(t: ExecutionContext) {
  const hub = await startHub(t);
  const ws = workspace();
  t.teardown(() => ws.remove());
  await configureAgent(hub, ws);
  const agent = startCli(['--log-format', 'json', 'agent'], ws.stateDir);
  t.teardown(async () => {
    agent.kill('SIGKILL');
    await runCli(['revert', '--remnants', '--force'], ws.stateDir);
  });
  return { hub, agent };
}

test('a -24 h step made by someone else while the agent long-polls does not stall its polling: the next run is picked up', async (t) => {
  const anchor = await guardClock(t);
  const { hub } = await agentOnHub(t);
  const first = await hub.service.queueRun('edge-1', timeChaos('+1m'));
  t.true(await waitUntil(async () => (await hub.service.run(first.id))?.state === 'finished', 30_000), 'the agent is up and polling');
  // Polls go out every second now (pollWait 1s); a step back lands inside one of them.
  await new Promise((resolve) => setTimeout(resolve, 1500));
  stepClockNs(-DAY_NS);
  await new Promise((resolve) => setTimeout(resolve, 2500));
  restoreNow(anchor);
  const next = await hub.service.queueRun('edge-1', timeChaos('+1m'));
  t.true(await waitUntil(async () => (await hub.service.run(next.id))?.state === 'finished', 15_000), `the run queued after the step finished (state ${(await hub.service.run(next.id))?.state})`);
  t.is((await hub.service.run(next.id))?.result?.verdict, 'completed');
});

test('a +24 h step made by someone else mid-run is not taken for a lost hub: the run completes', async (t) => {
  const anchor = await guardClock(t);
  const { hub } = await agentOnHub(t);
  const run = await hub.service.queueRun('edge-1', { apiVersion: 'faultd/v1', kind: 'Experiment', metadata: { name: 'cpu' }, spec: { steps: [{ faults: [{ kind: 'linux-cpu-stress', name: 'cpu', duration: '6s', params: { load: 5, workers: 1 } }] }] } });
  t.true(await waitUntil(async () => (await hub.service.runStatus(run.id)).some((s) => s.faultId === 'cpu' && s.phase === 'running'), 20_000), 'the fault runs');
  // Steps between heartbeats (1 s) several times: a wall-clock watchdog checks every 250 ms.
  for (let i = 0; i < 3; i += 1) {
    await new Promise((resolve) => setTimeout(resolve, 400));
    stepClockNs(DAY_NS);
    await new Promise((resolve) => setTimeout(resolve, 700));
    restoreNow(anchor);
  }
  t.true(await waitUntil(async () => (await hub.service.run(run.id))?.state === 'finished', 20_000));
  t.is((await hub.service.run(run.id))?.result?.verdict, 'completed', JSON.stringify((await hub.service.run(run.id))?.result));
});

test('the agent runs +24h and -24h clock skews to completion, stays connected, and runs again afterwards; the clock comes back within 1 ms', async (t) => {
  const anchor = await guardClock(t);
  const { hub, agent } = await agentOnHub(t);
  for (const offset of ['+24h', '-24h']) {
    const run = await hub.service.queueRun('edge-1', timeChaos(offset));
    t.true(await waitUntil(async () => (await hub.service.run(run.id))?.state === 'finished', 30_000), `${offset}: the result arrived (state ${(await hub.service.run(run.id))?.state})`);
    const result = (await hub.service.run(run.id))?.result;
    t.is(result?.verdict, 'completed', `${offset}: ${JSON.stringify(result)}`);
    t.regex(JSON.stringify(result?.faults), /clock stepped by -?\d+\.\d{3} ms to anchor \+ elapsed time/);
    const residual = assertBackOnTimeline(t, anchor, offset, DAY_NS);
    t.log(`${offset}: verdict ${result?.verdict}, residual ${residual} ms`);
  }
  const after = await hub.service.queueRun('edge-1', timeChaos('+1m'));
  t.true(await waitUntil(async () => (await hub.service.run(after.id))?.state === 'finished', 30_000), 'a later run is picked up and finished');
  t.is((await hub.service.run(after.id))?.result?.verdict, 'completed');
  agent.kill('SIGTERM');
  t.is((await finish(agent)).code, 0);
});
