// SPDX-License-Identifier: Apache-2.0
/**
 * Life of a faultd-stressor process, shared by the CPU, memory and disk I/O stress faults, the
 * pid exhaustion fault, the NFQUEUE delayer and the DNS interceptor.
 *
 * Apply: create the fault's cgroups → spawn the stressor idle (`--wait-go`, its own session,
 * PR_SET_PDEATHSIG, oom_score_adj=1000) → read its start time → move it into the cgroups →
 * ledger `applied` with pid and start time → send "go" → wait for `ready`.
 * Revert (also the recovery path after a crash): find every process of this fault (recorded
 * pid+start time, the `--tag=<faultId>` scan of /proc, the cgroups' members), SIGTERM them,
 * SIGKILL after a grace period, remove the cgroups, then verify nothing is left.
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { accessSync, constants, readdirSync, readFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';

import { z } from 'zod';

import { FaultdError, messageOf } from '../errors.js';
import { createCgroups, moveIntoCgroups, removeCgroup } from '../host/cgroup.js';
import type { NativeAddon } from '../native/addon.js';
import { RevertError, type FaultContext, type RevertOutcome } from './types.js';
import { monotonicMs } from '../monotonic.js';

/** Time a stressor gets to exit after SIGTERM before SIGKILL. */
export const STOP_GRACE_MS = 300;
/** Time to wait for SIGKILL to take effect before the revert is declared failed. */
const KILL_WAIT_MS = 2000;
/** Time the stressor has to report `ready` after "go" (by default; a mode whose start grows with its size passes more). */
export const READY_TIMEOUT_MS = 5000;

const SIGKILL = 9;
const SIGTERM = 15;

export const StressorRevertSchema = z.object({
  tag: z.string().min(1),
  bootId: z.string(),
  cgroups: z.array(z.string()),
  pid: z.number().int().positive().optional(),
  startTime: z.number().int().nonnegative().optional(),
});
export type StressorRevert = z.infer<typeof StressorRevertSchema>;

interface ProcessId {
  readonly pid: number;
  readonly startTime: number;
}

/** A running stressor; `exit` settles (with the reason) when the process ends for any reason. */
export interface StressorHandle extends ProcessId {
  readonly exit: Promise<string>;
}

/** The load modes of faultd-stressor (native/stressor/mode_<mode>.cc). */
export type StressorMode = 'cpu' | 'memory' | 'io' | 'delay' | 'dns' | 'http' | 'pids';

/** FAULTD_ERR_NATIVE_LOAD for a stressor executable that is not there (or not executable). */
export function missingStressor(file: string, cause: unknown): FaultdError {
  return new FaultdError('FAULTD_ERR_NATIVE_LOAD', `stressor executable ${file} is missing: run \`npm run build\``, { cause });
}

/** The argv a stressor gets for `mode` and `args` (shown by --dry-run). */
export function stressorArgv(tag: string, mode: StressorMode, args: readonly string[]): string[] {
  return [mode, ...args, `--tag=${tag}`, '--wait-go', `--parent-pid=${process.pid}`];
}

/**
 * Starts the stressor and returns once it reports `ready`. On any failure (including `signal`
 * aborting the start) the stressor is killed before the error is thrown; the caller's revert
 * then removes the cgroups and verifies. `onEvent` sees every other JSON line it prints;
 * `readyTimeoutMs` bounds the wait for `ready` after "go".
 */
