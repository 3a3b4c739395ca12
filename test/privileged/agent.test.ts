// SPDX-License-Identifier: Apache-2.0
// `faultd agent` end to end against a real hub over TLS on 127.0.0.1: a CPU and a memory fault
// in parallel with status, logs in order and a result; abort from the hub; the hub going away
// mid-run (faults reverted within disconnectTimeout + 1 s, result delivered after it returns).
// The tests of what the hub stores (dispatch, status, logs, results, aborts, tokens and key
// rotation, restarts) run on SQLite and on a real PostgreSQL (skipped, saying why, where it is not
// installed); those of the agent's own behaviour (hanging calls, lost stdout, TLS trust, journals,
// recovery after kill -9, the idle process and its worker) on SQLite only: the hub's store plays
// no part in them, and each PostgreSQL run of this file adds about as long as the tests take.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import avaTest, { type ExecutionContext } from 'ava';

import { finish, REPO_ROOT, runCli, waitForLine, workspace, type CliChild, type Workspace } from '../helpers/cli.js';
import type { HubOptions } from '../../src/hub/service.js';
import { startHub, type TestHub } from '../helpers/hub.js';
import { SQLITE_BACKEND, STORE_BACKENDS, stopTestPostgres, testOnStores, type StoreBackend } from '../helpers/hub-stores.js';
import { configureAgent, cpuAndMemoryExperiment, launchAgent, launchAgentWith, waitForState, type AgentSettings, type Teardown } from '../helpers/agent-process.js';
import { startRelay } from '../helpers/relay.js';
import { privilegedTest } from '../helpers/privileged.js';
import { stressorsMatching, waitUntil } from '../helpers/processes.js';

avaTest.after.always(stopTestPostgres);

const experiment = (seconds: number) => cpuAndMemoryExperiment(seconds, 'agent-e2e');

type Body = (t: ExecutionContext, backend: StoreBackend) => Promise<void>;
/** On both stores. */
const test = (title: string, body: Body) => testOnStores(privilegedTest, title, body, STORE_BACKENDS);
/** On SQLite only: the store plays no part. */
const agentOnly = (title: string, body: Body) => testOnStores(privilegedTest, title, body, [SQLITE_BACKEND]);

/** The parent pid of `pid` (field 4 of /proc/<pid>/stat). */
function parentOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
}

async function startAgent(t: Teardown, hub: TestHub, ws: Workspace, settings: AgentSettings = {}): Promise<CliChild> {
  await configureAgent(hub, ws, settings);
  return launchAgent(t, ws);
}

/** A hub (given, or a new one), an agent in its own workspace, and a 60 s run whose two stressors are up. */
async function agentMidRun(t: ExecutionContext, backend: StoreBackend, options: { settings?: AgentSettings; seconds?: number } = {}) {
  const hub = await startHub(t, { backend });
  const ws = workspace();
  t.teardown(() => ws.remove());
  await configureAgent(hub, ws, options.settings);
  const agent = launchAgent(t, ws);
  const run = await hub.service.queueRun('edge-1', experiment(options.seconds ?? 60));
  t.true(await waitUntil(() => stressorsMatching(run.id).length === 2, 15_000), 'both stressors run');
  return { hub, ws, agent, run };
}

/** Stops `hub`; `restart` brings it back on the same port with the same state. */
async function takeDown(t: ExecutionContext, hub: TestHub): Promise<{ restart(options?: Partial<HubOptions>): Promise<TestHub> }> {
  const port = Number(new URL(hub.url).port);
  await hub.stop();
  return { restart: (options) => startHub(t, { dir: hub.dir, database: hub.database, port, ...(options ? { hub: options } : {}) }) };
}

/** Every log line of the run once, numbered 1…n. */
async function assertContiguousLogs(t: { deepEqual(a: unknown, b: unknown, m?: string): void }, hub: TestHub, runId: string): Promise<void> {
  const seqs = (await hub.service.runLogs(runId, 0)).map((e) => e.seq);
  t.deepEqual(seqs, seqs.map((_, i) => i + 1), 'every line once, in order');
}


