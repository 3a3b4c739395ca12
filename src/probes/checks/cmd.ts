// SPDX-License-Identifier: Apache-2.0
/**
 * The cmd check: one run of a command per attempt, as the unprivileged probes user (uid/gid
 * set, supplementary groups dropped by libuv), without a shell unless asked, in a minimal
 * environment, leading its own process group. At the attempt's deadline the whole group is
 * killed; when the command exits, whatever it left in its group is killed too, so a probe never
 * leaves processes behind (one that left the group with setsid is not found: its pipes are closed
 * 100 ms after the exit, so it cannot hold the attempt). Judged on the exit code and optionally
 * the trimmed stdout.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';

import { monotonicMs } from '../../monotonic.js';
import { compare, describeComparison } from '../compare.js';
import type { AttemptOutcome, CheckEnvironment, CmdCheckSpec, ProbeCheck } from '../types.js';
import { attemptDeadline, describeError } from './deadline.js';

/** The PATH commands get (a login shell's for root, so sbin tools are found too). */
export const SAFE_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
/** Most of stdout and of stderr kept per run; the rest is read and dropped. */
export const OUTPUT_LIMIT_BYTES = 64 * 1024;

/** How long stdout and stderr are still read after the command exits (for what it wrote last). */
const PIPE_GRACE_MS = 100;

/** What one run did. */
export interface CmdRun {
  /** The exit status, or null when a signal ended it. */
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly stdoutTruncated: boolean;
  readonly stderrTruncated: boolean;
  readonly latencyMs: number;
}

class BoundedText {
  private readonly chunks: Buffer[] = [];
  private bytes = 0;
  truncated = false;

  push(chunk: Buffer): void {
    const room = OUTPUT_LIMIT_BYTES - this.bytes;
    if (chunk.length > room) this.truncated = true;
    if (room <= 0) return;
    const kept = chunk.length > room ? chunk.subarray(0, room) : chunk;
    this.chunks.push(kept);
    this.bytes += kept.length;
  }

  text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }
}

type Type = CmdCheckSpec['criteria'];

/** The criteria in words: `exitCode (int) == 0, stdout (int) >= 3`. */
export function describeCmdCriteria(criteria: Type): string {
  return [describeComparison('exitCode', criteria.exitCode), ...(criteria.stdout ? [describeComparison('stdout', criteria.stdout)] : [])].join(', ');
}

function excerpt(text: string): string {
  return JSON.stringify(text.length > 60 ? `${text.slice(0, 60)}…` : text);
}

/** `exit 0, stdout "3"`; a signal instead of the exit code; stderr when it failed. */
export function describeRun(run: CmdRun): string {
  const parts = [run.exitCode === null ? `signal ${run.signal ?? '?'}` : `exit ${run.exitCode}`, `stdout ${excerpt(run.stdout.trim())}${run.stdoutTruncated ? ` (cut at ${OUTPUT_LIMIT_BYTES / 1024} KiB)` : ''}`];
  if (run.exitCode !== 0 && run.stderr.trim() !== '') parts.push(`stderr ${excerpt(run.stderr.trim())}`);
  return parts.join(', ');
}

/** Judges a finished run against the criteria. */
export function judgeCmdRun(criteria: Type, run: CmdRun): AttemptOutcome {
  const criterion = describeCmdCriteria(criteria);
  const observed = describeRun(run);
  if (run.exitCode === null) return { passed: false, observed, criterion, error: `killed by ${run.signal ?? 'a signal'}`, latencyMs: run.latencyMs };
  const errors: string[] = [];
  const code = compare(run.exitCode, criteria.exitCode);
  let passed = code.passed;
  if (code.error !== undefined) errors.push(`exitCode: ${code.error}`);
  if (criteria.stdout) {
    const stdout = compare(run.stdout.trim(), criteria.stdout);
    passed &&= stdout.passed;
    if (stdout.error !== undefined) errors.push(`stdout: ${stdout.error}`);
  }
  const outcome = { passed: passed && errors.length === 0, observed, criterion, latencyMs: run.latencyMs };
  return errors.length === 0 ? outcome : { ...outcome, error: errors.join('; ') };
}

/** SIGKILL to the child's whole process group (it leads one: detached). */
function killGroup(child: ChildProcess): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    // ESRCH: the group is already empty.
  }
}

