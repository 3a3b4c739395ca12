// SPDX-License-Identifier: Apache-2.0
/**
 * linux-disk-fill: fills the filesystem holding `path` up to `fillPercentage` (as `df` counts
 * Use%: used / (used + available)) or by `size`, with one file whose blocks are reserved at once
 * (fallocate(2); written with random bytes on filesystems without it). Never past `keepFree`: a fill
 * that would leave less free space is refused before anything is written. The fill file's path
 * is in the ledger before it is created, and revert deletes it and checks that it is gone; it
 * survives a reboot, so `revert --remnants` removes it after one.
 */
import { randomFillSync } from 'node:crypto';
import { closeSync, constants, fstatSync, lstatSync, openSync, readdirSync, statfsSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { lstat, stat, unlink } from 'node:fs/promises';
import path from 'node:path';

import { z } from 'zod';

import { FaultdError, messageOf } from '../errors.js';
import { mountHolding } from '../host/mounts.js';
import { formatBytes } from '../units.js';
import { directoryParam, directoryProblem, filesystemKey, filesystemLockDir, filesystemUsage, forbidden, FORBIDDEN_ROOTS, keepFreeParam, MAX_BYTES, memoryFilesystemOf, parseSize, ramFilesProblem, realPath, RecordedMountSchema, recordedMountHolds, usePercent, withFilesystemLock, type FilesystemUsage, type Statfs } from './filesystem.js';
import { optionalParsedParam, paramsObject, type Param } from './params.js';
import { defineInjector, RevertError, type ActiveFault, type FaultContext, type Planned, type RevertOutcome, type ValidationContext } from './types.js';
import { fnv1a32 } from './network/tc-handles.js';

/** Bytes per write where the filesystem has no fallocate. */
const WRITE_CHUNK = 4 * 1024 * 1024;

export { filesystemUsage, usePercent, type FilesystemUsage } from './filesystem.js';

/** Bytes to allocate so that Use% reaches `percent` (≤ 0 when it already has). */
export function bytesToReach(percent: number, u: FilesystemUsage): number {
  return Math.ceil((percent / 100) * (u.usedBytes + u.availableBytes) - u.usedBytes);
}

/** An existing directory to fill, symbolic links resolved (`path` here, `fillPath` for linux-fs-fill). */
export function fillDirectoryParam(name: string): Param<string> {
  return directoryParam({ name, description: 'a directory on the filesystem to fill; the fill file goes here' });
}

/** A size in bytes (`512Mi`, `2G`, `100M`, `30k`, plain bytes; binary units). */
export function fillSizeParam(name: string, description: string): Param<number | undefined> {
  return optionalParsedParam({ name, type: 'size', default: '-', min: 1, max: MAX_BYTES, bounds: '1 B–1 PiB', parse: parseSize, formatHint: 'a size like "512Mi", "2G", "100M" or bytes', description });
}

/** `keepFree` of the fill kinds. */
export const fillKeepFreeParam = (): Param<number> => keepFreeParam('free space the fill never takes: a fill that would leave less is refused');

function params() {
  const fillPercentage: Param<number | undefined> = {
    schema: z
      .preprocess((v) => (typeof v === 'string' && /^\s*\d+(\.\d+)?\s*%?\s*$/.test(v) ? Number(v.replace('%', '')) : v), z.number({ error: 'must be a percentage 1–100' }).min(1, { error: 'must be in 1–100' }).max(100, { error: 'must be in 1–100' }))
      .optional(),
    doc: { name: 'fillPercentage', type: 'number', default: undefined, bounds: '1–100 %', description: 'fill until the filesystem is this full, as df counts Use% (give this or size)' },
  };
  return {
    path: fillDirectoryParam('path'),
    fillPercentage,
    size: fillSizeParam('size', 'fill by this many bytes instead (give this or fillPercentage)'),
    keepFree: fillKeepFreeParam(),
  };
}

export const DiskFillRevertSchema = z.object({
  file: z.string().min(1),
  bytes: z.number().int().positive(),
  /** The directory filled and the mount that holds it, as planned (see assertReachable). */
  dir: z
    .object({
      path: z.string(),
      dev: z.number().int().nonnegative(),
      ino: z.number().int().nonnegative(),
      bootId: z.string(),
      /** Absent in records of the first version of this check (and where no mount covers the path). */
      mount: RecordedMountSchema.optional(),
    })
    .optional(),
  /** The fill file's inode, once created: a file in its place that is not it is left alone. */
  ino: z.number().int().nonnegative().optional(),
  /** False when the file could not be created (its name was taken): nothing of ours to delete. */
  created: z.boolean().optional(),
});
export type DiskFillRevert = z.infer<typeof DiskFillRevertSchema>;

/**
 * Reserves `bytes` in the open file: fallocate, or written data where the filesystem lacks it.
 * The data is random: a compressing filesystem (ZFS with lz4, btrfs compress) would store zeros,
 * or any repeated pattern, in almost no space, and the fill would take none.
 */
export async function allocate(fd: number, bytes: number, fallocate: (fd: number, length: number) => void, signal: AbortSignal): Promise<'fallocate' | 'written'> {
  try {
    fallocate(fd, bytes);
    return 'fallocate';
  } catch (error) {
    // Node names errno 95 ENOTSUP (it is also EOPNOTSUPP on Linux).
    const code = (error as { code?: string }).code;
    if (code !== 'ENOTSUP' && code !== 'EOPNOTSUPP') throw error;
  }
  const data = randomFillSync(Buffer.allocUnsafe(Math.min(WRITE_CHUNK, bytes)));
  for (let written = 0; written < bytes; ) {
    if (signal.aborted) throw new Error('aborted while writing the fill file');
    written += writeSync(fd, data, 0, Math.min(data.length, bytes - written));
    await new Promise((resolve) => setImmediate(resolve));
  }
  return 'written';
}

/** How many directory entries a revert may look through for a fill file whose directory moved. */
const SEARCH_BUDGET = 200_000;

/**
 * Looks for `name` with inode `ino` under `root`, on one device only, through at most `budget`
 * entries. 'not-found': the whole tree was seen; 'budget': the search stopped early.
 */
export function findFillFile(root: string, name: string, ino: number, budget = SEARCH_BUDGET): { path: string } | 'not-found' | 'budget' {
  const device = statSync(root).dev;
  const pending = [root];
  let seen = 0;
  for (let dir = pending.pop(); dir !== undefined; dir = pending.pop()) {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      continue; // unreadable or gone meanwhile
    }
    for (const entry of entries) {
      if ((seen += 1) > budget) return 'budget';
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        if (statSync(full, { throwIfNoEntry: false })?.dev === device) pending.push(full);
      } else if (entry.name === name && lstatSync(full, { throwIfNoEntry: false })?.ino === ino) {
        return { path: full };
      }
    }
  }
  return 'not-found';
}