test('a run with a CPU and a memory fault in parallel: status, logs in order, result, nothing left', async (t, backend) => {
  const hub = await startHub(t, { backend });
  const ws = workspace();
  t.teardown(() => ws.remove());
  const agent = await startAgent(t, hub, ws);
  const run = await hub.service.queueRun('edge-1', experiment(2));
  t.true(await waitForState(hub, run.id, ['running'], 15_000), 'the agent picked the run up');
  t.true(await waitUntil(() => stressorsMatching(run.id).length === 2, 10_000), 'both stressors run');
  t.true(await waitForState(hub, run.id, ['finished'], 20_000), 'the result arrived');
  const result = (await hub.service.run(run.id))?.result;
  t.is(result?.verdict, 'completed');
  t.deepEqual(result?.faults.map((f) => `${f.faultId}:${f.status}`).sort(), ['cpu:completed', 'mem:completed']);
  t.deepEqual(stressorsMatching(run.id), [], 'no stressor left');
  await waitUntil(async () => (await hub.service.runLogs(run.id, 0)).some((e) => /experiment finished|fault reverted/.test(e.message)), 5000);
  const seqs = (await hub.service.runLogs(run.id, 0)).map((e) => e.seq);
  t.deepEqual(seqs, seqs.map((_, i) => i + 1), 'logs arrive complete and in order');
  t.true((await hub.service.runLogs(run.id, 0)).some((e) => e.message === 'fault applied'));
  const phases = (await hub.service.runStatus(run.id)).map((s) => `${s.faultId ?? 'run'}:${s.phase}`);
  t.true(phases.includes('cpu:running') && phases.includes('mem:running') && phases.includes('run:finished'), phases.join(' '));
  agent.kill('SIGTERM');
  t.is((await finish(agent)).code, 0);
});

test('abort from the hub reaches the agent within a heartbeat and the faults revert within 1 s', async (t, backend) => {
  const hub = await startHub(t, { backend });
  const ws = workspace();
  t.teardown(() => ws.remove());
  // A long idle period: a run that starts wakes the heartbeat, so the abort does not wait 60 s.
  const agent = await startAgent(t, hub, ws, { heartbeatInterval: '60s' });
  const run = await hub.service.queueRun('edge-1', experiment(60));
  t.true(await waitUntil(() => stressorsMatching(run.id).length === 2, 15_000));
  const asked = Date.now();
  await hub.service.requestAbort(run.id);
  t.true(await waitUntil(() => stressorsMatching(run.id).length === 0, 4000), 'stressors gone');
  const gone = Date.now() - asked;
  t.log(`abort → faults reverted in ${gone} ms (heartbeat 1 s while running, 60 s idle)`);
  t.true(gone <= 2000, `${gone} ms`);
  t.true(await waitForState(hub, run.id, ['finished'], 10_000));
  t.like((await hub.service.run(run.id))?.result, { verdict: 'aborted', reason: 'aborted from the hub' });
  agent.kill('SIGTERM');
  await finish(agent);
});

test('hub unreachable mid-run: faults revert within disconnectTimeout + 1 s; the result arrives when it is back', async (t, backend) => {
  const { hub: first, agent, run } = await agentMidRun(t, backend, { settings: { disconnectTimeout: '5s' }, seconds: 120 });
  const hubDown = await takeDown(t, first);
  const stopped = Date.now();
  t.true(await waitUntil(() => stressorsMatching(run.id).length === 0, 9000), 'reverted on its own');
  const after = Date.now() - stopped;
  t.log(`hub stopped → faults reverted after ${after} ms (disconnectTimeout 5 s)`);
  t.true(after <= 6000 + 1000, `${after} ms`);
  // The hub comes back on the same port with the same state.
  const second = await hubDown.restart();
  t.true(await waitForState(second, run.id, ['finished'], 30_000), 'result delivered after reconnection');
  t.like((await second.service.run(run.id))?.result, { verdict: 'aborted', reason: 'control plane unreachable' });
  t.true((await second.service.runLogs(run.id, 0)).some((e) => /control plane unreachable/.test(e.message)), 'the buffered logs say why');
  agent.kill('SIGTERM');
  await finish(agent);
});