export async function startStressor(
  planned: StressorRevert,
  mode: StressorMode,
  args: readonly string[],
  ctx: FaultContext,
  recordApplied: (revert: StressorRevert) => Promise<void>,
  signal: AbortSignal,
  onEvent?: (event: Record<string, unknown>) => void,
  readyTimeoutMs = READY_TIMEOUT_MS,
  inheritFds: readonly number[] = [],
): Promise<StressorHandle> {
  // Before anything changes: a missing executable is a build problem, said as such.
  try {
    accessSync(ctx.stressorPath, constants.X_OK);
  } catch (error) {
    throw missingStressor(ctx.stressorPath, error);
  }
  const { created, skipped } = createCgroups(planned.cgroups);
  for (const reason of skipped) ctx.logger.warn({ reason }, 'cannot create stressor cgroup, ignoring');
  const child = spawn(ctx.stressorPath, stressorArgv(planned.tag, mode, args), {
    detached: true, // own session: the terminal's Ctrl-C goes to faultd, which reverts in order
    // `inheritFds` become the stressor's descriptors 3, 4, … (the io mode's --files-open).
    stdio: ['pipe', 'pipe', 'pipe', ...inheritFds],
    // The first three are pipes whatever follows them.
  }) as ChildProcessByStdio<Writable, Readable, Readable>;
  // Listeners go on before the first await: an early exit must not be missed, and writing "go"
  // to a stressor that already died must not crash faultd with an unhandled EPIPE.
  child.stdin.on('error', () => undefined);
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-2000);
  });
  let lastError = '';
  let onReady: (() => void) | undefined;
  createInterface({ input: child.stdout }).on('line', (line) => {
    let event: Record<string, unknown>;
    try {
      event = z.record(z.string(), z.unknown()).parse(JSON.parse(line));
    } catch {
      return;
    }
    if (event['event'] === 'ready') onReady?.();
    else if (event['event'] === 'error') lastError = `${String(event['syscall'])}: ${String(event['message'])}`;
    else onEvent?.(event);
  });
  // 'close' comes after stdout and stderr are drained, so the stressor's own error is known.
  const exit = new Promise<string>((resolve) => {
    child.once('close', (code, killSignal) => {
      resolve(lastError || stderr.trim() || (killSignal ? `killed by ${killSignal}` : `exit code ${String(code)}`));
    });
  });
  try {
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', reject);
    }).catch((error: unknown) => {
      throw new FaultdError('FAULTD_ERR_FAULT_APPLY', `cannot start the stressor: ${messageOf(error)}`, { cause: error });
    });
    const pid = child.pid ?? 0;
    const startTime = ctx.native.processStartTime(pid);
    if (startTime === null) throw new FaultdError('FAULTD_ERR_FAULT_APPLY', `the stressor exited before it started: ${await exit}`);
    try {
      moveIntoCgroups(created, pid);
    } catch (error) {
      ctx.logger.warn({ err: error }, 'cannot move the stressor into its cgroup, ignoring');
    }
    await recordApplied({ ...planned, cgroups: created, pid, startTime });
    child.stdin.end('go\n');
    const ready = new Promise<void>((resolve) => (onReady = resolve));
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    const outcome = await Promise.race([
      ready.then(() => 'ready' as const),
      exit.then((why) => ({ exited: why })),
      new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), readyTimeoutMs))),
      new Promise<'aborted'>((resolve) => {
        onAbort = () => resolve('aborted');
        if (signal.aborted) onAbort();
        else signal.addEventListener('abort', onAbort, { once: true });
      }),
    ]);
    clearTimeout(timer);
    if (onAbort) signal.removeEventListener('abort', onAbort);
    if (outcome !== 'ready') {
      const why =
        outcome === 'timeout' ? `no ready signal within ${readyTimeoutMs} ms` : outcome === 'aborted' ? 'aborted while starting' : outcome.exited;
      throw new FaultdError('FAULTD_ERR_FAULT_APPLY', `the stressor failed to start: ${why}`);
    }
    return { pid, startTime, exit };
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
}

/*
 * The revert path reads /proc and cgroupfs synchronously: the files are tiny, and going
 * through the libuv pool would put its queueing (on a host whose CPUs the stressor saturates)
 * between a stop request and the signal.
 */

function readProcFile(procRoot: string, pid: number, file: string): string | undefined {
  try {
    return readFileSync(path.join(procRoot, String(pid), file), 'utf8');
  } catch {
    return undefined; // exited
  }
}

/** True if `pid` is a faultd-stressor carrying `--tag=<tag>`. */
function hasTag(procRoot: string, pid: number, tag: string): boolean {
  const cmdline = readProcFile(procRoot, pid, 'cmdline');
  if (cmdline === undefined) return false;
  return `\0${cmdline}`.includes(`\0--tag=${tag}\0`) && path.basename(cmdline.split('\0')[0] ?? '').startsWith('faultd-stressor');
}

/** True if `pid` sits in the fault's cgroup (`.../faultd-<tag>`) in some hierarchy. */
function inFaultCgroup(procRoot: string, pid: number, tag: string): boolean {
  const cgroups = readProcFile(procRoot, pid, 'cgroup');
  return cgroups !== undefined && cgroups.split('\n').some((line) => line.endsWith(`/faultd-${tag}`));
}

/**
 * Identifies `pid` as (pid, start time) only if it is ours. The start time is read first and
 * ownership checked after: if the pid was reused in between, the check sees the new process,
 * which carries neither the tag nor the fault's cgroup, so it is never taken for ours.
 */
function identify(native: NativeAddon, pid: number, isOurs: () => boolean): ProcessId | undefined {
  if (pid === process.pid) return undefined;
  const startTime = native.processStartTime(pid);
  if (startTime === null || !isOurs()) return undefined;
  return { pid, startTime };
}