/**
 * Where the fill file can be found now, or an outcome without it. The plan recorded the mount
 * that held the directory; "no file there" proves something only while that mount still holds
 * it, so:
 * - another mount holds the path now (not mounted yet at boot, a share unmounted first, or a
 *   mount on top hiding it): a failed revert that says which mount to restore; but a tmpfs or
 *   ramfs of an earlier boot that is not there is gone with that boot;
 * - the directory is gone or was made anew on the same mount: the file is looked for by name
 *   and inode on that filesystem (it moved with its directory), and is gone if not found.
 */
function locateFill(r: DiskFillRevert, bootId: string): string | RevertOutcome {
  const recorded = r.dir?.mount;
  if (!r.dir || !recorded) return r.file;
  if (recordedMountHolds(r.dir.path, recorded, r.dir.bootId, bootId, 'the fill file', `the fill file ${r.file} (${formatBytes(r.bytes)})`) === 'emptied-by-reboot') {
    return { outcome: 'already-absent', detail: `${r.file} was on ${recorded.fstype}, which a reboot empties` };
  }
  const dir = statSync(r.dir.path, { throwIfNoEntry: false });
  if (dir?.ino === r.dir.ino || r.ino === undefined) return r.file;
  const found = findFillFile(recorded.point, path.basename(r.file), r.ino);
  if (found === 'budget') {
    throw new RevertError(
      `${r.dir.path} is gone or was made anew, and the fill file was not found within ${SEARCH_BUDGET} entries of ${recorded.point}`,
      `the fill file (${formatBytes(r.bytes)}, inode ${r.ino}) may still be on ${recorded.source}`,
      `find ${recorded.point} -xdev -inum ${r.ino} -delete; then faultd revert --remnants`,
    );
  }
  if (found === 'not-found') return { outcome: 'already-absent', detail: `${r.dir.path} is gone (or was made anew), and no file with the fill's inode is left on ${recorded.point}` };
  return found.path;
}

