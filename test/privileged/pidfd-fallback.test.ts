// SPDX-License-Identifier: Apache-2.0
// The kill(2) fallback of killProcess (kernels without pidfds, before 5.3), forced on this
// kernel with path 'pid-start-checked': processes the test starts are really signalled through
// it (the kernel's exit signal and /proc/<pid>/stat state are the oracle), and a pid the kernel
// really reused (ns_last_pid steers the next fork onto it; needs root) is refused by the start
// time check on both paths. Also the feature probe and `faultd doctor` on this kernel.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';

import type { ExecutionContext } from 'ava';

import { runCli, workspace } from '../helpers/cli.js';
import { hostFeatureProbe, privilegedTest as test } from '../helpers/privileged.js';
import { waitUntil } from '../helpers/processes.js';
import { loadNative } from '../../src/native/load.js';

const native = loadNative();
const SIGTERM = 15;
const SIGKILL = 9;
const SIGSTOP = 19;
const SIGCONT = 18;

interface Started {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly startTime: number;
  readonly exited: Promise<NodeJS.Signals | null>;
}

async function startSleep(t: ExecutionContext): Promise<Started> {
  const child = spawn('sleep', ['300'], { stdio: 'ignore' });
  t.teardown(() => {
    child.kill('SIGCONT');
    child.kill('SIGKILL');
  });
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
  await new Promise((resolve) => child.once('spawn', resolve));
  const pid = child.pid ?? 0;
  return { child, pid, startTime: native.processStartTime(pid) ?? -1, exited };
}

const stateOf = (pid: number): string => {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0] ?? '?';
};

test('this kernel has pidfds: the probe says so and doctor names the pidfd path', async (t) => {
  t.is(native.signalPath(), 'pidfd');
  t.deepEqual(hostFeatureProbe().pidfd?.(), { supported: true, reason: '' });
  const ws = workspace();
  t.teardown(() => ws.remove());
  const doctor = await runCli(['doctor'], ws.stateDir);
  t.is(doctor.code, 0, doctor.stderr);
  t.regex(doctor.stdout, /^Signals: signals through pidfds/m);
});

test('forced kill(2) path: STOP, CONT and TERM reach the process the test started', async (t) => {
  const target = await startSleep(t);
  t.is(native.killProcess(target.pid, target.startTime, SIGSTOP, 'pid-start-checked'), 'signalled');
  t.true(await waitUntil(() => stateOf(target.pid) === 'T', 2000), `state ${stateOf(target.pid)} after SIGSTOP`);
  t.is(native.killProcess(target.pid, target.startTime, SIGCONT, 'pid-start-checked'), 'signalled');
  t.true(await waitUntil(() => stateOf(target.pid) === 'S', 2000), `state ${stateOf(target.pid)} after SIGCONT`);
  t.is(native.killProcess(target.pid, target.startTime, SIGTERM, 'pid-start-checked'), 'signalled');
  t.is(await target.exited, 'SIGTERM');
  t.is(native.killProcess(target.pid, target.startTime, SIGKILL, 'pid-start-checked'), 'absent', 'reaped: nothing left to signal');
});

test('forced kill(2) path: a wrong start time is refused and the process is untouched', async (t) => {
  const target = await startSleep(t);
  t.is(native.killProcess(target.pid, target.startTime + 1, SIGKILL, 'pid-start-checked'), 'mismatch');
  t.is(native.killProcess(target.pid, target.startTime - 1, SIGKILL, 'pid-start-checked'), 'mismatch');
  await new Promise((resolve) => setTimeout(resolve, 150));
  t.is(target.child.exitCode, null);
  t.is(target.child.signalCode, null);
  t.is(stateOf(target.pid), 'S');
});

test('a pid the kernel reused for another process is refused on both paths', async (t) => {
  const first = await startSleep(t);
  first.child.kill('SIGKILL');
  await first.exited;
  // Ticks are 10 ms: the next process on this pid must start in a later tick.
  await new Promise((resolve) => setTimeout(resolve, 50));
  let second: Started | undefined;
  for (let attempt = 0; attempt < 20 && second?.pid !== first.pid; attempt += 1) {
    if (second) {
      second.child.kill('SIGKILL');
      await second.exited;
    }
    writeFileSync('/proc/sys/kernel/ns_last_pid', String(first.pid - 1));
    second = await startSleep(t);
  }
  if (second?.pid !== first.pid) return t.fail(`pid ${first.pid} was not reused in 20 forks (other processes took it)`);
  t.not(second.startTime, first.startTime, 'the reused pid has a new start time');
  t.is(native.killProcess(first.pid, first.startTime, SIGKILL, 'pid-start-checked'), 'mismatch');
  t.is(native.killProcess(first.pid, first.startTime, SIGKILL, 'pidfd'), 'mismatch');
  await new Promise((resolve) => setTimeout(resolve, 150));
  t.is(second.child.signalCode, null, 'the process now on the pid was not signalled');
  t.is(native.killProcess(second.pid, second.startTime, SIGKILL, 'pid-start-checked'), 'signalled');
  t.is(await second.exited, 'SIGKILL');
});

test('a path the addon does not know is a TypeError', (t) => {
  const error = t.throws(() => native.killProcess(process.pid, 1, 0, 'kill' as 'pidfd'), { instanceOf: TypeError });
  t.is((error as { code?: string }).code, 'ERR_INVALID_ARG_TYPE');
});
