// SPDX-License-Identifier: Apache-2.0
/**
 * Which processes a process fault hits, read from /proc: Harness's selectors (`processIDs`,
 * else `processCommand`, a substring of the command line, else `processNames`, exact `comm`),
 * faultd's `exclude` patterns and `count`/`percentage`. Never PID 1, kernel threads, faultd
 * itself, its ancestors or its own helpers (its descendants: stressors, the delayer). Each
 * target is kept with its start time, so a signal never reaches a pid that was reused.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

export interface ProcessInfo {
  readonly pid: number;
  readonly ppid: number;
  /** `comm` (at most 15 characters, as the kernel keeps it). */
  readonly comm: string;
  /** The command line, arguments joined by spaces. */
  readonly cmdline: string;
  /** Field 22 of /proc/<pid>/stat (clock ticks since boot). */
  readonly startTime: number;
  /** Field 3 of /proc/<pid>/stat: R, S, D, T (stopped), t (traced), Z… */
  readonly state: string;
}

export interface ProcessSelector {
  readonly processIDs?: readonly number[] | undefined;
  readonly processCommand?: string | undefined;
  readonly processNames?: readonly string[] | undefined;
  /** Substrings of the command line that exclude a process. */
  readonly exclude: readonly string[];
  readonly count?: number | undefined;
  readonly percentage?: number | undefined;
}

/** `comm` is cut to 15 bytes by the kernel: a longer name matches its first 15. */
const COMM_LENGTH = 15;
const KTHREADD = 2;

/** One process from /proc, or undefined when it is gone (or not a process directory). */
export function readProcess(procRoot: string, pid: number): ProcessInfo | undefined {
  let stat: string;
  let cmdline: string;
  try {
    stat = readFileSync(path.join(procRoot, String(pid), 'stat'), 'utf8');
    cmdline = readFileSync(path.join(procRoot, String(pid), 'cmdline'), 'utf8');
  } catch {
    return undefined;
  }
  const open = stat.indexOf('(');
  const close = stat.lastIndexOf(')');
  if (open < 0 || close < open) return undefined;
  // Fields from 3 on follow the comm: state is field 3, ppid 4, starttime 22.
  const rest = stat.slice(close + 2).split(' ');
  return {
    pid,
    ppid: Number(rest[1]),
    comm: stat.slice(open + 1, close),
    cmdline: cmdline.split('\0').filter((part) => part !== '').join(' '),
    startTime: Number(rest[19]),
    state: rest[0] ?? '?',
  };
}

export function listProcesses(procRoot: string): ProcessInfo[] {
  return readdirSync(procRoot)
    .filter((name) => /^\d+$/.test(name))
    .map((name) => readProcess(procRoot, Number(name)))
    .filter((p): p is ProcessInfo => p !== undefined);
}

/** PID 1, faultd (`self`), its ancestors and its descendants: never targets. */
export function protectedPids(all: readonly ProcessInfo[], self: number): Set<number> {
  const byPid = new Map(all.map((p) => [p.pid, p]));
  const guarded = new Set<number>([1, self]);
  for (let p = byPid.get(self); p && p.ppid > 0; p = byPid.get(p.ppid)) guarded.add(p.ppid);
  for (const p of all) if (descendsFrom(p, self, byPid)) guarded.add(p.pid);
  return guarded;
}

function descendsFrom(p: ProcessInfo, ancestor: number, byPid: ReadonlyMap<number, ProcessInfo>): boolean {
  const seen = new Set<number>();
  for (let q: ProcessInfo | undefined = p; q && q.ppid > 0 && !seen.has(q.pid); q = byPid.get(q.ppid)) {
    if (q.ppid === ancestor) return true;
    seen.add(q.pid);
  }
  return false;
}

/**
 * A process that has exited and is not reaped yet (Z), or is being torn down (X): no signal
 * reaches it any more (it can be neither killed, stopped nor continued).
 */
export const isExited = (state: string | undefined): boolean => state === 'Z' || state === 'X' || state === 'x';

/** Kernel threads have no command line and descend from kthreadd (a zombie has no command line either: it is no kernel thread). */
const isKernelThread = (p: ProcessInfo): boolean => p.pid === KTHREADD || p.ppid === KTHREADD || (p.cmdline === '' && !isExited(p.state));

/** The selector as its user wrote it, for messages: `processNames "nginx,redis"`. */
export function describeSelector(s: ProcessSelector): string {
  if (s.processIDs?.length) return `processIDs "${s.processIDs.join(',')}"`;
  if (s.processCommand !== undefined) return `processCommand "${s.processCommand}"`;
  return `processNames "${(s.processNames ?? []).join(',')}"`;
}

export interface Selection {
  readonly targets: ProcessInfo[];
  /** Matches left out because they are protected (PID 1, faultd and its own). */
  readonly protectedMatches: ProcessInfo[];
  /** Matches left out because they have exited (zombies not reaped yet): no signal reaches them. */
  readonly exited: ProcessInfo[];
}

/** The targets now, by the selector's precedence; in pid order, cut to `count` or `percentage`. */
export function selectProcesses(all: readonly ProcessInfo[], s: ProcessSelector, self: number): Selection {
  const guarded = protectedPids(all, self);
  const matches = all.filter((p) => {
    if (s.processIDs?.length) return s.processIDs.includes(p.pid);
    if (s.processCommand !== undefined) return !isKernelThread(p) && p.cmdline.includes(s.processCommand);
    return !isKernelThread(p) && (s.processNames ?? []).some((name) => p.comm === name.slice(0, COMM_LENGTH));
  });
  const kept = matches.filter((p) => !s.exclude.some((pattern) => p.cmdline.includes(pattern)));
  const protectedMatches = kept.filter((p) => guarded.has(p.pid) || (s.processIDs?.length ? isKernelThread(p) : false));
  const exited = kept.filter((p) => !protectedMatches.includes(p) && isExited(p.state));
  const eligible = kept.filter((p) => !protectedMatches.includes(p) && !exited.includes(p)).sort((a, b) => a.pid - b.pid);
  const wanted = s.count ?? (s.percentage === undefined ? eligible.length : Math.max(1, Math.ceil((eligible.length * s.percentage) / 100)));
  return { targets: eligible.slice(0, wanted), protectedMatches, exited };
}

/** Why a selection is empty, in one line: `processNames "nginx": no process matches`. */
export function noTargetMessage(s: ProcessSelector, selection: Selection): string {
  const guarded = selection.protectedMatches.map((p) => `${p.pid} (${p.comm})`);
  const exited = selection.exited.map((p) => `${p.pid} (${p.comm})`);
  return `${describeSelector(s)}: no process matches${guarded.length || exited.length ? ' that faultd may signal' : ''}${guarded.length ? ` (protected: ${guarded.join(', ')}: PID 1, faultd, its ancestors, its own helpers and kernel threads are never targets)` : ''}${exited.length ? ` (exited, zombies not reaped yet, which no signal reaches: ${exited.join(', ')})` : ''}`;
}

/** `1234 (nginx: master process …)`, the command line cut to 80 characters. */
export function describeProcess(p: Pick<ProcessInfo, 'pid' | 'comm' | 'cmdline'>): string {
  const command = p.cmdline.length > 80 ? `${p.cmdline.slice(0, 77)}…` : p.cmdline;
  return `${p.pid} (${command || p.comm})`;
}