/** What a fill is asked for: a directory, and a percentage or a size, with its reserve. */
export interface FillRequest {
  readonly path: string;
  readonly fillPercentage?: number | undefined;
  readonly size?: number | undefined;
  readonly keepFree: number;
}

/** The names the asking kind gives `path` and `size` (its messages name its own fields). */
export interface FillFieldNames {
  readonly path: string;
  readonly size: string;
}

/**
 * The RAM a fill takes: on a tmpfs or ramfs the fill file's pages are memory (shmem, or page
 * cache that is never reclaimed), as much as a memory stress of the same size, so they count
 * against the step's memory budget (`memoryBudgetBytes`). 0 on any other filesystem.
 */
export function fillMemoryBytes(p: FillRequest, statfs: Statfs = statfsSync): number {
  if (!memoryFilesystemOf(p.path, statfs)) return 0;
  return Math.max(0, p.size ?? bytesToReach(p.fillPercentage ?? 0, filesystemUsage(p.path, statfs)));
}

/** The field a fill's amount was given in: `size`/`fillStorage`, or fillPercentage. */
const amountField = (p: FillRequest, names: FillFieldNames): string => (p.size === undefined ? 'fillPercentage' : names.size);

/**
 * Why a fill of `p` on a tmpfs or ramfs does not fit the memory budget (the `--max-memory-fraction`
 * of MemAvailable that bounds memory stress), with the field to blame; undefined when it fits or
 * is on a disk.
 */
export function fillMemoryProblem(p: FillRequest, ctx: Pick<ValidationContext, 'host' | 'limits'>, names: FillFieldNames, statfs: Statfs = statfsSync): { field: string; message: string } | undefined {
  const message = ramFilesProblem(p.path, fillMemoryBytes(p, statfs), ctx, statfs);
  return message === undefined ? undefined : { field: amountField(p, names), message };
}

/**
 * Plans one fill file (linux-disk-fill, linux-fs-fill): checked, sized, recorded, then written.
 * `statfs` is node:fs's (a simulated filesystem in unit tests).
 */