agentOnly('hub packets dropped mid-run (calls hang instead of failing): faults still revert within disconnectTimeout + 1 s', async (t, backend) => {
  const hub = await startHub(t, { backend });
  const relay = await startRelay(t, Number(new URL(hub.url).port));
  const ws = workspace();
  t.teardown(() => ws.remove());
  await configureAgent(hub, ws, { disconnectTimeout: '5s', url: `https://127.0.0.1:${relay.port}` });
  const agent = launchAgent(t, ws);
  let out = '';
  agent.stdout.on('data', (c: Buffer) => (out += c.toString()));
  agent.stderr.on('data', (c: Buffer) => (out += c.toString()));
  const run = await hub.service.queueRun('edge-1', experiment(120));
  t.true(await waitUntil(() => stressorsMatching(run.id).length === 2, 15_000), out);
  relay.freeze();
  const frozen = Date.now();
  t.true(await waitUntil(() => stressorsMatching(run.id).length === 0, 9000), 'reverted on its own');
  const after = Date.now() - frozen;
  t.log(`hub packets dropped → faults reverted after ${after} ms (disconnectTimeout 5 s; calls time out after 10 s)`);
  t.true(after <= 5000 + 1000, `${after} ms`);
  await relay.close(); // refused from now on: the agent's stop does not wait for hanging calls
  agent.kill('SIGTERM');
  await finish(agent);
});

agentOnly('the agent losing its stdout (journald restarting) only drops output: the run is not aborted', async (t, backend) => {
  const { hub: first, agent, run } = await agentMidRun(t, backend, { seconds: 6 });
  agent.stdout.destroy();
  // The hub goes away for a moment, so the agent logs failed heartbeats into the closed pipe.
  const hubDown = await takeDown(t, first);
  await new Promise((resolve) => setTimeout(resolve, 2500));
  const second = await hubDown.restart();
  t.true(await waitForState(second, run.id, ['finished'], 20_000));
  t.is((await second.service.run(run.id))?.result?.verdict, 'completed');
  agent.kill('SIGTERM');
  t.is((await finish(agent)).code, 0);
});

test('a malformed task is rejected and reported, and nothing changes on the host', async (t, backend) => {
  const hub = await startHub(t, { backend });
  const ws = workspace();
  t.teardown(() => ws.remove());
  const agent = await startAgent(t, hub, ws);
  const bad = { ...experiment(2), spec: { steps: [{ faults: [{ kind: 'linux-cpu-stress', duration: '2s', params: { load: 250 } }] }] } };
  const run = await hub.service.queueRun('edge-1', bad);
  t.true(await waitForState(hub, run.id, ['finished'], 15_000));
  const result = (await hub.service.run(run.id))?.result;
  t.is(result?.verdict, 'rejected');
  t.regex(result?.reason ?? '', /params\.load/);
  t.deepEqual(stressorsMatching(run.id), []);
  t.true((await hub.service.runStatus(run.id)).some((s) => s.phase === 'rejected'));
  agent.kill('SIGTERM');
  await finish(agent);
});

test('token expiry (3 s TTL) and a key rotation mid-run, and a hub restart: the run completes, logs complete and unduplicated', async (t, backend) => {
  const first = await startHub(t, { backend, hub: { tokenTtlSeconds: 3 } });
  const ws = workspace();
  t.teardown(() => ws.remove());
  const agent = await startAgent(t, first, ws);
  const run = await first.service.queueRun('edge-1', experiment(8));
  t.true(await waitUntil(() => stressorsMatching(run.id).length === 2, 15_000));
  await first.service.rotateKey('edge-1');
  t.true(await waitUntil(async () => (await first.service.listInfras())[0]?.keyRotation === 'none', 6000), 'the agent confirmed the rotated key');
  // The hub restarts mid-run on the same port and state.
  const hubDown = await takeDown(t, first);
  await new Promise((resolve) => setTimeout(resolve, 1500));
  const second = await hubDown.restart({ tokenTtlSeconds: 3 });
  t.true(await waitForState(second, run.id, ['finished'], 30_000));
  t.is((await second.service.run(run.id))?.result?.verdict, 'completed');
  await waitUntil(async () => (await second.service.runLogs(run.id, 0)).filter((e) => e.message === 'fault reverted').length === 2, 5000);
  const seqs = (await second.service.runLogs(run.id, 0)).map((e) => e.seq);
  t.deepEqual(seqs, seqs.map((_, i) => i + 1), 'every line once, in order, across the restart');
  t.deepEqual(stressorsMatching(run.id), []);
  agent.kill('SIGTERM');
  await finish(agent);
});

