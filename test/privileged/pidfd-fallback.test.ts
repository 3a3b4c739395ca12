// SPDX-License-Identifier: Apache-2.0
// The kill(2) fallback of killProcess (kernels without pidfds, before 5.3), forced on this
// kernel with path 'pid-start-checked': processes the test starts are really signalled through
// it (the kernel's exit signal and /proc/<pid>/stat state are the oracle), and a pid the kernel
// really reused (ns_last_pid steers the next fork onto it; needs root) is refused by the start
// time check on both paths. Also the feature probe and `faultd doctor` on this kernel, and
// `faultd run` with FAULTD_TEST_MISSING_FEATURES=pidfd under strace: the process faults signal
// through kill(2), never pidfd_send_signal.
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import type { ExecutionContext } from 'ava';

import { experimentYaml, FAULTD_BIN, finish, runCli, startCli, workspace } from '../helpers/cli.js';
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

test('doctor with pidfd forced missing names the kill(2) path; the process kinds stay supported', async (t) => {
  const ws = workspace();
  t.teardown(() => ws.remove());
  const doctor = await finish(startCli(['doctor'], ws.stateDir, undefined, { FAULTD_TEST_MISSING_FEATURES: 'pidfd' }));
  t.is(doctor.code, 0, doctor.stderr);
  t.regex(doctor.stdout, /^Signals: no pidfds here \(forced missing by FAULTD_TEST_MISSING_FEATURES=pidfd \(tests\)\): signals by pid with the start time checked immediately before and after kill\(2\)/m);
  t.regex(doctor.stdout, /^OK {2}linux-process-kill\n {5}no pidfds here/m);
  t.regex(doctor.stdout, /^OK {2}linux-process-stop\n {5}SIGSTOP\/SIGCONT: no pidfds here/m);
  const json = await finish(startCli(['doctor', '--json'], ws.stateDir, undefined, { FAULTD_TEST_MISSING_FEATURES: 'pidfd' }));
  t.is((JSON.parse(json.stdout) as { host: { signals: string } }).host.signals, 'pid-start-checked');
});

test('faultd run with pidfd forced missing: stop, continue and kill go through kill(2) (strace), and reach their targets', async (t) => {
  const ws = workspace();
  const names = ['stop', 'kill'].map((what) => `fdp${what}${process.pid % 10_000}`.slice(0, 15));
  const bins = names.map((name) => path.join(ws.dir, name));
  for (const bin of bins) copyFileSync('/bin/sleep', bin);
  const [stopped, killed] = bins.map((bin) => {
    const child = spawn(bin, ['300'], { stdio: 'ignore' });
    return { child, exited: new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal))) };
  });
  t.teardown(async () => {
    for (const x of [stopped, killed]) {
      x?.child.kill('SIGCONT');
      x?.child.kill('SIGKILL');
    }
    await runCli(['revert', '--remnants', '--force'], ws.stateDir);
    ws.remove();
  });
  if (!stopped || !killed) return t.fail('targets not started');
  await new Promise((resolve) => setTimeout(resolve, 100));
  const file = ws.file('exp.json', experimentYaml([[
    { name: 'stop', kind: 'linux-process-stop', duration: '1s', params: { processNames: names[0] } },
    { name: 'kill', kind: 'linux-process-kill', duration: '1s', params: { processNames: names[1] } },
  ]]));
  const trace = path.join(ws.dir, 'strace.out');
  const env = { ...process.env, FAULTD_STATE_DIR: ws.stateDir, FAULTD_CONFIG: path.join(ws.dir, 'config.yaml'), FAULTD_TEST_MISSING_FEATURES: 'pidfd' };
  const child = spawn('strace', ['-f', '-qq', '-e', 'trace=kill,pidfd_open,pidfd_send_signal', '-o', trace, process.execPath, FAULTD_BIN, 'run', file], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stoppedDuringFault = false;
  const watch = setInterval(() => {
    if (stateOf(stopped.child.pid ?? 0) === 'T') stoppedDuringFault = true;
  }, 20);
  const result = await finish(child);
  clearInterval(watch);
  t.is(result.code, 0, result.stdout + result.stderr);
  t.true(stoppedDuringFault, 'state T seen during the fault');
  t.is(stateOf(stopped.child.pid ?? 0), 'S', 'running again after the revert');
  t.is(await killed.exited, 'SIGTERM');
  const syscalls = readFileSync(trace, 'utf8');
  for (const [pid, signal] of [[stopped.child.pid, 'SIGSTOP'], [stopped.child.pid, 'SIGCONT'], [killed.child.pid, 'SIGTERM']] as const) {
    t.regex(syscalls, new RegExp(`kill\\(${pid ?? 0}, ${signal}\\)\\s+= 0`), `kill(${pid ?? 0}, ${signal}) in the trace`);
  }
  t.notRegex(syscalls, /pidfd_send_signal\(/, 'no signal went through a pidfd');
});
