// SPDX-License-Identifier: Apache-2.0
/**
 * linux-disk-io-stress (Harness name and tunables): `workers` threads of faultd-stressor each
 * write their own file on the filesystem holding `volumeMountPath`, over and over, with O_DIRECT
 * where the filesystem allows it (else buffered writes, each followed by fdatasync). The files
 * together take `fileSystemUtilisationPercentage` % of the filesystem's free space (or
 * `fileSystemUtilisationBytes`), never past `keepFree` (the reserve rules of linux-disk-fill,
 * shared in filesystem.ts). faultd extensions: `ioRate` holds the write rate exactly, or `iops`
 * holds the number of 4 KiB writes per second exactly (native/core/rate_pacer.h, split over the
 * workers), measured per 1 s window from the kernel's count of the stressor's writes
 * (/proc/<pid>/io wchar and syscw).
 *
 * The files' names are in the ledger's intent record before faultd creates them (O_EXCL), and
 * each one's device and inode is recorded as soon as it exists; the stressor gets them open and
 * never opens a name. The revert stops the stressor and deletes only the files that still are
 * the ones faultd created, and checks they are gone (also after kill -9 of faultd, by
 * `faultd revert --remnants`); a same-named file of someone else is never deleted.
 */
import { closeSync, constants, fstatSync, lstatSync, openSync, statfsSync } from 'node:fs';
import { lstat, readFile, unlink } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';

import { z } from 'zod';

import { FaultdError, messageOf } from '../errors.js';
import { describeMount, mountHolding } from '../host/mounts.js';
import { formatBytes } from '../units.js';
import { directoryParam, directoryProblem, filesystemKey, filesystemUsage, forbidden, FORBIDDEN_ROOTS, keepFreeParam, memoryFilesystemOf, parseSize, ramFilesProblem, realPath, RecordedMountSchema, recordedMountHolds, type Statfs } from './filesystem.js';
import { fnv1a32 } from './network/tc-handles.js';
import { numberParam, optionalNumberParam, optionalParsedParam, paramsObject, type Param } from './params.js';
import { planStressor, stressorSupportNotes } from './stressor-fault.js';
import { revertStressor, StressorRevertSchema } from './stressor-process.js';
import { defineInjector, RevertError, withRevert, type RevertOutcome } from './types.js';

/** O_DIRECT alignment: every worker's file is a whole number of these. */
const ALIGN_BYTES = 4096;
const MAX_WORKERS = 64;
const MIN_RATE = 4096;
const MAX_RATE = 2 ** 40;
/** `iops`: most writes per second of all workers together (a loop device on tmpfs does ~10^5). */
const MAX_IOPS = 1_000_000;
/** The size of each write under `iops`: one O_DIRECT-aligned block. */
const IOPS_BLOCK_BYTES = ALIGN_BYTES;
/** The measurement window of `ioRate` and `iops`. */
const WINDOW_NS = 1_000_000_000n;

function params() {
  const percentage: Param<number | undefined> = {
    schema: z
      .preprocess(
        (v) => (typeof v === 'string' && /^\s*\d+(\.\d+)?\s*%?\s*$/.test(v) ? Number(v.replace('%', '')) : v),
        z.number({ error: 'must be a percentage in 0.01–100' }).min(0.01, { error: 'must be in 0.01–100' }).max(100, { error: 'must be in 0.01–100' }),
      )
      .optional(),
    doc: {
      name: 'fileSystemUtilisationPercentage', type: 'number', default: '10%', bounds: '0.01–100 %',
      description: 'the working files together take this share of the filesystem\'s free space (unless fileSystemUtilisationBytes is given)',
    },
  };
  return {
    fileSystemUtilisationPercentage: percentage,
    fileSystemUtilisationBytes: optionalParsedParam({
      name: 'fileSystemUtilisationBytes', type: 'size', default: '-', min: ALIGN_BYTES, max: 2 ** 50, bounds: '4Ki–1 PiB', parse: parseSize,
      formatHint: 'a size like "512Mi", "2Gi" or bytes', description: 'the working files together take this many bytes instead (give this or fileSystemUtilisationPercentage)',
    }),
    workers: numberParam({ name: 'workers', min: 1, max: MAX_WORKERS, default: 1, integer: true, description: 'writer threads, each with its own file' }),
    volumeMountPath: directoryParam({
      name: 'volumeMountPath', fallback: homedir(), fallbackIs: 'the home directory of the user faultd runs as',
      description: 'a directory on the filesystem to load (default: the home directory of the user faultd runs as); --dry-run names the filesystem',
    }),
    ioRate: optionalParsedParam({
      name: 'ioRate', type: 'size/s', default: '(device speed)', min: MIN_RATE, max: MAX_RATE, bounds: '4Ki–1Ti bytes/s', parse: parseSize,
      formatHint: 'bytes per second like "10Mi" or a number', description: 'hold the write rate of all workers together at exactly this (faultd extension; reported per 1 s window)',
    }),
    iops: optionalNumberParam({
      name: 'iops', min: 1, max: MAX_IOPS, integer: true, unit: 'writes/s', fallback: '(device speed)',
      description: 'hold the writes per second of all workers together at exactly this, each write one 4 KiB block (faultd extension; reported per 1 s window; give ioRate or iops)',
    }),
    keepFree: keepFreeParam('free space the working files never take: a size that would leave less is refused'),
  };
}

