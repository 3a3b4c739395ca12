// SPDX-License-Identifier: Apache-2.0
// The idle loop against a real hub, with recording workers in place of processes.
import test from 'ava';

import { IdleAgent } from '../../../src/agent/idle-agent.js';
import type { IdleSettings } from '../../../src/agent/worker-protocol.js';
import { WorkerFailed, type AgentWorkers, type WorkerExit } from '../../../src/agent/workers.js';
import type { Validator } from '../../../src/protocol/validator.js';
import type { HubReply } from '../../../src/agent/hub-client.js';
import type { HubLink } from '../../../src/agent/hub-link.js';
import { linkTo, QUEUED_EXPERIMENT, SILENT, startHub } from '../../helpers/hub.js';

const CLEAN: WorkerExit = { pid: 1, code: 0, signal: null };
const KILLED: WorkerExit = { pid: 1, code: null, signal: 'SIGKILL' };

const IDENTITY = { id: 'a1b2c3d4e5f6a7b8', hostname: 'idle-test' };

function settings(): IdleSettings {
  return {
    logFormat: 'json',
    hub: { url: 'https://127.0.0.1' },
    infraId: 'unused',
    keyFile: 'unused',
    identity: IDENTITY,
    version: '0.1.0',
    capabilities: ['linux-cpu-stress'],
    timing: { heartbeatMs: 50, runningHeartbeatMs: 50, pollWaitMs: 1000, disconnectTimeoutMs: 30_000 },
  };
}

/** `link` with a count of the heartbeats sent through it. */
function countingHeartbeats(link: HubLink): { link: HubLink; heartbeats: () => number } {
  let count = 0;
  const counted = new Proxy(link, {
    get(target, property) {
      if (property === 'post') {
        return <T>(route: string, body: unknown, schema: Validator<T>): Promise<HubReply<T>> => {
          if (route.endsWith('/heartbeat')) count += 1;
          return target.post(route, body, schema);
        };
      }
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
  return { link: counted, heartbeats: () => count };
}

test('a task goes to a run worker; heartbeats rest while it runs and resume after', async (t) => {
  const hub = await startHub(t);
  const { link, heartbeats } = countingHeartbeats((await linkTo(t, hub, 'edge-1', IDENTITY)).link);
  const stop = new AbortController();
  const ran: string[] = [];
  let duringRun = -1;
  const workers: Pick<AgentWorkers, 'run' | 'prepare'> = {
    run: async (task) => {
      ran.push(task.task.runId);
      const before = heartbeats();
      await new Promise((resolve) => setTimeout(resolve, 500));
      duringRun = heartbeats() - before;
      return CLEAN;
    },
    prepare: () => t.fail('no prepare after a clean run'),
  };
  const agent = new IdleAgent({ link, logger: SILENT, settings: settings(), workers });
  const running = agent.run(stop.signal);
  await new Promise((resolve) => setTimeout(resolve, 200));
  t.true(heartbeats() > 0, 'heartbeats while idle');
  const run = await hub.service.queueRun('edge-1', QUEUED_EXPERIMENT);
  while (ran.length === 0) await new Promise((resolve) => setTimeout(resolve, 20));
  t.deepEqual(ran, [run.id]);
  while (duringRun < 0) await new Promise((resolve) => setTimeout(resolve, 20));
  t.is(duringRun, 0, 'none while the worker runs (it heartbeats for its run)');
  const after = heartbeats();
  await new Promise((resolve) => setTimeout(resolve, 300));
  t.true(heartbeats() > after, 'and again after');
  stop.abort();
  await running;
});

test('a run worker that dies is followed by a prepare worker, then polling goes on', async (t) => {
  const hub = await startHub(t);
  const link = (await linkTo(t, hub, 'edge-1', IDENTITY)).link;
  const stop = new AbortController();
  const calls: string[] = [];
  const workers: Pick<AgentWorkers, 'run' | 'prepare'> = {
    run: (task) => {
      calls.push(`run ${task.task.runId}`);
      return Promise.resolve(calls.length === 1 ? KILLED : CLEAN);
    },
    prepare: async () => {
      calls.push('prepare');
      // As a real prepare worker does: the dead worker's run is reported, so the hub sends the next.
      await hub.service.closeRun(calls[0]?.slice('run '.length) ?? '', 'interrupted: the run worker died');
      return settings();
    },
  };
  const lines: string[] = [];
  const logger = { ...SILENT, error: (fields: object, message?: string) => lines.push(`${message ?? ''} ${JSON.stringify(fields)}`) } as unknown as typeof SILENT;
  const agent = new IdleAgent({ link, logger, settings: settings(), workers });
  const running = agent.run(stop.signal);
  const first = await hub.service.queueRun('edge-1', QUEUED_EXPERIMENT);
  while (!calls.includes('prepare')) await new Promise((resolve) => setTimeout(resolve, 20));
  const second = await hub.service.queueRun('edge-1', QUEUED_EXPERIMENT);
  while (calls.length < 3) await new Promise((resolve) => setTimeout(resolve, 20));
  t.deepEqual(calls, [`run ${first.id}`, 'prepare', `run ${second.id}`]);
  t.regex(lines.join('\n'), /the run worker was killed by SIGKILL: reverting what it left/);
  stop.abort();
  await running;
});

test('a prepare worker that fails after a dead run worker ends the agent with its failure', async (t) => {
  const hub = await startHub(t);
  const link = (await linkTo(t, hub, 'edge-1', IDENTITY)).link;
  const failed = new WorkerFailed('prepare', { pid: 7, code: 2, signal: null });
  const workers: Pick<AgentWorkers, 'run' | 'prepare'> = { run: () => Promise.resolve(KILLED), prepare: () => Promise.reject(failed) };
  const agent = new IdleAgent({ link, logger: SILENT, settings: settings(), workers });
  const running = agent.run(new AbortController().signal);
  await hub.service.queueRun('edge-1', QUEUED_EXPERIMENT);
  t.is(await t.throwsAsync(running), failed);
});
