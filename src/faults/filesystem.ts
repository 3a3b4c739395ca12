// SPDX-License-Identifier: Apache-2.0
/**
 * The safety rules the filesystem faults share (linux-disk-fill, linux-disk-io-stress): `df`'s
 * arithmetic, the trees faultd never writes into, the directory checks, the filesystem's
 * identity (one fault per filesystem in a step, and a host-wide lock around a fill's check and
 * allocation), and the `keepFree` reserve of free space no fault may take.
 */
import { accessSync, closeSync, constants, mkdirSync, openSync, realpathSync, statfsSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { z } from 'zod';

import { messageOf } from '../errors.js';
import { describeMount, mountHolding, sameMount, superblockOf, type MountEntry } from '../host/mounts.js';
import { monotonicMs } from '../monotonic.js';
import type { NativeAddon } from '../native/addon.js';
import type { HostFacts } from '../host/facts.js';
import { formatBytes, parseByteAmount } from '../units.js';
import { optionalParsedParam, type Param } from './params.js';
import { memoryBudgetBytes, RevertError, type Limits } from './types.js';

/** Free space a filesystem fault leaves unless `keepFree` says otherwise. */
export const DEFAULT_KEEP_FREE = '256Mi';
const MIN_KEEP_FREE = 1024 * 1024;
export const MAX_BYTES = 2 ** 50;
/** Trees a fault's files must never go into. */
export const FORBIDDEN_ROOTS = ['/proc', '/sys', '/dev', '/run'];

export interface FilesystemUsage {
  readonly totalBytes: number;
  readonly usedBytes: number;
  readonly availableBytes: number;
}

/** `df` for the filesystem holding `dir`: used = blocks − free, available = what is left to us. */
export function filesystemUsage(dir: string, statfs: Statfs = statfsSync): FilesystemUsage {
  const s = statfs(dir);
  return { totalBytes: s.blocks * s.bsize, usedBytes: (s.blocks - s.bfree) * s.bsize, availableBytes: s.bavail * s.bsize };
}

/**
 * statfs(2) f_type of the filesystems whose files are kept in RAM (<linux/magic.h>): tmpfs
 * (shmem pages, counted in /proc/meminfo Shmem, taken from MemAvailable; swappable only where
 * there is swap) and ramfs (page cache that is never written back or reclaimed).
 */
const MEMORY_FILESYSTEMS: ReadonlyMap<number, 'tmpfs' | 'ramfs'> = new Map([[0x01021994, 'tmpfs'], [0x858458f6, 'ramfs']]);

/** statfs as the filesystem faults read it (node:fs statfsSync; a fake in unit tests). */
export type Statfs = (dir: string) => { readonly type: number; readonly bsize: number; readonly blocks: number; readonly bfree: number; readonly bavail: number };

/** `tmpfs` or `ramfs` when the files of `dir` live in RAM, else undefined (also when `dir` cannot be read). */
export function memoryFilesystemOf(dir: string, statfs: Statfs = statfsSync): 'tmpfs' | 'ramfs' | undefined {
  try {
    return MEMORY_FILESYSTEMS.get(statfs(dir).type);
  } catch {
    return undefined;
  }
}

/**
 * Why `bytes` of files on the filesystem of `dir` do not fit the memory budget (the
 * `--max-memory-fraction` of MemAvailable that bounds memory stress) when that filesystem keeps
 * them in RAM (tmpfs, ramfs); undefined when they fit or are on a disk.
 */
export function ramFilesProblem(dir: string, bytes: number, ctx: { host: HostFacts; limits: Limits }, statfs: Statfs = statfsSync): string | undefined {
  const fstype = memoryFilesystemOf(dir, statfs);
  const budget = memoryBudgetBytes(ctx);
  if (!fstype || bytes <= budget) return undefined;
  return `${formatBytes(bytes)} on the ${fstype} of ${dir} is held in RAM, which the memory budget bounds: at most ${formatBytes(budget)} (--max-memory-fraction ${Math.round(ctx.limits.maxMemoryFraction * 100)} % of MemAvailable ${formatBytes(ctx.host.memAvailableBytes)})`;
}

/** df's Use%: used / (used + available), in percent. */
export function usePercent(u: FilesystemUsage): number {
  const base = u.usedBytes + u.availableBytes;
  return base === 0 ? 100 : (100 * u.usedBytes) / base;
}

/** True for a path under one of FORBIDDEN_ROOTS. */
export function forbidden(p: string): boolean {
  return FORBIDDEN_ROOTS.some((root) => p === root || p.startsWith(`${root}/`));
}

/** The path with symbolic links resolved (as given when it does not exist: plan says so). */
export function realPath(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return p;
  }
}