agentOnly('an agent that does not trust the hub (another CA) says so and runs nothing', async (t, backend) => {
  const hub = await startHub(t, { backend });
  const other = await startHub(t, { backend });
  const ws = workspace();
  t.teardown(() => ws.remove());
  const agent = await startAgent(t, hub, ws);
  // Replace the CA file with another hub's CA before the agent reads it.
  ws.file('ca.pem', other.ca);
  const run = await hub.service.queueRun('edge-1', experiment(2));
  const output = finish(agent);
  await new Promise((resolve) => setTimeout(resolve, 3000));
  agent.kill('SIGTERM');
  const { stdout } = await output;
  t.regex(stdout, /TLS identity did not verify/);
  t.is((await hub.service.run(run.id))?.state, 'queued', 'no task was handed out');
  t.deepEqual(stressorsMatching(run.id), []);
});

test('agent killed with SIGKILL mid-run: the next agent process reverts first, then reports the run interrupted with every log line once', async (t, backend) => {
  const { hub, ws, agent: first, run } = await agentMidRun(t, backend);
  t.true(await waitUntil(async () => (await hub.service.runLogs(run.id, 0)).length > 0, 5000), 'some logs were shipped before the kill');
  first.kill('SIGKILL');
  await finish(first);
  const second = launchAgent(t, ws);
  t.true(await waitForState(hub, run.id, ['finished'], 20_000), 'the restarted agent reported the run');
  t.deepEqual(stressorsMatching(run.id), []);
  const result = (await hub.service.run(run.id))?.result;
  t.is(result?.verdict, 'interrupted');
  t.regex(result?.reason ?? '', /stopped abruptly/);
  t.true((result?.faults.length ?? 0) <= 2);
  await assertContiguousLogs(t, hub, run.id);
  t.true((await hub.service.runLogs(run.id, 0)).some((e) => /interrupted: the agent \(pid \d+\) stopped abruptly/.test(e.message)));
  // The agent deletes the journal just after the hub has the result (and the last lines).
  t.true(await waitUntil(() => readdirSync(path.join(ws.stateDir, 'runs')).length === 0, 5000), 'the journal is gone once the hub has everything');
  second.kill('SIGTERM');
  await finish(second);
});

agentOnly('as under systemd: after a SIGKILL, revert --remnants runs first (ExecStartPre) and the agent still reports which faults it reverted', async (t, backend) => {
  const { hub, ws, agent: first, run } = await agentMidRun(t, backend);
  first.kill('SIGKILL');
  await finish(first);
  const pre = await runCli(['revert', '--remnants'], ws.stateDir);
  t.is(pre.code, 0, pre.stdout);
  t.regex(pre.stdout, /2 remnant\(s\)/);
  const second = launchAgent(t, ws);
  t.true(await waitForState(hub, run.id, ['finished'], 20_000));
  const result = (await hub.service.run(run.id))?.result;
  t.is(result?.verdict, 'interrupted');
  t.deepEqual(result?.faults.map((f) => `${f.faultId}:${f.status}`).sort(), ['cpu:interrupted', 'mem:interrupted']);
  t.true(result?.faults.every((f) => /"ok":true/.test(f.revert ?? '')), JSON.stringify(result?.faults));
  t.regex(result?.reason ?? '', /2 fault\(s\) left applied were reverted .*2 verified, 0 failed/);
  t.true(await waitUntil(() => !existsSync(path.join(ws.stateDir, 'recovered.jsonl')), 5000), 'the recovery notes are cleared once reported');
  second.kill('SIGTERM');
  await finish(second);
});

