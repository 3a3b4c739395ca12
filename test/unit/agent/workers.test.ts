// SPDX-License-Identifier: Apache-2.0
// The idle agent's workers, with a small script in the worker's place that speaks the protocol.
import test from 'ava';

import { AgentWorkers, cleanExit, WorkerFailed, type WorkerCommand } from '../../../src/agent/workers.js';
import type { TaskReply } from '../../../src/protocol/agent-replies.js';
import { SILENT } from '../../helpers/hub.js';

/** A worker: prepare answers settings made of what it saw; run echoes its task and stop as status lines. */
const WORKER = `
const role = process.env.FAULTD_AGENT_WORKER;
const seen = { role, notify: process.env.NOTIFY_SOCKET ?? null, watchdog: process.env.WATCHDOG_USEC ?? null, alive: process.env.FAULTD_AGENT_WORKER_ALIVE_MS ?? null, mode: process.env.MODE };
if (process.env.MODE === 'fail') process.exit(2);
if (role === 'prepare') { process.send({ kind: 'settings', settings: seen }); process.disconnect(); }
process.on('message', (m) => {
  if (m.kind === 'task') { process.send({ kind: 'status', text: 'running ' + m.task.task.runId }); if (process.env.MODE === 'finish') process.disconnect(); }
  if (m.kind === 'stop') { process.send({ kind: 'stopping', text: 'stopped: ' + m.reason }); process.disconnect(); }
});
if (process.env.MODE === 'hang') setInterval(() => {}, 1000);
`;

const TASK: TaskReply = { task: { runId: 'run_1', experiment: {}, queuedAt: '2026-12-03T00:00:00Z' } };

function workers(mode: string, extra: Partial<WorkerCommand> = {}) {
  const events: string[] = [];
  const command: WorkerCommand = { execPath: process.execPath, args: ['-e', WORKER], env: { ...process.env, MODE: mode, NOTIFY_SOCKET: '/run/systemd/notify', WATCHDOG_USEC: '30000000' }, ...extra };
  const pool = new AgentWorkers(command, { onStatus: (text) => events.push(`status ${text}`), onStopping: (text) => events.push(`stopping ${text}`) }, SILENT);
  return { pool, events };
}

test('a prepare worker hands over its settings; systemd\'s notify socket and watchdog stay with the idle process', async (t) => {
  const { pool } = workers('ok', { aliveMs: 7500 });
  const settings = (await pool.prepare(new AbortController().signal)) as unknown as Record<string, unknown>;
  t.deepEqual(settings, { role: 'prepare', notify: null, watchdog: null, alive: '7500', mode: 'ok' });
});

test('a prepare worker that fails is the agent\'s failure, with its exit code', async (t) => {
  const { pool } = workers('fail');
  const error = await t.throwsAsync(pool.prepare(new AbortController().signal), { instanceOf: WorkerFailed });
  t.is(error?.exit.code, 2);
  t.regex(error?.message ?? '', /prepare worker \(pid \d+\) exited with code 2/);
});

test('a run worker gets its task, relays status, and ends cleanly when done', async (t) => {
  const { pool, events } = workers('finish');
  const exit = await pool.run(TASK, new AbortController().signal);
  t.true(cleanExit(exit), JSON.stringify(exit));
  t.deepEqual(events, ['status running run_1']);
});

test('a stop reaches the running worker with its reason; it says it is stopping and ends', async (t) => {
  const { pool, events } = workers('wait');
  const stop = new AbortController();
  const running = pool.run(TASK, stop.signal);
  await new Promise((resolve) => setTimeout(resolve, 300));
  stop.abort('interrupted by reboot: the host is shutting down');
  t.true(cleanExit(await running));
  t.deepEqual(events, ['status running run_1', 'stopping stopped: interrupted by reboot: the host is shutting down']);
});

// Serial: no other test's worker runs meanwhile, so this test process has one worker child.
test.serial('a worker killed by a signal is not a clean exit, and says so', async (t) => {
  const { pool, events } = workers('hang');
  const running = pool.run(TASK, new AbortController().signal);
  // Its one message (the status line) is a beat: the window is measured from it, however slowly node started.
  while (!events.includes('status running run_1')) await new Promise((resolve) => setTimeout(resolve, 20));
  await new Promise((resolve) => setTimeout(resolve, 300));
  t.false(pool.healthy(100), 'no alive beat from it within the window');
  t.true(pool.healthy(60_000));
  const { execFileSync } = await import('node:child_process');
  const children = execFileSync('pgrep', ['-P', String(process.pid), '-f', 'FAULTD_AGENT_WORKER'], { encoding: 'utf8' }).trim().split('\n').map(Number);
  t.is(children.length, 1);
  process.kill(children[0] ?? 0, 'SIGKILL');
  const exit = await running;
  t.false(cleanExit(exit));
  t.is(exit.signal, 'SIGKILL');
  t.true(pool.healthy(100), 'no worker: healthy');
});

test('a worker that cannot be started is reported, not thrown', async (t) => {
  const { pool } = workers('ok', { execPath: '/nonexistent/node' });
  const exit = await pool.run(TASK, new AbortController().signal);
  t.false(cleanExit(exit));
  t.regex(exit.error ?? '', /ENOENT/);
  await t.throwsAsync(pool.prepare(new AbortController().signal), { instanceOf: WorkerFailed, message: /could not start/ });
});
