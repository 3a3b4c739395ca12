// SPDX-License-Identifier: Apache-2.0
/**
 * The limit files of a cgroup, per hierarchy: where `cpu` (cores), `memory` (bytes) and `pids`
 * (and, through cgroup-io-limits.ts, the per-device `io` rules) are set in cgroup v1 (`cpu.cfs_quota_us` over the group's own `cpu.cfs_period_us`,
 * `memory.limit_in_bytes`, `pids.max`) and in v2 (`cpu.max`, `memory.max`, `pids.max`), and
 * what the kernel reads back after a write (memory is rounded down to whole pages). On a hybrid
 * host each controller is wherever it is mounted: a v1 hierarchy of its own, else the unified one.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

import type { CgroupLayout } from './cgroup.js';

export type LimitKind = 'cpu' | 'memory' | 'pids' | 'io';

/** The controller's name in cgroup v1 (`/proc/<pid>/cgroup`, the hierarchy's mount options) and in v2 (`cgroup.controllers`). */
const CONTROLLER_NAMES: Record<LimitKind, { v1: string; v2: string }> = {
  cpu: { v1: 'cpu', v2: 'cpu' },
  memory: { v1: 'memory', v2: 'memory' },
  pids: { v1: 'pids', v2: 'pids' },
  io: { v1: 'blkio', v2: 'io' },
};

/** The key of `kind`'s cgroup path in a parsed /proc/<pid>/cgroup of hierarchy `version` ('' is the unified one). */
export const cgroupPathKey = (kind: LimitKind, version: 1 | 2): string => (version === 1 ? CONTROLLER_NAMES[kind].v1 : '');

/** One file to write: its path, the text to write, and what reading it back must give. */
export interface LimitWrite {
  readonly kind: Exclude<LimitKind, 'io'>;
  readonly file: string;
  readonly value: string;
  readonly expected: string;
}

const V2_CPU_PERIOD_US = 100_000;

/**
 * The kernel's smallest CFS quota: 1 ms (`min_cfs_quota_period` in kernel/sched/core.c;
 * tg_set_cfs_bandwidth answers EINVAL below it). v2's period is 100 ms, so `cpu`'s lower bound
 * of 0.01 cores is exactly 1 ms there; a v1 group may have a shorter period of its own.
 */
export const MIN_CPU_QUOTA_US = 1000;

/** Thrown for a limit the kernel would refuse: `field` names the param, `message` the bound. */
export class LimitOutOfRange extends Error {
  override readonly name = 'LimitOutOfRange';
  readonly field: string;

  constructor(field: string, message: string) {
    super(message);
    this.field = field;
  }
}

/** `cores` over `periodUs` as a quota in µs; a quota under the kernel's 1 ms is refused, not raised to it (that would be another limit than asked). */
function cpuQuotaUs(cores: number, periodUs: number): number {
  const quota = Math.round(cores * periodUs);
  if (quota < MIN_CPU_QUOTA_US) {
    const least = Math.ceil((MIN_CPU_QUOTA_US / periodUs) * 1000) / 1000;
    throw new LimitOutOfRange('cpu', `${cores} cores of the cgroup's period of ${periodUs} µs is a quota of ${quota} µs, below the kernel's minimum of ${MIN_CPU_QUOTA_US} µs (1 ms): give at least ${least} cores for this cgroup`);
  }
  return quota;
}

/** The mount and the cgroup path of `pid` (or of ours) that hold `controller`, v1 first. */
export function controllerHome(layout: CgroupLayout, kind: LimitKind, cgroupOf: ReadonlyMap<string, string>): { version: 1 | 2; dir: string } | undefined {
  const names = CONTROLLER_NAMES[kind];
  const v1 = layout.mounts.get(names.v1);
  const v1Path = cgroupOf.get(names.v1);
  if (v1 && v1Path !== undefined) return { version: 1, dir: path.join(v1, v1Path) };
  const unified = layout.mounts.get('unified');
  const v2Path = cgroupOf.get('');
  if (!unified || v2Path === undefined) return undefined;
  const dir = path.join(unified, v2Path);
  let available = '';
  try {
    available = readFileSync(path.join(dir, 'cgroup.controllers'), 'utf8');
  } catch {
    return undefined;
  }
  return available.split(/\s+/).includes(names.v2) ? { version: 2, dir } : undefined;
}

/** A limit file's text, as the kernel reads it back (trimmed). */
export const readLimit = (file: string): string => readFileSync(file, 'utf8').trim();

/**
 * The write that sets `kind` to `amount` in the cgroup `dir` of cgroup `version`. `pageBytes` is
 * the kernel's page size (the addon's pageSize(), sysconf(_SC_PAGESIZE)): the memory controller
 * keeps its limit in whole pages and reads it back as pages × page size, so on a 64 KiB-page
 * arm64 or ppc64le kernel 100000 reads back as 65536, not the 98304 of 4 KiB pages.
 */
export function limitWrite(kind: LimitWrite['kind'], amount: number, version: 1 | 2, dir: string, pageBytes: number): LimitWrite {
  if (kind === 'cpu') {
    if (version === 2) {
      const quota = cpuQuotaUs(amount, V2_CPU_PERIOD_US);
      return { kind, file: path.join(dir, 'cpu.max'), value: `${quota} ${V2_CPU_PERIOD_US}`, expected: `${quota} ${V2_CPU_PERIOD_US}` };
    }
    // The group's own period is kept: only the quota changes, so one file holds the whole change.
    const period = Number(readLimit(path.join(dir, 'cpu.cfs_period_us')));
    const quota = String(cpuQuotaUs(amount, period));
    return { kind, file: path.join(dir, 'cpu.cfs_quota_us'), value: quota, expected: quota };
  }
  if (kind === 'memory') {
    const pages = String(Math.floor(amount / pageBytes) * pageBytes);
    return { kind, file: path.join(dir, version === 1 ? 'memory.limit_in_bytes' : 'memory.max'), value: String(amount), expected: pages };
  }
  return { kind, file: path.join(dir, 'pids.max'), value: String(amount), expected: String(amount) };
}