test('stopped while the hub is down: the result and the rest of the logs wait on disk for the next agent process', async (t, backend) => {
  const { hub: first, ws, agent, run } = await agentMidRun(t, backend);
  const hubDown = await takeDown(t, first);
  agent.kill('SIGTERM');
  const stopped = await finish(agent);
  t.regex(stopped.stdout, /it is sent at the next start/);
  t.deepEqual(stressorsMatching(run.id), [], 'the stopping agent reverted');
  t.is(readdirSync(path.join(ws.stateDir, 'runs')).length, 1, 'the journal is kept');
  const second = await hubDown.restart();
  const again = launchAgent(t, ws);
  t.true(await waitForState(second, run.id, ['finished'], 20_000));
  t.like((await second.service.run(run.id))?.result, { verdict: 'aborted', reason: 'the agent is stopping' });
  await assertContiguousLogs(t, second, run.id);
  const reverted = (await second.service.runLogs(run.id, 0)).filter((e) => e.message === 'fault reverted');
  t.is(reverted.length, 2, 'the lines logged after the hub went away (the reverts) arrived');
  again.kill('SIGTERM');
  await finish(again);
});

agentOnly('a run journal from an earlier boot is reported as interrupted by reboot', async (t, backend) => {
  const hub = await startHub(t, { backend });
  const ws = workspace();
  t.teardown(() => ws.remove());
  const infraId = await configureAgent(hub, ws);
  const run = await hub.service.queueRun('edge-1', experiment(60));
  t.is((await hub.service.nextTask(infraId))?.task.runId, run.id, 'dispatched to the agent that "rebooted"');
  mkdirSync(path.join(ws.stateDir, 'runs'), { recursive: true });
  const start = { t: 'start', runId: run.id, bootId: '00000000-0000-4000-8000-000000000000', pid: 4_000_000, startTime: 0, at: new Date().toISOString(), nextSeq: 1 };
  const log = { t: 'log', e: { seq: 1, at: new Date().toISOString(), level: 'info', message: 'fault applied' } };
  writeFileSync(path.join(ws.stateDir, 'runs', `${run.id}.jsonl`), `${JSON.stringify(start)}\n${JSON.stringify(log)}\n{"t":"log","e":{"se`);
  const agent = launchAgent(t, ws);
  t.true(await waitForState(hub, run.id, ['finished'], 20_000));
  const result = (await hub.service.run(run.id))?.result;
  t.is(result?.verdict, 'interrupted');
  t.regex(result?.reason ?? '', /^interrupted by reboot; no fault of this run was left applied/);
  await assertContiguousLogs(t, hub, run.id);
  t.is((await hub.service.runLogs(run.id, 0))[0]?.message, 'fault applied', 'the journaled line before the torn one was sent');
  agent.kill('SIGTERM');
  await finish(agent);
});

agentOnly('a run journal of a live agent process is left to it; the same pid with another start time (pid reuse) is not', async (t, backend) => {
  const hub = await startHub(t, { backend });
  const ws = workspace();
  t.teardown(() => ws.remove());
  const infraId = await configureAgent(hub, ws);
  const run = await hub.service.queueRun('edge-1', experiment(60));
  t.is((await hub.service.nextTask(infraId))?.task.runId, run.id);
  // A process of our own stands in for the other agent: its pid, this boot, its start time.
  const other = spawn('sleep', ['60'], { stdio: 'ignore' });
  t.teardown(() => other.kill('SIGKILL'));
  const pid = other.pid ?? 0;
  const startTime = Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ')[19]);
  const bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  const journal = (ticks: number) => {
    mkdirSync(path.join(ws.stateDir, 'runs'), { recursive: true });
    const start = { t: 'start', runId: run.id, bootId, pid, startTime: ticks, at: new Date().toISOString(), nextSeq: 1 };
    writeFileSync(path.join(ws.stateDir, 'runs', `${run.id}.jsonl`), `${JSON.stringify(start)}\n`);
  };
  journal(startTime);
  const first = launchAgent(t, ws);
  await waitForLine(first, /a run journal of another live faultd agent on this state dir: left to it/);
  first.kill('SIGTERM');
  await finish(first);
  t.is((await hub.service.run(run.id))?.state, 'dispatched', 'not reported by the agent that does not own it');
  t.true(existsSync(path.join(ws.stateDir, 'runs', `${run.id}.jsonl`)), 'journal kept');
  journal(startTime + 1);
  const second = launchAgent(t, ws);
  t.true(await waitForState(hub, run.id, ['finished'], 20_000));
  t.is((await hub.service.run(run.id))?.result?.verdict, 'interrupted');
  t.regex((await hub.service.run(run.id))?.result?.reason ?? '', new RegExp(`the agent \\(pid ${pid}\\) stopped abruptly`));
  second.kill('SIGTERM');
  await finish(second);
});

