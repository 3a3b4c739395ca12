// SPDX-License-Identifier: Apache-2.0
// linux-process-kill's interval over a made-up /proc and a recording killProcess: pids given by
// processIDs are not followed to a new process that reuses the number, and a process matched
// for the first time by name is in the ledger (recordApplied) before its signal.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import test, { type ExecutionContext } from 'ava';

import { linuxProcessKill } from '../../../../src/faults/linux-process-kill.js';
import type { FaultContext } from '../../../../src/faults/types.js';
import { FAKE_CONTEXT, FAKE_NATIVE } from '../../../helpers/fake.js';

/** Writes /proc/<pid>/{stat,cmdline} of a process under `root`. */
function putProcess(root: string, pid: number, comm: string, startTime: number): void {
  mkdirSync(path.join(root, String(pid)), { recursive: true });
  // Field 22 (starttime) is the 20th after the comm.
  writeFileSync(path.join(root, String(pid), 'stat'), `${pid} (${comm}) S 1 ${pid} ${pid} 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 ${startTime} 0 0`);
  writeFileSync(path.join(root, String(pid), 'cmdline'), `/usr/bin/${comm}\0`);
}

function setUp(t: ExecutionContext) {
  const procRoot = mkdtempSync(path.join(tmpdir(), 'faultd-proc-'));
  t.teardown(() => rmSync(procRoot, { recursive: true, force: true }));
  const signals: string[] = [];
  const events: string[] = [];
  const ctx: FaultContext = {
    ...FAKE_CONTEXT,
    procRoot,
    native: {
      ...FAKE_NATIVE,
      killProcess: (pid, startTime) => {
        signals.push(`${pid}@${startTime}`);
        events.push(`signal ${pid}@${startTime}`);
        return 'signalled';
      },
    },
  };
  return { procRoot, ctx, signals, events };
}

async function start(faultId: string, ctx: FaultContext, raw: Record<string, unknown>, events: string[]) {
  const params = linuxProcessKill.validateParams(raw, ctx);
  if (!params.ok) throw new Error(JSON.stringify(params.issues));
  const planned = await linuxProcessKill.plan(faultId, params.params, ctx);
  let last: Record<string, unknown> = planned.revert;
  await planned.apply(async (revert) => {
    last = revert;
    events.push(`record ${((revert as { signalled?: { pid: number; startTime: number }[] }).signalled ?? []).map((p) => `${p.pid}@${p.startTime}`).join(',')}`);
    await Promise.resolve();
  }, new AbortController().signal);
  return { stop: () => linuxProcessKill.revert(last, ctx), record: () => last };
}

test('interval with processIDs: a pid reused by a new process is never signalled', async (t) => {
  const { procRoot, ctx, signals, events } = setUp(t);
  putProcess(procRoot, 4242, 'worker', 100);
  const fault = await start('by-pid', ctx, { processIDs: '4242', signal: 'SIGHUP', interval: '100ms' }, events);
  await sleep(250);
  const beforeReuse = signals.length;
  t.true(beforeReuse >= 2, `the first process is signalled again while it lives (${signals.join(' ')})`);
  putProcess(procRoot, 4242, 'other', 999); // the number now belongs to another process
  await sleep(350);
  await fault.stop();
  t.false(signals.includes('4242@999'), signals.join(' '));
  t.true(signals.every((s) => s === '4242@100'));
});

test('interval with processNames: a restarted process is recorded before it is signalled, and nothing is signalled after the revert', async (t) => {
  const { procRoot, ctx, signals, events } = setUp(t);
  putProcess(procRoot, 5000, 'sleeper', 100);
  const fault = await start('by-name', ctx, { processNames: 'sleeper', interval: '100ms' }, events);
  rmSync(path.join(procRoot, '5000'), { recursive: true });
  putProcess(procRoot, 5001, 'sleeper', 200); // the supervisor started it again
  await sleep(350);
  const recordAt = events.indexOf('record 5000@100,5001@200');
  const signalAt = events.indexOf('signal 5001@200');
  t.true(recordAt >= 0 && signalAt > recordAt, events.join(' | '));
  t.deepEqual((fault.record() as { signalled: { pid: number }[] }).signalled.map((p) => p.pid), [5000, 5001]);
  const outcome = await fault.stop();
  t.regex(outcome.detail ?? '', /5000 .*5001 .*the interval stopped/);
  const after = signals.length;
  await sleep(300);
  t.is(signals.length, after, 'no round after the revert');
});

test('interval: 0s or at least 100ms', (t) => {
  const result = linuxProcessKill.validateParams({ processNames: 'x', interval: '10ms' }, FAKE_CONTEXT);
  t.false(result.ok);
  t.regex(result.ok ? '' : result.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('\n'), /interval: must be 0s \(once\) or 100ms–24h/);
});