/** Why the command could not start, in words. */
function startError(error: unknown, file: string, cwd: string): string {
  const code = (error as { code?: unknown }).code;
  if (code === 'ENOENT' && !existsSync(cwd)) return `cannot start ${JSON.stringify(file)}: working directory ${cwd} does not exist (ENOENT)`;
  if (code === 'ENOENT') return `cannot start ${JSON.stringify(file)}: no such executable (ENOENT; PATH=${SAFE_PATH})`;
  if (code === 'EACCES') return `cannot start ${JSON.stringify(file)}: permission denied (EACCES) for the probes user or in ${cwd}`;
  return `cannot start ${JSON.stringify(file)}: ${describeError(error)}`;
}

export function createCmdCheck(spec: CmdCheckSpec, env: CheckEnvironment): ProbeCheck {
  const [file = '', ...args] = spec.shell ? ['/bin/sh', '-c', spec.command[0] ?? ''] : spec.command;
  const childEnv = { PATH: SAFE_PATH, HOME: env.cmdUser.home ?? '/', LANG: 'C.UTF-8', ...spec.env };
  const cwd = spec.cwd ?? '/';
  const criterion = describeCmdCriteria(spec.criteria);
  const running = new Set<ChildProcess>();
  let closed = false;

  const attempt = (timeoutMs: number, signal: AbortSignal): Promise<AttemptOutcome> =>
    new Promise((resolve) => {
      const started = monotonicMs();
      if (closed) {
        resolve({ passed: false, observed: '-', criterion, error: 'check closed', latencyMs: 0 });
        return;
      }
      const deadline = attemptDeadline(timeoutMs, signal);
      const failed = (error: string): void => {
        deadline.dispose();
        resolve({ passed: false, observed: '-', criterion, error, latencyMs: monotonicMs() - started });
      };
      if (deadline.signal.aborted) {
        failed(deadline.reason() ?? 'aborted');
        return;
      }
      let child: ChildProcess;
      try {
        child = spawn(file, args, { uid: env.cmdUser.uid, gid: env.cmdUser.gid, env: childEnv, cwd, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
      } catch (error) {
        failed(startError(error, file, cwd));
        return;
      }
      running.add(child);
      const stdout = new BoundedText();
      const stderr = new BoundedText();
      child.stdout?.on('data', (chunk: Buffer) => stdout.push(chunk));
      child.stderr?.on('data', (chunk: Buffer) => stderr.push(chunk));
      // A process that left the group (setsid) may still hold stdout or stderr: stop reading them.
      let stopReading: NodeJS.Timeout | undefined;
      const closePipes = (): void => {
        child.stdout?.destroy();
        child.stderr?.destroy();
      };
      const onDeadline = (): void => {
        killGroup(child);
        closePipes();
      };
      deadline.signal.addEventListener('abort', onDeadline, { once: true });
      let settled = false;
      child.once('error', (error) => {
        if (settled || child.pid !== undefined) return;
        settled = true;
        running.delete(child);
        deadline.signal.removeEventListener('abort', onDeadline);
        failed(startError(error, file, cwd));
      });
      // The leader is gone: kill what it left in its group (background children holding stdout),
      // and give the pipes a moment to drain before they are closed.
      child.once('exit', () => {
        killGroup(child);
        stopReading = setTimeout(closePipes, PIPE_GRACE_MS);
      });
      child.once('close', (exitCode: number | null, exitSignal: NodeJS.Signals | null) => {
        running.delete(child);
        clearTimeout(stopReading);
        if (settled) return;
        settled = true;
        deadline.signal.removeEventListener('abort', onDeadline);
        const reason = deadline.reason() ?? (closed && exitSignal === 'SIGKILL' ? 'check closed' : undefined);
        deadline.dispose();
        const run: CmdRun = {
          exitCode,
          signal: exitSignal,
          stdout: stdout.text(),
          stderr: stderr.text(),
          stdoutTruncated: stdout.truncated,
          stderrTruncated: stderr.truncated,
          latencyMs: monotonicMs() - started,
        };
        if (reason !== undefined) resolve({ passed: false, observed: describeRun(run), criterion, error: reason, latencyMs: run.latencyMs });
        else resolve(judgeCmdRun(spec.criteria, run));
      });
    });

  return {
    attempt,
    /** Kills the groups of commands still running (their attempts end as they would at a timeout). */
    close(): Promise<void> {
      closed = true;
      for (const child of running) killGroup(child);
      return Promise.resolve();
    },
  };
}
