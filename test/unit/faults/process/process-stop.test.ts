// SPDX-License-Identifier: Apache-2.0
// linux-process-stop over a made-up /proc whose states a fake killProcess changes as the kernel
// would (SIGSTOP → T, SIGCONT → S, a zombie keeps Z): a process stopped before the fault and a
// zombie are neither signalled, counted as stopped, nor continued at revert; a target that exits
// before its SIGSTOP takes effect is not reported as stopped.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import test, { type ExecutionContext } from 'ava';
import { pino } from 'pino';

import { linuxProcessStop } from '../../../../src/faults/linux-process-stop.js';
import { listProcesses, noTargetMessage, selectProcesses } from '../../../../src/faults/process/targets.js';
import type { FaultContext } from '../../../../src/faults/types.js';
import { FAKE_CONTEXT, FAKE_NATIVE } from '../../../helpers/fake.js';

const SIGSTOP = 19;
const SIGCONT = 18;

/** Writes /proc/<pid>/{stat,cmdline} of a process in `state` under `root`; a zombie's command line is empty, as the kernel shows it (its memory is gone). */
function putProcess(root: string, pid: number, comm: string, state: string): void {
  mkdirSync(path.join(root, String(pid)), { recursive: true });
  writeFileSync(path.join(root, String(pid), 'stat'), `${pid} (${comm}) ${state} 1 ${pid} ${pid} 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 ${pid * 10} 0 0`);
  writeFileSync(path.join(root, String(pid), 'cmdline'), state === 'Z' ? '' : `/usr/bin/${comm}\0`);
}

const stateIn = (root: string, pid: number): string => readFileSync(path.join(root, String(pid), 'stat'), 'utf8').split(' ')[2] ?? '?';

/** A /proc and an addon whose signals change it; `exitsOnStop` are pids that exit (become zombies) as their SIGSTOP arrives. */
function setUp(t: ExecutionContext, exitsOnStop: readonly number[] = []) {
  const procRoot = mkdtempSync(path.join(tmpdir(), 'faultd-proc-'));
  t.teardown(() => rmSync(procRoot, { recursive: true, force: true }));
  const signals: string[] = [];
  const logged: Record<string, unknown>[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void logged.push(JSON.parse(line) as Record<string, unknown>) });
  const ctx: FaultContext = {
    ...FAKE_CONTEXT,
    procRoot,
    logger,
    native: {
      ...FAKE_NATIVE,
      killProcess: (pid, _startTime, signal) => {
        signals.push(`${signal === SIGSTOP ? 'STOP' : signal === SIGCONT ? 'CONT' : signal} ${pid}`);
        const state = stateIn(procRoot, pid);
        const comm = /\((.*)\)/.exec(readFileSync(path.join(procRoot, String(pid), 'stat'), 'utf8'))?.[1] ?? 'x';
        if (signal === SIGSTOP && exitsOnStop.includes(pid)) putProcess(procRoot, pid, comm, 'Z'); // it exited first
        else if (state !== 'Z' && signal === SIGSTOP) putProcess(procRoot, pid, comm, 'T');
        else if (state !== 'Z' && signal === SIGCONT) putProcess(procRoot, pid, comm, 'S');
        return 'signalled';
      },
    },
  };
  return { procRoot, ctx, signals, logged };
}

async function stop(ctx: FaultContext, raw: Record<string, unknown>) {
  const params = linuxProcessStop.validateParams(raw, ctx);
  if (!params.ok) throw new Error(JSON.stringify(params.issues));
  const planned = await linuxProcessStop.plan('f1', params.params, ctx);
  let record: Record<string, unknown> = planned.revert;
  const active = await planned.apply(async (r) => {
    record = r;
    await Promise.resolve();
  }, new AbortController().signal);
  return { planned, active, record: () => record };
}