/**
 * The identity of the filesystem holding `dir` for what shares free space: two faults of one
 * filesystem in a step (and two fills of it from two faultd processes, withFilesystemLock)
 * would each count the same free space.
 *
 * Not st_dev: btrfs gives each subvolume an anonymous device of its own (st_dev 0:43 on the top
 * volume, 0:44 in a subvolume, measured), though all of them draw on one pool; and not statfs's
 * f_fsid, which btrfs mixes with the subvolume's id for the same reason. The superblock's device
 * (`sb->s_dev`), the third field of /proc/self/mountinfo, is one per filesystem: every bind
 * mount and every subvolume mount of it shows the same MAJ:MIN (0:42 for both, measured), and
 * other filesystems another one (each tmpfs has an anonymous device of its own). A subvolume
 * that is not mounted on its own is under the mount of its parent, so it gets that mount's
 * superblock too. Known limit: an overlayfs mount writes into its upper directory's filesystem
 * but has a superblock of its own, so a fill of it and a fill of that filesystem get two keys.
 * `mountinfo` is the table to read (this process's by default); st_dev is the fallback where no
 * mount covers the path.
 */
export function filesystemKey(dir: string, mountinfo?: string): string {
  try {
    const resolved = realPath(dir);
    const superblock = mountinfo === undefined ? superblockOf(resolved) : superblockOf(resolved, mountinfo);
    if (superblock !== undefined) return `disk:sb${superblock}`;
    return `disk:dev${statSync(resolved).dev}`;
  } catch {
    return `disk:${dir}`;
  }
}

/**
 * Where fills lock their filesystem: one place for the whole host, since two faultd processes
 * (each with a state dir of its own) may fill one filesystem. A faultd that cannot make it (not
 * root) uses a directory of its user's under the temporary directory.
 */
export const FILESYSTEM_LOCK_DIR = '/run/faultd/locks';
/** How long a fill waits for another fill of its filesystem (a write without fallocate of a large file can take this long). */
export const FILESYSTEM_LOCK_TIMEOUT_MS = 120_000;
const FILESYSTEM_LOCK_RETRY_MS = 20;

/** The lock directory to use: `preferred` if it can be made, else one of this user's under tmpdir. */
export function filesystemLockDir(preferred: string = FILESYSTEM_LOCK_DIR): string {
  try {
    mkdirSync(preferred, { recursive: true, mode: 0o755 });
    accessSync(preferred, constants.W_OK);
    return preferred;
  } catch {
    const own = path.join(tmpdir(), `faultd-locks-${process.getuid?.() ?? 0}`);
    mkdirSync(own, { recursive: true, mode: 0o700 });
    return own;
  }
}

/** The lock file of the filesystem `key` (filesystemKey) in `lockDir`. */
export const filesystemLockFile = (key: string, lockDir: string): string => path.join(lockDir, `${key.replace(/[^A-Za-z0-9.-]/g, '_')}.lock`);

/**
 * Runs `work` holding an exclusive flock(2) on the lock file of filesystem `key`, so that a fill's
 * free-space check and its allocation are one step for every other fill of the filesystem
 * (another fault of this process, or another faultd): the second checks only once the first
 * has reserved its bytes (or given up). Waits up to `timeoutMs` (monotonic) or until `signal`.
 * Equivalent to `flock -x -w <timeout> <lockDir>/<key>.lock <work>`.
 */
export async function withFilesystemLock<T>(
  key: string,
  o: { lockDir: string; locker: Pick<NativeAddon, 'tryLock'>; signal?: AbortSignal; timeoutMs?: number },
  work: () => Promise<T>,
): Promise<T> {
  const file = filesystemLockFile(key, o.lockDir);
  // O_RDONLY is enough for flock; O_NOFOLLOW, so a link planted there is not followed (libuv adds O_CLOEXEC).
  const fd = openSync(file, constants.O_RDONLY | constants.O_CREAT | constants.O_NOFOLLOW, 0o644);
  try {
    const deadline = monotonicMs() + (o.timeoutMs ?? FILESYSTEM_LOCK_TIMEOUT_MS);
    while (!o.locker.tryLock(fd, 'exclusive')) {
      if (o.signal?.aborted) throw new Error(`aborted while waiting for another fill of the same filesystem (${file})`);
      if (monotonicMs() >= deadline) throw new Error(`another fill of the same filesystem held ${file} for ${o.timeoutMs ?? FILESYSTEM_LOCK_TIMEOUT_MS} ms; nothing was written`);
      await new Promise((resolve) => setTimeout(resolve, FILESYSTEM_LOCK_RETRY_MS));
    }
    try {
      return await work();
    } finally {
      o.locker.tryLock(fd, 'unlock');
    }
  } finally {
    closeSync(fd);
  }
}

/** Why `dir` is not a directory faultd can write into (`does not exist`, `is not a directory`, …), or undefined. */
export function directoryProblem(dir: string): string | undefined {
  let stats;
  try {
    stats = statSync(dir);
  } catch (error) {
    const code = (error as { code?: string }).code;
    return code === 'ENOENT' ? 'does not exist' : code === 'ENOTDIR' ? 'has a part that is not a directory' : `cannot be read (${messageOf(error)})`;
  }
  return stats.isDirectory() ? undefined : 'is not a directory';
}

