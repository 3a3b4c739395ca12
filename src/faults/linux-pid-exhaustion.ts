// SPDX-License-Identifier: Apache-2.0
/**
 * linux-pid-exhaustion (a faultd extension; Gremlin's "process exhaustion" is similar): a
 * stressor (`faultd-stressor pids`) holds `percentage` % of the free pids as threads blocked in
 * pause(), in its own cgroup below faultd's, while at least `reserve` pids stay free so faultd,
 * SSH and the rest of the host can still fork.
 *
 * free = min(pid_max, threads-max, the tightest limited pids.max above faultd) − tasks in use
 * (the same scope: the host's tasks for the kernel bounds, the cgroup's pids.current for its).
 * The fault's cgroup gets pids.max = the planned count, so it can never take more. Revert kills
 * the cgroup at once (cgroup.kill on v2, freeze + SIGKILL on v1), then verifies 0 tasks are
 * left and the cgroup is gone.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

import { z } from 'zod';

import { FaultdError } from '../errors.js';
import { cgroupTaskCount, createCgroups, killCgroup, ownPidsLimits, pidCgroupDirs, setPidsMax, type CgroupLayout, type PidsLimit } from '../host/cgroup.js';
import { numberParam, paramsObject } from './params.js';
import { activeStressor, stressorSupportNotes } from './stressor-fault.js';
import { READY_TIMEOUT_MS, revertStressor, startStressor, stressorArgv, StressorRevertSchema, type StressorRevert } from './stressor-process.js';
import { defineInjector, RevertError, type FaultContext, type Planned, type RevertOutcome } from './types.js';
import { monotonicMs } from '../monotonic.js';

/** Smallest reserve: enough for a login shell, sshd and faultd's own revert. */
export const MIN_RESERVE = 256;
/** Default reserve: a busy host's sshd, cron and shells fork a few hundred tasks at most. */
export const DEFAULT_RESERVE = 1024;
/** Largest reserve and the kernel's PID_MAX_LIMIT on 64-bit. */
export const MAX_RESERVE = 4 * 1024 * 1024;
/**
 * Time to create one holder thread, generously: 54 µs each was measured here (4000 in 216 ms on
 * 2 CPUs), so 100 000 tasks get 5 s + 20 s to report ready.
 */
const READY_MS_PER_TASK = 0.2;
/** Time the killed tasks get to leave the cgroup. */
const KILL_WAIT_MS = 2000;

function params() {
  return {
    percentage: numberParam({
      name: 'percentage', min: 1, max: 100, default: 50, integer: true, unit: '%',
      description: 'share of the currently free pids to hold (free = min(pid_max, threads-max, pids.max above faultd) − tasks in use)',
    }),
    reserve: numberParam({
      name: 'reserve', min: MIN_RESERVE, max: MAX_RESERVE, default: DEFAULT_RESERVE, integer: true,
      description: 'pids that always stay free (faultd, SSH and the host keep forking)',
    }),
  };
}

/** What the host's pid bounds are now (read at plan time). */
export interface PidBudget {
  /** /proc/sys/kernel/pid_max */
  readonly pidMax: number;
  /** /proc/sys/kernel/threads-max */
  readonly threadsMax: number;
  /** Tasks (threads) on the host now: /proc/loadavg's fourth field. */
  readonly tasksInUse: number;
  /** Every limited pids cgroup from faultd's own up to the root. */
  readonly cgroupLimits: readonly PidsLimit[];
}

export interface PidPlan {
  /** Free pids under the tightest bound. */
  readonly free: number;
  /** Which bound that is (`pid_max 32768`, `threads-max …`, `pids.max 2000 of <dir>`). */
  readonly bound: string;
  /** Tasks to hold (the stressor and its threads). */
  readonly tasks: number;
}

/**
 * The planning arithmetic: `percentage` % of the free pids, rounded down, but never leaving
 * fewer than `reserve` free. Throws FAULTD_ERR_INPUT_INVALID when not even one task fits.
 */
export function planPidCount(budget: PidBudget, percentage: number, reserve: number): PidPlan {
  const bounds = [
    { free: budget.pidMax - budget.tasksInUse, bound: `pid_max ${budget.pidMax} − ${budget.tasksInUse} tasks on the host` },
    { free: budget.threadsMax - budget.tasksInUse, bound: `threads-max ${budget.threadsMax} − ${budget.tasksInUse} tasks on the host` },
    ...budget.cgroupLimits.map((l) => ({ free: l.max - l.current, bound: `pids.max ${l.max} − pids.current ${l.current} of ${l.dir}` })),
  ];
  const tightest = bounds.reduce((a, b) => (b.free < a.free ? b : a));
  const free = Math.max(0, tightest.free);
  const tasks = Math.min(Math.floor((free * percentage) / 100), free - reserve);
  if (tasks < 1) {
    const range = free - 1 >= MIN_RESERVE ? `reserve must be ${MIN_RESERVE}–${free - 1} here` : `fewer than the smallest reserve ${MIN_RESERVE} + 1 are free: this host cannot take the fault now`;
    throw new FaultdError(
      'FAULTD_ERR_INPUT_INVALID',
      `params.reserve: only ${free} pids are free (${tightest.bound}); keeping reserve ${reserve} free leaves none to hold (${range})`,
    );
  }
  return { free, bound: tightest.bound, tasks };
}