export function planFill(faultId: string, given: FillRequest, ctx: FaultContext, names: FillFieldNames, statfs: Statfs = statfsSync): Planned<DiskFillRevert> {
  // Resolved again now (a link may have changed since validation) and pinned by dev and inode.
  const p = { ...given, path: realPath(given.path) };
  if (forbidden(p.path)) throw new FaultdError('FAULTD_ERR_INPUT_INVALID', `params.${names.path}: ${given.path} resolves to ${p.path}, under ${FORBIDDEN_ROOTS.join(', ')}`);
  // Checked at validation too; here again for a directory removed since.
  const problem = directoryProblem(p.path);
  if (problem) throw new FaultdError('FAULTD_ERR_INPUT_INVALID', `params.${names.path}: must be an existing directory; ${p.path} ${problem}`);
  const dir = statSync(p.path);
  const usage = filesystemUsage(p.path, statfs);
  const bytes = p.size ?? bytesToReach(p.fillPercentage ?? 0, usage);
  const now = `${usePercent(usage).toFixed(1)} % used, ${formatBytes(usage.availableBytes)} free`;
  if (bytes <= 0) throw new Error(`fillPercentage ${p.fillPercentage ?? '?'}: the filesystem of ${p.path} is already ${now}`);
  const room = usage.availableBytes - p.keepFree;
  if (bytes > room) {
    const most = room > 0 ? `at most ${formatBytes(room)} (${usePercent({ ...usage, usedBytes: usage.usedBytes + room, availableBytes: p.keepFree }).toFixed(1)} %)` : 'nothing';
    const field = p.size === undefined ? `fillPercentage ${p.fillPercentage ?? '?'}` : `${names.size} ${formatBytes(bytes)}`;
    throw new Error(`${field}: would leave less than keepFree ${formatBytes(p.keepFree)} free on the filesystem of ${p.path} (${now}); it can take ${most}`);
  }
  // Validation checked this too; MemAvailable and a percentage's bytes are read again now.
  const memory = fillMemoryProblem({ ...p, size: bytes }, ctx, names, statfs);
  if (memory) throw new FaultdError('FAULTD_ERR_INPUT_INVALID', `params.${amountField(p, names)}: ${memory.message}; nothing was written`);
  const inRam = memoryFilesystemOf(p.path, statfs);
  const file = path.join(p.path, `.faultd-fill-${fnv1a32(faultId).toString(16).padStart(8, '0')}`);
  // The revert deletes this name: refuse one that is someone else's (or a remnant not yet reverted).
  if (lstatSync(file, { throwIfNoEntry: false })) throw new Error(`${file} already exists (a remnant? \`faultd revert --remnants\` removes faultd's own); nothing was written`);
  const mount = mountHolding(p.path);
  const revert: DiskFillRevert = { file, bytes, dir: { path: p.path, dev: dir.dev, ino: dir.ino, bootId: ctx.host.bootId, ...(mount ? { mount } : {}) } };
  const after = usePercent({ ...usage, usedBytes: usage.usedBytes + bytes, availableBytes: usage.availableBytes - bytes });
  const used = () => usePercent(filesystemUsage(p.path, statfs));
  const key = filesystemKey(p.path);
  return {
    target: p.path,
    changes: [`create ${file} with ${formatBytes(bytes)} reserved (filesystem ${now} → ${after.toFixed(1)} % used${inRam ? `; ${inRam}: ${formatBytes(bytes)} of RAM` : ''})`],
    revertSteps: [`delete ${file}`],
    revert,
    async apply(recordApplied, signal): Promise<ActiveFault> {
      // The check of free space and the reservation are one step under the filesystem's lock:
      // another fill of it (this process's or another faultd's) checks only once this one has
      // its bytes, so two fills cannot both pass a check that only one of them fits.
      const how = await withFilesystemLock(key, { lockDir: ctx.lockDir ?? filesystemLockDir(), locker: ctx.native, signal }, () => createFill(recordApplied, signal));
      ctx.logger.info({ file, bytes, how, usePercent: Number(used().toFixed(2)) }, 'fill file written');
      return {
        measure: () => `${used().toFixed(1)} % used`,
        ended: new Promise<string>(() => undefined),
      };
    },
  };

  /** Checks free space again, records and creates the file, and reserves its bytes (under the lock). */
  async function createFill(recordApplied: (revert: DiskFillRevert) => Promise<void>, signal: AbortSignal): Promise<'fallocate' | 'written'> {
    // Free space may have shrunk since the plan (another writer, another fill): check again, then record.
    const latest = filesystemUsage(p.path, statfs);
    if (bytes > latest.availableBytes - p.keepFree) throw new Error(`${formatBytes(bytes)} would now leave less than keepFree ${formatBytes(p.keepFree)} free on the filesystem of ${p.path} (${formatBytes(latest.availableBytes)} free); nothing was written`);
    // The intent record already names the file: a crash from here on leaves it findable.
    let fd: number;
    try {
      fd = openSync(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
    } catch (error) {
      // The name is taken (EEXIST, or ELOOP for a link): that file is not ours, so the revert must not delete it.
      await recordApplied({ ...revert, created: false });
      throw new Error(`cannot create ${file}: ${messageOf(error)}; nothing was written, and what is there is left alone`, { cause: error });
    }
    try {
      // The directory compared, not the file: on overlayfs a file may show a layer's device.
      const now = statSync(p.path);
      if (now.dev !== dir.dev || now.ino !== dir.ino) throw new Error(`${p.path} is no longer the directory that was checked (a link or mount changed under it)`);
      await recordApplied({ ...revert, ino: fstatSync(fd).ino });
      return await allocate(fd, bytes, (f, n) => ctx.native.fallocate(f, n), signal);
    } catch (error) {
      unlinkSync(file);
      throw new Error(`cannot fill ${file} with ${formatBytes(bytes)}: ${messageOf(error)} (the file was removed)`, { cause: error });
    } finally {
      closeSync(fd);
    }
  }
}

/** Deletes the fill file and checks that it is gone; idempotent (see locateFill). */
export async function revertFill(given: DiskFillRevert, ctx: FaultContext): Promise<RevertOutcome> {
  if (given.created === false) return { outcome: 'already-absent', detail: `${given.file} was never created (its name was taken); what is there was left alone` };
  const located = locateFill(given, ctx.host.bootId);
  if (typeof located !== 'string') return located;
  // The file may have moved with its directory: that is where it is deleted.
  const r = { ...given, file: located };
  let found;
  try {
    found = await lstat(r.file);
  } catch (error) {
    if ((error as { code?: string }).code === 'ENOENT') return { outcome: 'already-absent', detail: `${r.file} was already gone` };
    throw new RevertError(`cannot look at the fill file ${r.file}: ${messageOf(error)}`, `${r.file} (${formatBytes(r.bytes)}) may still take space`, `rm -f ${r.file}`, { cause: error });
  }
  if (r.ino !== undefined && found.ino !== r.ino) {
    throw new RevertError(
      `${r.file} is not the fill file faultd wrote (inode ${found.ino}, not ${r.ino}): it was moved or replaced, so it is left untouched`,
      `faultd's fill file (${formatBytes(r.bytes)}, inode ${r.ino}) may still take space on the filesystem of ${path.dirname(r.file)}`,
      `find ${path.dirname(r.file)} -xdev -inum ${r.ino} -delete  # then: faultd revert --remnants`,
    );
  }
  try {
    await unlink(r.file);
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === 'ENOENT') return { outcome: 'already-absent', detail: `${r.file} was already gone` };
    throw new RevertError(
      `cannot delete the fill file ${r.file}: ${messageOf(error)}`,
      `${r.file} (${formatBytes(r.bytes)}) still takes space on its filesystem`,
      code === 'EPERM' ? `chattr -i ${r.file} && rm -f ${r.file}` : `rm -f ${r.file}`,
      { cause: error },
    );
  }
  try {
    await stat(r.file);
  } catch {
    return { outcome: 'reverted', detail: `deleted ${r.file} (${formatBytes(r.bytes)})` };
  }
  throw new RevertError(`${r.file} is still there after it was deleted`, `${r.file} (${formatBytes(r.bytes)})`, `rm -f ${r.file}`);
}