test('a process stopped before the fault and a zombie are left out: not signalled, not counted as stopped, not continued at revert', async (t) => {
  const { procRoot, ctx, signals, logged } = setUp(t);
  putProcess(procRoot, 100, 'worker', 'S');
  putProcess(procRoot, 101, 'worker', 'T'); // stopped by someone else
  putProcess(procRoot, 102, 'worker', 'Z'); // exited, not reaped
  const { planned, active, record } = await stop(ctx, { processNames: 'worker' });
  t.regex(planned.changes[0] ?? '', /^SIGSTOP 100 \(\/usr\/bin\/worker\) .*; left out: 101 \(stopped already\), 102 \(exited, a zombie\)$/);
  t.deepEqual(signals, ['STOP 100']);
  t.deepEqual((record()['stopped'] as { pid: number }[]).map((p) => p.pid), [100]);
  t.is(active.measure(), '1/1 stopped');
  t.like(logged.find((l) => l['msg'] === 'processes stopped'), { stopped: [{ pid: 100 }], leftOut: [{ pid: 101, state: 'T' }, { pid: 102, state: 'Z' }] });
  const outcome = await linuxProcessStop.revert(record(), ctx);
  t.deepEqual(signals, ['STOP 100', 'CONT 100']);
  t.is(outcome.outcome, 'reverted');
  t.is(stateIn(procRoot, 100), 'S');
  t.is(stateIn(procRoot, 101), 'T', 'someone else\'s stop is left as it was');
});

test('a target that exits before its SIGSTOP takes effect is not reported as stopped; when every target does, the fault fails saying so', async (t) => {
  const { procRoot, ctx, signals, logged } = setUp(t, [201]);
  putProcess(procRoot, 200, 'svc', 'S');
  putProcess(procRoot, 201, 'svc', 'S');
  const { active, record } = await stop(ctx, { processNames: 'svc' });
  t.is(active.measure(), '1/1 stopped');
  t.like(logged.find((l) => l['msg'] === 'processes stopped'), { stopped: [{ pid: 200 }], exited: [201] });
  t.is((logged.find((l) => l['msg'] === 'processes stopped')?.['stopped'] as unknown[]).length, 1);
  const outcome = await linuxProcessStop.revert(record(), ctx);
  t.deepEqual(signals, ['STOP 200', 'STOP 201', 'CONT 200'], 'the zombie is not signalled again');
  t.regex(outcome.detail, /^continued 200 \(\/usr\/bin\/svc\); already gone: 201$/);

  const only = setUp(t, [300]);
  putProcess(only.procRoot, 300, 'lonely', 'S');
  putProcess(only.procRoot, 301, 'ghost', 'Z');
  await t.throwsAsync(stop(only.ctx, { processNames: 'lonely' }), { message: 'processNames "lonely": 300 exited before they could be stopped; nothing is stopped' });
  await t.throwsAsync(stop(only.ctx, { processNames: 'ghost' }), { message: /^processNames "ghost": no process matches that can be stopped; left out: 301 \(exited, a zombie\)$/ });
  await t.throwsAsync(stop(only.ctx, { processIDs: '301' }), { message: /^processIDs "301": no process matches that can be stopped; left out: 301 \(exited, a zombie\)$/ }, 'a zombie given by pid is no kernel thread (its command line is empty because it exited)');
});

test('process selection: a zombie is left out of every kind\'s targets and named as exited, not taken for a kernel thread', (t) => {
  const { procRoot } = setUp(t);
  putProcess(procRoot, 400, 'svc', 'S');
  putProcess(procRoot, 401, 'svc', 'Z');
  const all = listProcesses(procRoot);
  const byName = selectProcesses(all, { processNames: ['svc'], exclude: [] }, 9999);
  t.deepEqual(byName.targets.map((p) => p.pid), [400]);
  t.deepEqual(byName.exited.map((p) => p.pid), [401]);
  const byPid = selectProcesses(all, { processIDs: [401], exclude: [] }, 9999);
  t.deepEqual([byPid.targets.length, byPid.protectedMatches.length], [0, 0]);
  t.is(noTargetMessage({ processIDs: [401], exclude: [] }, byPid), 'processIDs "401": no process matches that faultd may signal (exited, zombies not reaped yet, which no signal reaches: 401 (svc))');
});