function readInteger(file: string): number {
  const value = Number(readFileSync(file, 'utf8').trim());
  if (!Number.isSafeInteger(value)) throw new FaultdError('FAULTD_ERR_FAULT_UNSUPPORTED', `cannot read ${file}`);
  return value;
}

/** Reads the pid bounds of this host (changes nothing). */
export function readPidBudget(ctx: Pick<FaultContext, 'procRoot' | 'cgroups'>): PidBudget {
  const loadavg = readFileSync(path.join(ctx.procRoot, 'loadavg'), 'utf8');
  const tasksInUse = Number(/\d+\/(\d+)/.exec(loadavg)?.[1] ?? Number.NaN);
  if (!Number.isSafeInteger(tasksInUse)) throw new FaultdError('FAULTD_ERR_FAULT_UNSUPPORTED', `cannot read the task count from ${ctx.procRoot}/loadavg`);
  return {
    pidMax: readInteger(path.join(ctx.procRoot, 'sys/kernel/pid_max')),
    threadsMax: readInteger(path.join(ctx.procRoot, 'sys/kernel/threads-max')),
    tasksInUse,
    cgroupLimits: ownPidsLimits(ctx.cgroups),
  };
}

/** The revert record: the stressor's (pid, start time, cgroups) and the planned task count. */
export const PidRevertSchema = StressorRevertSchema.extend({ tasks: z.number().int().positive() });
type PidRevert = z.infer<typeof PidRevertSchema>;

/** True if `dir` lies in the hierarchy mounted for `key` (`pids`, `freezer`, `unified`). */
function inHierarchy(dir: string, layout: CgroupLayout, key: string): boolean {
  const mount = layout.mounts.get(key);
  return mount !== undefined && dir.startsWith(`${mount}/`);
}

/**
 * The cgroup directory that counts (and caps) the tasks: the v1 pids hierarchy's, else the
 * unified one (whose pids.max exists only where the pids controller is enabled).
 */
function countingDir(dirs: readonly string[], layout: CgroupLayout): string | undefined {
  return dirs.find((d) => inHierarchy(d, layout, 'pids')) ?? dirs.find((d) => inHierarchy(d, layout, 'unified'));
}