export const linuxDiskFill = defineInjector({
  kind: 'linux-disk-fill',
  summary: 'Fill a filesystem to a percentage or by a size, never past a reserve of free space',
  paramAliases: { PATH: 'path', FILL_PERCENTAGE: 'fillPercentage', SIZE: 'size', KEEP_FREE: 'keepFree' },
  paramsSchema: (ctx) =>
    paramsObject(params()).superRefine((v, c) => {
      if ((v.fillPercentage === undefined) === (v.size === undefined)) {
        c.addIssue({ code: 'custom', path: ['fillPercentage'], message: 'give exactly one of fillPercentage (1–100) or size' });
        return;
      }
      const memory = fillMemoryProblem(v, ctx, { path: 'path', size: 'size' });
      if (memory) c.addIssue({ code: 'custom', path: [memory.field], message: memory.message });
    }),
  paramDocs: () => Object.values(params()).map((p) => p.doc),
  memoryBytes: (p) => fillMemoryBytes(p),
  exclusiveTargets: (p) => [filesystemKey(p.path)],
  revertSchema: DiskFillRevertSchema,
  plan: (faultId, p, ctx) => planFill(faultId, p, ctx, { path: 'path', size: 'size' }),
  revert: (record, ctx) => revertFill(record, ctx),
  support: () => ({ supported: true, notes: ['fallocate(2) where the filesystem has it, else random bytes written in 4 MiB chunks (incompressible)'] }),
});