/** A working file faultd created, by its device and inode (fstat of the descriptor O_EXCL gave it). */
const OwnedFile = z.object({ file: z.string().min(1), dev: z.number().int().nonnegative(), ino: z.number().int().nonnegative() });
type OwnedFile = z.infer<typeof OwnedFile>;

const DiskIoRevertSchema = StressorRevertSchema.extend({
  /** The working files, named before they are created. */
  files: z.array(z.string().min(1)),
  /** The directory and the mount that held it at plan time: files found missing prove nothing on another mount. */
  dir: z.object({ path: z.string(), bootId: z.string(), mount: RecordedMountSchema.optional() }).optional(),
  /**
   * The files faultd created, each recorded as soon as it exists (the intent has []): only
   * these are deleted, and only while the name still holds that inode. Absent in records of
   * faultd before 2026-12-06, whose files the stressor created: those are deleted by name.
   */
  owned: z.array(OwnedFile).optional(),
});
type DiskIoRevert = z.infer<typeof DiskIoRevertSchema>;

/**
 * Bytes the stressor has written and its write calls (the kernel's wchar and syscw of
 * /proc/<pid>/io, over all its threads), or undefined once it is gone.
 */
export async function processWrites(procRoot: string, pid: number): Promise<{ bytes: number; calls: number } | undefined> {
  try {
    const io = await readFile(path.join(procRoot, String(pid), 'io'), 'utf8');
    const bytes = /^wchar:\s+(\d+)/m.exec(io)?.[1];
    const calls = /^syscw:\s+(\d+)/m.exec(io)?.[1];
    return bytes === undefined || calls === undefined ? undefined : { bytes: Number(bytes), calls: Number(calls) };
  } catch {
    return undefined;
  }
}

/** The working files' bytes together: fileSystemUtilisationBytes, else the percentage (default 10) of the free space now. */
function totalBytes(p: { volumeMountPath: string; fileSystemUtilisationBytes?: number | undefined; fileSystemUtilisationPercentage?: number | undefined }, statfs: Statfs = statfsSync): number {
  return p.fileSystemUtilisationBytes ?? Math.floor(((p.fileSystemUtilisationPercentage ?? 10) / 100) * filesystemUsage(p.volumeMountPath, statfs).availableBytes);
}

/** The field the working files' size was given in (the percentage when neither was: its default). */
const sizeField = (p: { fileSystemUtilisationBytes?: number | undefined }): string => (p.fileSystemUtilisationBytes === undefined ? 'fileSystemUtilisationPercentage' : 'fileSystemUtilisationBytes');

/** The RAM the working files take: their bytes on a tmpfs or ramfs (counted against the step's memory budget, as memory stress), 0 on a disk. */
export function ioMemoryBytes(p: Parameters<typeof totalBytes>[0], statfs: Statfs = statfsSync): number {
  return memoryFilesystemOf(p.volumeMountPath, statfs) ? totalBytes(p, statfs) : 0;
}

/** Each worker's file size: `total` split evenly, aligned down to ALIGN_BYTES (0 when too small). */
export function bytesPerWorker(total: number, workers: number): number {
  return Math.floor(total / workers / ALIGN_BYTES) * ALIGN_BYTES;
}

/** Working files of a record: which to delete, and which names hold a file that is not faultd's. */
interface FileChoice {
  readonly ours: string[];
  /** A name with no identity recorded (never created by faultd, or a crash before its record): left alone. */
  readonly unrecorded: string[];
  /** A name whose file is not the inode faultd created (it was replaced): left alone, and faultd's file looked for. */
  readonly replaced: { file: string; owned: OwnedFile; ino: number }[];
}