async function revertPids(record: PidRevert, ctx: FaultContext): Promise<RevertOutcome> {
  const before = Math.max(0, ...record.cgroups.map(cgroupTaskCount));
  const used: string[] = [];
  if (before > 0) {
    // All at once through the cgroup; the first hierarchy that can do it is enough.
    const freezer = (d: string): boolean => inHierarchy(d, ctx.cgroups, 'freezer');
    for (const dir of [...record.cgroups.filter((d) => !freezer(d)), ...record.cgroups.filter(freezer)]) {
      const how = await killCgroup(dir);
      if (how) {
        used.push(`${how} ${dir}`);
        break;
      }
    }
    const deadline = monotonicMs() + KILL_WAIT_MS;
    while (Math.max(0, ...record.cgroups.map(cgroupTaskCount)) > 0 && monotonicMs() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }
  // Whatever the cgroups did not cover (no cgroup, or a stressor that never joined it): the
  // stressor's own verified stop, which also removes the cgroups.
  const stopped = await revertStressor(record, ctx);
  const left = record.cgroups.map((dir) => ({ dir, tasks: cgroupTaskCount(dir) })).filter((c) => c.tasks > 0);
  if (left.length > 0) {
    throw new RevertError(
      `pid-exhaustion tasks of fault ${record.tag} are still running`,
      left.map((c) => `${c.tasks} task(s) in ${c.dir}`).join(', '),
      left.map((c) => `echo 1 > ${c.dir}/cgroup.kill || xargs -r kill -9 < ${c.dir}/cgroup.procs; rmdir ${c.dir}`).join(' && '),
    );
  }
  if (before === 0) return stopped;
  return { outcome: 'reverted', detail: `killed ${before} task(s) (${used.join(', ') || 'stressor stopped'}); 0 left, cgroups removed` };
}

export const linuxPidExhaustion = defineInjector({
  kind: 'linux-pid-exhaustion',
  summary: 'Hold a share of the free pids (threads) so forks fail, keeping a reserve (faultd extension)',
  paramAliases: { PERCENTAGE: 'percentage', RESERVE: 'reserve' },
  paramsSchema: () => paramsObject(params()),
  paramDocs: () => Object.values(params()).map((p) => p.doc),
  exclusiveTargets: () => ['pids'],
  revertSchema: PidRevertSchema,
  plan(faultId, p, ctx): Planned<PidRevert> {
    const { free, bound, tasks } = planPidCount(readPidBudget(ctx), p.percentage, p.reserve);
    const cgroups = ctx.host.isRoot ? pidCgroupDirs(ctx.cgroups, faultId) : [];
    const counting = countingDir(cgroups, ctx.cgroups);
    const args = [`--tasks=${tasks}`];
    const argv = ['faultd-stressor', ...stressorArgv(faultId, 'pids', args)].join(' ');
    return {
      target: `${tasks} tasks (${p.percentage}% of ${free} free pids, ${free - tasks} stay free)`,
      changes: [
        `start process: ${argv} (oom_score_adj=1000, killed if faultd dies): the stressor and ${tasks - 1} threads (16 KiB stacks) in pause()`,
        `free pids: ${free} (${bound}); hold ${tasks}, keep at least ${p.reserve} free`,
        ...(cgroups.length > 0
          ? cgroups.map((dir) => `create cgroup ${dir}${dir !== counting ? '' : inHierarchy(dir, ctx.cgroups, 'pids') ? ` with pids.max ${tasks}` : ` with pids.max ${tasks} if its pids controller is enabled`} and move the stressor into it`)
          : ['no cgroup placement (needs root and a cgroup hierarchy)']),
      ],
      revertSteps: [
        ...(cgroups.length > 0 ? ['kill every task of the cgroup at once (cgroup.kill on v2, freeze + SIGKILL + thaw on v1)'] : []),
        'SIGTERM the stressor (verified by pid and start time), SIGKILL after 300 ms',
        ...cgroups.map((dir) => `remove cgroup ${dir}`),
        `verify 0 tasks are left${counting ? ` in ${counting}` : ''}`,
      ],
      revert: { tag: faultId, bootId: ctx.host.bootId, cgroups, tasks },
      async apply(recordApplied, signal) {
        // The cap goes on before the stressor joins: it can never hold more than planned.
        const { created } = createCgroups(cgroups);
        for (const dir of created.filter((d) => d === counting)) {
          if (!setPidsMax(dir, tasks)) ctx.logger.debug({ dir }, 'cannot set pids.max (no pids controller here), ignoring');
        }
        const record = this.revert;
        const base: StressorRevert = { tag: record.tag, bootId: record.bootId, cgroups: record.cgroups };
        const readyTimeoutMs = READY_TIMEOUT_MS + Math.ceil(tasks * READY_MS_PER_TASK);
        const handle = await startStressor(base, 'pids', args, ctx, (applied) => recordApplied({ ...applied, tasks }), signal, undefined, readyTimeoutMs);
        return activeStressor(handle, () => {
          const held = counting ? cgroupTaskCount(counting) : processThreads(ctx.procRoot, handle.pid);
          return Promise.resolve(`${held} of ${tasks} tasks held`);
        });
      },
    };
  },
  revert: (record, ctx) => revertPids(record, ctx),
  support(ctx) {
    const { ok, notes } = stressorSupportNotes(ctx);
    const own: string[] = [];
    let budgetOk = true;
    try {
      const budget = readPidBudget(ctx);
      const plan = planPidCount(budget, 100, MIN_RESERVE);
      own.push(`pid_max ${budget.pidMax}, threads-max ${budget.threadsMax}, ${budget.tasksInUse} tasks in use; up to ${plan.tasks} can be held (${plan.bound})`);
    } catch (error) {
      budgetOk = false;
      own.push(`cannot plan: ${(error as Error).message}`);
    }
    const dirs = pidCgroupDirs(ctx.cgroups, '<fault-id>');
    const killVia = ctx.cgroups.mounts.has('unified') ? 'cgroup.kill (v2, Linux 5.14+)' : ctx.cgroups.mounts.has('freezer') ? 'freeze + kill (v1 freezer)' : 'the stressor only (no unified or freezer hierarchy)';
    own.push(dirs.length > 0 && ctx.host.isRoot ? `cgroups: ${dirs.join(', ')}; revert kills through ${killVia}` : 'no cgroup placement (needs root and a cgroup hierarchy): revert stops the stressor only');
    return { supported: ok && budgetOk, notes: [...own, ...notes.filter((n) => !n.startsWith('cgroups ') && !n.includes('without its own cgroup'))] };
  },
});

/** Threads of `pid` from /proc/<pid>/status (0 when it is gone). */
function processThreads(procRoot: string, pid: number): number {
  try {
    return Number(/^Threads:\s+(\d+)/m.exec(readFileSync(path.join(procRoot, String(pid), 'status'), 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}