/** Stressors on the host whose argv carries `--tag=<tag>` (found after a crash mid-apply). */
function processesWithTag(native: NativeAddon, procRoot: string, tag: string): ProcessId[] {
  const found: ProcessId[] = [];
  for (const name of readdirSync(procRoot)) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    const id = identify(native, pid, () => hasTag(procRoot, pid, tag));
    if (id) found.push(id);
  }
  return found;
}

/** Pids listed in `<dir>/cgroup.procs` (none when the cgroup does not exist). */
function cgroupMembers(dir: string): number[] {
  try {
    return readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

async function waitGone(native: NativeAddon, processes: readonly ProcessId[], timeoutMs: number): Promise<ProcessId[]> {
  const deadline = monotonicMs() + timeoutMs;
  let alive = [...processes];
  for (;;) {
    alive = alive.filter((p) => native.killProcess(p.pid, p.startTime, 0) === 'signalled');
    if (alive.length === 0 || monotonicMs() >= deadline) return alive;
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

/**
 * Stops every process of the fault and removes its cgroups; verified, idempotent. `graceMs` is
 * the time between SIGTERM and SIGKILL (a mode that finishes work in flight on SIGTERM passes more).
 */
export async function revertStressor(record: StressorRevert, ctx: FaultContext, graceMs = STOP_GRACE_MS): Promise<RevertOutcome> {
  const { native } = ctx;
  const candidates = new Map<number, ProcessId>();
  // The recorded stressor first: pidfd and start time make it safe to signal without any read.
  if (record.pid !== undefined && record.startTime !== undefined && record.bootId === ctx.host.bootId) {
    candidates.set(record.pid, { pid: record.pid, startTime: record.startTime });
  }
  const signalled = [...candidates.values()].filter((p) => native.killProcess(p.pid, p.startTime, SIGTERM) === 'signalled');
  // Without a recorded pid, faultd may have died between spawning the stressor and recording
  // it: find it by its tag. (With a pid, the cgroup members below cover any other process.)
  const others = record.pid === undefined ? processesWithTag(native, ctx.procRoot, record.tag) : [];
  for (const dir of record.cgroups) {
    for (const pid of cgroupMembers(dir)) {
      const id = identify(native, pid, () => inFaultCgroup(ctx.procRoot, pid, record.tag));
      if (id) others.push(id);
    }
  }
  for (const p of others) {
    if (candidates.has(p.pid)) continue;
    candidates.set(p.pid, p);
    if (native.killProcess(p.pid, p.startTime, SIGTERM) === 'signalled') signalled.push(p);
  }
  let alive = await waitGone(native, signalled, graceMs);
  for (const p of alive) native.killProcess(p.pid, p.startTime, SIGKILL);
  alive = await waitGone(native, alive, KILL_WAIT_MS);
  const leftCgroups: string[] = [];
  for (const dir of record.cgroups) if (!(await removeCgroup(dir))) leftCgroups.push(dir);
  if (alive.length > 0 || leftCgroups.length > 0) {
    const leftover = [
      ...alive.map((p) => `stressor process ${p.pid} (start time ${p.startTime})`),
      ...leftCgroups.map((d) => `cgroup ${d}`),
    ].join(', ');
    const manualFix = [...alive.map((p) => `kill -9 ${p.pid}`), ...leftCgroups.map((d) => `rmdir ${d}`)].join(' && ');
    throw new RevertError(`stressor of fault ${record.tag} could not be removed`, leftover, manualFix);
  }
  if (signalled.length === 0) return { outcome: 'already-absent', detail: 'no stressor process was running' };
  return { outcome: 'reverted', detail: `stopped stressor ${signalled.map((p) => p.pid).join(', ')}` };
}

/** Sum of the run time (ns) of every thread of `pid`, from /proc/<pid>/task/<tid>/schedstat. */
export async function processRunTimeNs(procRoot: string, pid: number): Promise<number | undefined> {
  try {
    const taskDir = path.join(procRoot, String(pid), 'task');
    let total = 0;
    for (const tid of await readdir(taskDir)) {
      const text = await readFile(path.join(taskDir, tid, 'schedstat'), 'utf8').catch(() => '0');
      total += Number(text.split(' ')[0] ?? 0);
    }
    return total;
  } catch {
    return undefined;
  }
}

/** Anonymous resident memory (RssAnon) of `pid` in bytes: what a memory stressor holds, without its mapped binary. */
export async function processRssBytes(procRoot: string, pid: number): Promise<number | undefined> {
  try {
    const status = await readFile(path.join(procRoot, String(pid), 'status'), 'utf8');
    const kb = /^RssAnon:\s+(\d+) kB/m.exec(status)?.[1];
    return kb === undefined ? undefined : Number(kb) * 1024;
  } catch {
    return undefined;
  }
}