/**
 * Which of the record's files are faultd's to delete. A record with identities: a name is
 * deleted only while it holds the device and inode faultd created. A record of an older faultd
 * (no identities): every name, as it did then.
 */
export async function chooseFiles(r: Pick<DiskIoRevert, 'files' | 'owned'>): Promise<FileChoice> {
  if (r.owned === undefined) return { ours: [...r.files], unrecorded: [], replaced: [] };
  const choice: FileChoice = { ours: [], unrecorded: [], replaced: [] };
  for (const file of r.files) {
    const owned = r.owned.find((o) => o.file === file);
    const now = await lstat(file).catch(() => undefined);
    if (now === undefined) continue; // gone: nothing to delete
    if (owned === undefined) choice.unrecorded.push(file);
    else if (now.dev !== owned.dev || now.ino !== owned.ino) choice.replaced.push({ file, owned, ino: now.ino });
    else choice.ours.push(file);
  }
  return choice;
}

/** Deletes the working files and checks they are gone; files already gone count as removed. */
async function removeFiles(files: readonly string[]): Promise<{ deleted: string[]; left: { file: string; why: string }[] }> {
  const deleted: string[] = [];
  const left: { file: string; why: string }[] = [];
  for (const file of files) {
    try {
      await unlink(file);
      deleted.push(file);
    } catch (error) {
      if ((error as { code?: string }).code !== 'ENOENT') {
        left.push({ file, why: messageOf(error) });
        continue;
      }
    }
    try {
      await lstat(file);
      if (!left.some((l) => l.file === file)) left.push({ file, why: 'still there after it was deleted' });
    } catch {
      // gone, as it should be
    }
  }
  return { deleted, left };
}