agentOnly('the idle agent process loads no zod, pino, yaml, commander or fault module; its prepare worker does', async (t, backend) => {
  const hub = await startHub(t, { backend });
  const ws = workspace();
  t.teardown(() => ws.remove());
  await configureAgent(hub, ws);
  const log = path.join(ws.dir, 'modules.log');
  const agent = launchAgentWith(t, ws, { NODE_OPTIONS: `--import=${path.join(REPO_ROOT, 'test', 'fixtures', 'module-recorder.mjs')}`, FAULTD_TEST_MODULE_LOG: log });
  await waitForLine(agent, /agent started/, 20_000);
  const records = readFileSync(log, 'utf8').split('\n').filter(Boolean).map((line) => line.split(' '));
  const idle = records.filter(([pid]) => Number(pid) === agent.pid).map(([, url = '']) => url);
  const workers = records.filter(([pid]) => Number(pid) !== agent.pid).map(([, url = '']) => url);
  t.true(idle.some((url) => url.endsWith('/dist/src/idle-main.js')), 'the recorder saw the idle process');
  const heavy = /node_modules\/(zod|pino|yaml|commander|undici)\/|\/dist\/src\/(faults|config|engine|ledger|experiment|cli|hub)\//;
  t.deepEqual(idle.filter((url) => heavy.test(url)), []);
  t.true(workers.some((url) => url.includes('/node_modules/zod/')), 'the prepare worker, the full faultd, loads them');
  agent.kill('SIGTERM');
  t.is((await finish(agent)).code, 0);
});

agentOnly('a run worker killed mid-run: the idle agent reverts what it left, reports the run interrupted, and takes the next task', async (t, backend) => {
  const { hub, agent, run } = await agentMidRun(t, backend);
  const worker = parentOf(stressorsMatching(run.id)[0] ?? 0);
  t.not(worker, agent.pid, 'the run executes in a worker');
  t.is(parentOf(worker), agent.pid ?? 0, 'started by the idle process');
  process.kill(worker, 'SIGKILL');
  t.true(await waitForState(hub, run.id, ['finished'], 20_000), 'the run is reported');
  t.deepEqual(stressorsMatching(run.id), [], 'its stressors are gone');
  const result = (await hub.service.run(run.id))?.result;
  t.is(result?.verdict, 'interrupted');
  t.regex(result?.reason ?? '', /stopped abruptly/);
  await assertContiguousLogs(t, hub, run.id);
  const next = await hub.service.queueRun('edge-1', experiment(1));
  t.true(await waitForState(hub, next.id, ['finished'], 20_000), 'the next task runs');
  t.is((await hub.service.run(next.id))?.result?.verdict, 'completed');
  t.is(agent.exitCode, null, 'the idle process lives on');
  agent.kill('SIGTERM');
  t.is((await finish(agent)).code, 0);
});

agentOnly('the idle process SIGKILLed mid-run: its run worker dies with it (PR_SET_PDEATHSIG), as a one-process agent would', async (t, backend) => {
  const { agent, run } = await agentMidRun(t, backend);
  const worker = parentOf(stressorsMatching(run.id)[0] ?? 0);
  t.is(parentOf(worker), agent.pid ?? 0);
  agent.kill('SIGKILL');
  await finish(agent);
  t.true(await waitUntil(() => !existsSync(`/proc/${worker}`), 5000), 'the worker is gone');
  t.true(await waitUntil(() => stressorsMatching(run.id).length === 0, 5000), 'and its stressors');
});