/** A byte size ("512Mi", "2Gi" or bytes); undefined for a percentage or nonsense. */
export function parseSize(v: string | number): number | undefined {
  const amount = parseByteAmount(v);
  return amount && 'bytes' in amount ? amount.bytes : undefined;
}

/** The checks of a directory param; `note` follows each message (it says when the value was a default). */
function directorySchema(note = '') {
  return z
    .string({ error: `must be an absolute directory path${note}` })
    .refine((p) => path.isAbsolute(p), { error: `must be an absolute directory path${note}` })
    .transform((p) => realPath(path.resolve(p)))
    .refine((p) => !forbidden(p), { error: `must not be under ${FORBIDDEN_ROOTS.join(', ')} (symbolic links resolved)${note}` })
    .superRefine((p, c) => {
      const problem = directoryProblem(p);
      if (problem) c.addIssue({ code: 'custom', message: `must be an existing directory; it ${problem}${note}` });
    });
}

/**
 * An existing directory, absolute, symbolic links resolved, not under FORBIDDEN_ROOTS.
 * `fallback` (described by `fallbackIs`, e.g. "the home directory of the user faultd runs as")
 * is taken when the param is absent, and checked as a given value is: a default that is
 * missing, forbidden (a home under /run) or not absolute is refused at validation, saying it
 * was the default.
 */
export function directoryParam(o: { name: string; description: string; fallback?: string; fallbackIs?: string }): Param<string> {
  const schema = directorySchema();
  const { fallback } = o;
  if (fallback === undefined) {
    return { schema, doc: { name: o.name, type: 'path', default: undefined, bounds: `an existing directory, not under ${FORBIDDEN_ROOTS.join(', ')}`, description: o.description } };
  }
  const checkedFallback = directorySchema(` (${JSON.stringify(fallback)} is the default${o.fallbackIs ? `: ${o.fallbackIs}` : ''}; give ${o.name})`);
  return {
    schema: schema.optional().transform((v, c) => {
      if (v !== undefined) return v;
      const result = checkedFallback.safeParse(fallback);
      if (result.success) return result.data;
      for (const issue of result.error.issues) c.addIssue({ code: 'custom', message: issue.message, input: fallback });
      return z.NEVER;
    }),
    doc: { name: o.name, type: 'path', default: fallback, bounds: `an existing directory, not under ${FORBIDDEN_ROOTS.join(', ')}`, description: o.description },
  };
}

/** `keepFree`: the free space a filesystem fault never takes. */
export function keepFreeParam(description: string): Param<number> {
  return optionalParsedParam({
    name: 'keepFree', type: 'size', default: DEFAULT_KEEP_FREE, min: MIN_KEEP_FREE, max: MAX_BYTES, bounds: '1Mi–1 PiB', parse: parseSize,
    formatHint: 'a size like "256Mi" or bytes', description,
  }, DEFAULT_KEEP_FREE) as Param<number>;
}

/** A mount as a revert record keeps it (host/mounts.ts MountEntry). */
export const RecordedMountSchema = z.object({ point: z.string(), fstype: z.string(), source: z.string(), root: z.string() });

/** Filesystems whose contents do not outlive a reboot. */
const VOLATILE_FILESYSTEMS = new Set(['tmpfs', 'ramfs']);

/**
 * Whether files a fault left under `dirPath`, recorded on mount `recorded` in boot
 * `recordedBootId`, can be reached now. "No file there" proves something only while that mount
 * still holds the path, so when another mount holds it (not mounted yet at boot, a share
 * unmounted first, a mount on top hiding it) this throws a RevertError naming the mount to
 * restore; but a tmpfs or ramfs of an earlier boot is 'emptied-by-reboot'. `noun` names the
 * files in the message (`the fill file`), `leftover` what is left (`the fill file F (16 MiB)`).
 */
export function recordedMountHolds(dirPath: string, recorded: MountEntry, recordedBootId: string, bootId: string, noun: string, leftover: string): 'reachable' | 'emptied-by-reboot' {
  const now = mountHolding(dirPath);
  if (now && sameMount(now, recorded)) return 'reachable';
  if (recordedBootId !== bootId && VOLATILE_FILESYSTEMS.has(recorded.fstype)) return 'emptied-by-reboot';
  throw new RevertError(
    `${dirPath} is not on ${describeMount(recorded)} any more${now ? ` but on ${describeMount(now)}` : ''}, so ${noun} cannot be reached`,
    `${leftover} is still on ${recorded.source}`,
    `make ${recorded.point} hold ${describeMount(recorded)} again (mount it, or unmount what hides it), then faultd revert --remnants`,
  );
}