export const linuxDiskIoStress = defineInjector({
  kind: 'linux-disk-io-stress',
  summary: 'Load a filesystem with writes (O_DIRECT where it allows), at device speed or an exact rate',
  paramAliases: {
    FILESYSTEM_UTILIZATION_PERCENTAGE: 'fileSystemUtilisationPercentage',
    FILE_SYSTEM_UTILISATION_PERCENTAGE: 'fileSystemUtilisationPercentage',
    FILESYSTEM_UTILIZATION_BYTES: 'fileSystemUtilisationBytes',
    FILE_SYSTEM_UTILISATION_BYTES: 'fileSystemUtilisationBytes',
    WORKERS: 'workers',
    NUMBER_OF_WORKERS: 'workers',
    VOLUME_MOUNT_PATH: 'volumeMountPath',
    IO_RATE: 'ioRate',
    IOPS: 'iops',
    KEEP_FREE: 'keepFree',
  },
  paramsSchema: (ctx) =>
    paramsObject(params()).superRefine((v, c) => {
      if (v.fileSystemUtilisationPercentage !== undefined && v.fileSystemUtilisationBytes !== undefined) {
        c.addIssue({ code: 'custom', path: ['fileSystemUtilisationPercentage'], message: 'give at most one of fileSystemUtilisationPercentage (0.01–100) or fileSystemUtilisationBytes' });
      }
      if (v.ioRate !== undefined && v.iops !== undefined) {
        c.addIssue({ code: 'custom', path: ['iops'], message: 'give ioRate (bytes/s) or iops (writes/s), not both' });
      }
      const memory = ramFilesProblem(v.volumeMountPath, ioMemoryBytes(v), ctx);
      if (memory) c.addIssue({ code: 'custom', path: [sizeField(v)], message: memory });
    }),
  paramDocs: () => Object.values(params()).map((p) => p.doc),
  memoryBytes: (p) => ioMemoryBytes(p),
  exclusiveTargets: (p) => [filesystemKey(p.volumeMountPath)],
  revertSchema: DiskIoRevertSchema,
  plan(faultId, given, ctx) {
    const dir = realPath(given.volumeMountPath);
    if (forbidden(dir)) throw new FaultdError('FAULTD_ERR_INPUT_INVALID', `params.volumeMountPath: ${given.volumeMountPath} resolves to ${dir}, under ${FORBIDDEN_ROOTS.join(', ')}`);
    const problem = directoryProblem(dir);
    if (problem) throw new FaultdError('FAULTD_ERR_INPUT_INVALID', `params.volumeMountPath: must be an existing directory; ${dir} ${problem}`);
    const usage = filesystemUsage(dir);
    const percent = given.fileSystemUtilisationPercentage ?? 10;
    const total = given.fileSystemUtilisationBytes ?? Math.floor((percent / 100) * usage.availableBytes);
    const field = given.fileSystemUtilisationBytes === undefined ? `fileSystemUtilisationPercentage ${percent}` : `fileSystemUtilisationBytes ${formatBytes(total)}`;
    const perWorker = bytesPerWorker(total, given.workers);
    if (perWorker < ALIGN_BYTES) {
      throw new FaultdError('FAULTD_ERR_INPUT_INVALID', `params.${field}: ${formatBytes(total)} over ${given.workers} worker(s) is less than ${formatBytes(ALIGN_BYTES)} each (free on the filesystem of ${dir}: ${formatBytes(usage.availableBytes)})`);
    }
    const room = usage.availableBytes - given.keepFree;
    if (perWorker * given.workers > room) {
      throw new FaultdError(
        'FAULTD_ERR_INPUT_INVALID',
        `params.${field}: would leave less than keepFree ${formatBytes(given.keepFree)} free on the filesystem of ${dir} (${formatBytes(usage.availableBytes)} free); it can take ${room > 0 ? `at most ${formatBytes(room)}` : 'nothing'}`,
      );
    }
    // Checked at validation; MemAvailable and a percentage's bytes are read again now.
    const memory = ramFilesProblem(dir, perWorker * given.workers, ctx);
    if (memory) throw new FaultdError('FAULTD_ERR_INPUT_INVALID', `params.${sizeField(given)}: ${memory}; nothing was started`);
    const prefix = path.join(dir, `.faultd-io-${fnv1a32(faultId).toString(16).padStart(8, '0')}`);
    const files = Array.from({ length: given.workers }, (_, i) => `${prefix}-${i}`);
    // The revert deletes these names: one that exists now is not this fault's to delete.
    const existing = files.filter((f) => lstatSync(f, { throwIfNoEntry: false }) !== undefined);
    if (existing.length > 0) {
      throw new FaultdError('FAULTD_ERR_INPUT_INVALID', `params.volumeMountPath: ${existing.join(', ')} already exist(s) (a remnant of this fault id? \`faultd revert --remnants\` removes those); nothing was started`);
    }
    const mount = mountHolding(dir);
    const fs = mount ? describeMount(mount) : `the filesystem of ${dir}`;
    // faultd creates the files (below) and hands them to the stressor open: it never opens a name.
    const args = [`--workers=${given.workers}`, `--file-prefix=${prefix}`, `--file-bytes=${perWorker}`, '--files-open'];
    if (given.ioRate !== undefined) args.push(`--rate-bps=${given.ioRate}`);
    if (given.iops !== undefined) args.push(`--rate-iops=${given.iops}`);
    const rate = given.ioRate !== undefined ? `at ${formatBytes(given.ioRate)}/s` : given.iops !== undefined ? `at ${given.iops} writes/s of ${formatBytes(IOPS_BLOCK_BYTES)}` : 'at device speed';
    const target = `${fs}: ${given.workers} writer(s) ${rate}, ${formatBytes(perWorker)} file each`;
    const fds: number[] = [];
    const stressor = planStressor(faultId, 'io', args, target, ctx, (handle) => {
      let window: { bytes: number; calls: number; at: bigint } | undefined;
      let latest = 'measuring';
      return async () => {
        const writes = await processWrites(ctx.procRoot, handle.pid);
        const at = process.hrtime.bigint();
        if (writes === undefined) return 'stressor gone';
        if (!window) window = { ...writes, at };
        else if (at - window.at >= WINDOW_NS) {
          const seconds = Number(at - window.at) / 1e9;
          latest = `io ${formatBytes((writes.bytes - window.bytes) / seconds)}/s in ${((writes.calls - window.calls) / seconds).toFixed(1)} writes/s (last 1 s)`;
          window = { ...writes, at };
        }
        return latest;
      };
    }, () => fds);
    const extra = { files, dir: { path: dir, bootId: ctx.host.bootId, ...(mount ? { mount } : {}) } };
    const planned = withRevert(stressor, { ...extra, owned: [] as OwnedFile[] });
    return {
      ...planned,
      changes: [
        ...planned.changes,
        `create ${files.length <= 3 ? files.join(', ') : `${prefix}-0 … ${prefix}-${files.length - 1}`} (O_EXCL, each one's device and inode recorded; ${formatBytes(perWorker)} each, ${formatBytes(perWorker * given.workers)} of ${formatBytes(usage.availableBytes)} free; keepFree ${formatBytes(given.keepFree)}) on ${fs} and hand them to the stressor open, written with O_DIRECT where the filesystem allows it, else buffered + fdatasync`,
      ],
      revertSteps: [...planned.revertSteps, `delete ${files.join(', ')} where each still is the file faultd created (device and inode), and check they are gone`],
      async apply(recordApplied, signal) {
        const owned: OwnedFile[] = [];
        try {
          for (const file of files) {
            let fd: number;
            try {
              fd = openSync(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
            } catch (error) {
              // The name is taken (EEXIST; ELOOP for a link): not faultd's, so no revert deletes it.
              throw new FaultdError('FAULTD_ERR_FAULT_APPLY', `cannot create ${file}: ${messageOf(error)}; what is there is not faultd's and is left alone`, { cause: error });
            }
            fds.push(fd);
            const made = fstatSync(fd);
            owned.push({ file, dev: made.dev, ino: made.ino });
            // Before the next file and before any write: a crash from here on leaves it known as ours.
            await recordApplied({ ...planned.revert, owned: [...owned] });
          }
          return await stressor.apply((applied) => recordApplied({ ...applied, ...extra, owned: [...owned] }), signal);
        } finally {
          // The stressor has its own copies (or never started): faultd's are closed either way.
          for (const fd of fds.splice(0)) closeSync(fd);
        }
      },
    };
  },
  async revert(record: DiskIoRevert, ctx): Promise<RevertOutcome> {
    // The writer first: a file deleted under a running writer would keep its blocks.
    const stopped = await revertStressor(record, ctx);
    const recorded = record.dir?.mount;
    if (record.dir && recorded) {
      const leftover = `the working files ${record.files.join(', ')}`;
      if (recordedMountHolds(record.dir.path, recorded, record.dir.bootId, ctx.host.bootId, 'the working files', leftover) === 'emptied-by-reboot') {
        return { outcome: stopped.outcome, detail: `${stopped.detail}; the working files were on ${recorded.fstype}, which a reboot empties` };
      }
    }
    const choice = await chooseFiles(record);
    const { deleted, left } = await removeFiles(choice.ours);
    if (left.length > 0) {
      throw new RevertError(
        `working files of fault ${record.tag} could not be deleted: ${left.map((l) => `${l.file} (${l.why})`).join(', ')}`,
        left.map((l) => l.file).join(', '),
        `rm -f ${left.map((l) => l.file).join(' ')}`,
      );
    }
    if (choice.replaced.length > 0) {
      // faultd's file was moved away and another put in its place: that one is left alone.
      const dirPath = record.dir?.path ?? path.dirname(choice.replaced[0]?.file ?? '/');
      throw new RevertError(
        `${choice.replaced.map((r) => `${r.file} is not the working file faultd created (inode ${r.ino}, not ${r.owned.ino})`).join('; ')}: it was moved or replaced, so it is left untouched`,
        `faultd's working file(s) (inode ${choice.replaced.map((r) => r.owned.ino).join(', ')}) may still take space on the filesystem of ${dirPath}`,
        `${choice.replaced.map((r) => `find ${dirPath} -xdev -inum ${r.owned.ino} -delete`).join('; ')}  # then: faultd revert --remnants`,
      );
    }
    const notes = [
      deleted.length > 0 ? `deleted ${deleted.join(', ')}` : 'no working file was left',
      ...(choice.unrecorded.length > 0 ? [`left alone (no record that faultd created them): ${choice.unrecorded.join(', ')}`] : []),
    ].join('; ');
    if (stopped.outcome === 'already-absent' && deleted.length === 0) return { outcome: 'already-absent', detail: `${stopped.detail}; ${notes}` };
    return { outcome: 'reverted', detail: `${stopped.detail}; ${notes}` };
  },
  support(ctx) {
    const { ok, notes } = stressorSupportNotes(ctx);
    const home = homedir();
    const mount = mountHolding(realPath(home));
    return {
      supported: ok,
      notes: [
        `default volumeMountPath ${home}${mount ? ` on ${describeMount(mount)}` : ''}; O_DIRECT where the filesystem allows it, else buffered writes + fdatasync`,
        ...notes,
      ],
    };
  },
});
