// SPDX-License-Identifier: Apache-2.0
/**
 * linux-cgroup-limit (a faultd extension; none of the peers has it): sets `cpu` (cores),
 * `memory` (bytes), `pids` and per-device `io` limits (`ioDevice` with `ioReadBps`,
 * `ioWriteBps`, `ioReadIops`, `ioWriteIops`) on the cgroup of a systemd unit (`unit`) or on the
 * cgroups of target processes (the selectors of linux-process-kill). The previous value of every
 * file (for io: the device's rule) is in the ledger's intent before the first write; the revert
 * writes each back and reads it to check, also after a `kill -9` (`revert --remnants`). Never
 * the root cgroup, nor one that holds faultd itself. cgroup v1, hybrid and v2
 * (host/cgroup-limits.ts, host/cgroup-io-limits.ts).
 */
import { existsSync, readdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import { z } from 'zod';

import { FaultdError, messageOf } from '../errors.js';
import { parseProcCgroup, type CgroupLayout } from '../host/cgroup.js';
import { wholeDiskOf } from '../host/block-device.js';
import { IO_LIMITS, ioLimitWrites, readDeviceRule, type IoLimitName, type IoLimits } from '../host/cgroup-io-limits.js';
import { cgroupPathKey, controllerHome, LimitOutOfRange, limitWrite, readLimit, type LimitKind } from '../host/cgroup-limits.js';
import { formatBytes, parseByteAmount } from '../units.js';
import { optionalNumberParam, optionalParsedParam, paramsObject, type Param } from './params.js';
import { selectorParams, toSelector, type SelectorValues } from './process/selector-params.js';
import { describeSelector, listProcesses, noTargetMessage, selectProcesses } from './process/targets.js';
import { defineInjector, RevertError, type ActiveFault, type FaultContext } from './types.js';

/** A unit name; systemd escapes other characters as `\\xNN`, hence the backslash. */
const UNIT_NAME = /^[A-Za-z0-9:_.@\\-]+\.(service|scope|slice)$/;

/** A size in bytes (`"256Mi"`, a number); a percentage is no size here. */
function bytesOf(v: string | number): number | undefined {
  const amount = parseByteAmount(v);
  return amount && 'bytes' in amount ? amount.bytes : undefined;
}

function params() {
  const selectors = selectorParams();
  return {
    unit: {
      schema: z.string({ error: 'must be a systemd unit name, as "nginx.service"' }).regex(UNIT_NAME, { error: 'must be a systemd unit name ending in .service, .scope or .slice' }).optional(),
      doc: { name: 'unit', type: 'unit', default: undefined, bounds: 'a .service, .scope or .slice', description: "the unit whose cgroup is limited (or give the process selectors)" },
    } as Param<string | undefined>,
    processIDs: selectors.processIDs,
    processCommand: selectors.processCommand,
    processNames: selectors.processNames,
    exclude: selectors.exclude,
    cpu: optionalNumberParam({ name: 'cpu', min: 0.01, max: 1024, unit: 'cores', fallback: 'unchanged', description: 'CPU quota in cores (0.5 = half of one CPU)' }),
    memory: optionalParsedParam({
      name: 'memory', type: 'size', default: 'unchanged', min: 4096, max: 2 ** 50, bounds: '4Ki–1 PiB', parse: bytesOf,
      formatHint: 'a size like "256Mi" or bytes', description: 'memory limit (the kernel reclaims, then OOM-kills in the group, as with a real limit)',
    }),
    pids: optionalNumberParam({ name: 'pids', min: 1, max: 4_194_304, integer: true, fallback: 'unchanged', description: 'most tasks (processes and threads) in the group' }),
    ioDevice: {
      // Resolved here, as volumeMountPath is, so a device that is not there is bad input (exit 2).
      schema: z.string({ error: 'must be a block device path like "/dev/sdb" or MAJ:MIN like "8:16"' })
        .regex(/^(\/\S+|\d+:\d+)$/, { error: 'must be a block device path like "/dev/sdb" or MAJ:MIN like "8:16"' })
        .transform((spec, c) => {
          const resolved = wholeDiskOf(spec);
          if ('device' in resolved) return resolved.device;
          c.addIssue({ code: 'custom', message: `must be a block device node or MAJ:MIN; ${resolved.problem}` });
          return z.NEVER;
        })
        .optional(),
      doc: { name: 'ioDevice', type: 'block device', default: undefined, bounds: 'a block device node or MAJ:MIN (a partition means its disk)', description: 'the device the io limits apply to (needed by ioReadBps, ioWriteBps, ioReadIops, ioWriteIops)' },
    } as Param<string | undefined>,
    ioReadBps: ioBpsParam('ioReadBps', 'read'),
    ioWriteBps: ioBpsParam('ioWriteBps', 'write'),
    ioReadIops: ioIopsParam('ioReadIops', 'read'),
    ioWriteIops: ioIopsParam('ioWriteIops', 'write'),
  };
}

/** A throttle's smallest and largest bytes/s: one 4 KiB block a second, and 1 TiB/s. */
const MIN_IO_BPS = 4096;
const MAX_IO_BPS = 2 ** 40;
/** iops: io.max refuses 0 and 1 (the kernel's tg_set_limit takes `val > 1`); v1's rule is an unsigned int, and a million covers any device there is. */
const MIN_IO_IOPS = 2;
const MAX_IO_IOPS = 1_000_000;

function ioBpsParam(name: string, what: string): Param<number | undefined> {
  return optionalParsedParam({
    name, type: 'size/s', default: 'unchanged', min: MIN_IO_BPS, max: MAX_IO_BPS, bounds: '4Ki–1Ti bytes/s', parse: bytesOf,
    formatHint: 'bytes per second like "4Mi" or a number', description: `${what} bytes per second on ioDevice (v1 blkio.throttle.${what}_bps_device, v2 io.max ${what[0] ?? ''}bps)`,
  });
}

function ioIopsParam(name: string, what: string): Param<number | undefined> {
  return optionalNumberParam({ name, min: MIN_IO_IOPS, max: MAX_IO_IOPS, integer: true, unit: 'ops/s', fallback: 'unchanged', description: `${what} operations per second on ioDevice (v1 blkio.throttle.${what}_iops_device, v2 io.max ${what[0] ?? ''}iops)` });
}

const IO_PARAMS: Record<IoLimitName, 'ioReadBps' | 'ioWriteBps' | 'ioReadIops' | 'ioWriteIops'> = { readBps: 'ioReadBps', writeBps: 'ioWriteBps', readIops: 'ioReadIops', writeIops: 'ioWriteIops' };

/**
 * One write of the plan. With `device` (io), `previous` and `expected` are that device's rule
 * in the file ('' for none) and `restore` is the text that brings `previous` back; without it
 * they are the whole file's text.
 */
const FileChange = z.object({
  kind: z.enum(['cpu', 'memory', 'pids', 'io']), file: z.string(), previous: z.string(), value: z.string(), expected: z.string(),
  device: z.string().optional(), restore: z.string().optional(),
});
const CgroupLimitRevertSchema = z.object({
  changes: z.array(FileChange),
  /** The boot the limits were written in (absent in records of faultd before 2026-12-06). */
  bootId: z.string().optional(),
});
type FileChange = z.infer<typeof FileChange>;

/** The cgroup path map (controller → path) of each target: the unit's, or the processes'. */
function targetCgroups(p: { unit?: string | undefined } & SelectorValues, ctx: FaultContext): { what: string; cgroups: Map<string, string>[] } {
  if (p.unit) {
    const cgroups = unitCgroups(p.unit, ctx);
    if (!cgroups.length) throw new FaultdError('FAULTD_ERR_FAULT_APPLY', `unit "${p.unit}": no process of this host is in its cgroup (is it running?)`);
    return { what: `unit ${p.unit}`, cgroups };
  }
  const selector = toSelector(p);
  const selection = selectProcesses(listProcesses(ctx.procRoot), selector, process.pid);
  if (!selection.targets.length) throw new FaultdError('FAULTD_ERR_FAULT_APPLY', noTargetMessage(selector, selection));
  const cgroups = selection.targets.map((t) => parseProcCgroup(readFileSync(path.join(ctx.procRoot, String(t.pid), 'cgroup'), 'utf8')));
  return { what: describeSelector(selector), cgroups };
}

/** The cgroups of the processes whose cgroup path ends with the unit's name. */
export function unitCgroups(unit: string, ctx: Pick<FaultContext, 'procRoot'>): Map<string, string>[] {
  const found = new Map<string, Map<string, string>>();
  // Only each process's cgroup file is needed (not its stat or command line).
  for (const pid of readdirSync(ctx.procRoot).filter((name) => /^\d+$/.test(name))) {
    let text: string;
    try {
      text = readFileSync(path.join(ctx.procRoot, pid, 'cgroup'), 'utf8');
    } catch {
      continue;
    }
    const paths = parseProcCgroup(text);
    if (![...paths.values()].some((p) => unitIndex(p, unit) >= 0)) continue;
    const unitPaths = trimToUnit(paths, unit);
    found.set([...unitPaths.entries()].join(';'), unitPaths);
  }
  return [...found.values()];
}

/**
 * Where `unit` stands in a cgroup path of the system manager's tree, or -1: a user manager's unit
 * of the same name (`/user.slice/user-1000.slice/user@1000.service/…/dbus.service`) is another unit.
 */
function unitIndex(cgroupPath: string, unit: string): number {
  const parts = cgroupPath.split('/');
  const at = parts.indexOf(unit);
  return at >= 0 && !parts.slice(0, at).some((part) => /^user@\d+\.service$/.test(part)) ? at : -1;
}

/**
 * A unit's processes may sit in sub-cgroups of it: the unit's own cgroup is limited. A controller
 * in which the unit has no cgroup of its own (v1, without that accounting: its processes sit in
 * the parent slice) is left out, so its limit is refused rather than put on the whole slice.
 */
function trimToUnit(paths: ReadonlyMap<string, string>, unit: string): Map<string, string> {
  const own = new Map<string, string>();
  for (const [controller, cgroupPath] of paths) {
    const at = unitIndex(cgroupPath, unit);
    if (at >= 0) own.set(controller, cgroupPath.split('/').slice(0, at + 1).join('/'));
  }
  return own;
}

/** The limits asked for: cpu, memory and pids amounts, and the io rules of one device. */
interface Limits {
  readonly scalar: readonly [Exclude<LimitKind, 'io'>, number][];
  readonly io?: { readonly device: string; readonly limits: IoLimits };
}

/** The systemd setting that gives a unit a cgroup of its own in each controller. */
const ACCOUNTING: Record<LimitKind, string> = { cpu: 'CPUAccounting', memory: 'MemoryAccounting', pids: 'TasksAccounting', io: 'IOAccounting' };

/** The cgroup directory holding `kind` for `cgroup`; refuses the root cgroup and faultd's own. */
function limitHome(kind: LimitKind, field: string, cgroup: ReadonlyMap<string, string>, layout: CgroupLayout, unit: string | undefined): { version: 1 | 2; dir: string } {
  const home = controllerHome(layout, kind, cgroup);
  const controller = kind === 'io' ? 'blkio (v1) or io (v2)' : kind;
  if (!home && unit !== undefined) {
    throw new FaultdError('FAULTD_ERR_FAULT_UNSUPPORTED', `${field}: unit ${unit} has no ${controller} cgroup of its own on this host (cgroup mode ${layout.mode}); its processes sit in a parent cgroup that faultd will not limit. Turn the unit's accounting on (${ACCOUNTING[kind]}=yes) or give the processes instead`);
  }
  if (!home) throw new FaultdError('FAULTD_ERR_FAULT_UNSUPPORTED', `${field}: no ${controller} controller for the target's cgroup on this host (cgroup mode ${layout.mode})`);
  const ours = controllerHome(layout, kind, layout.ownPaths);
  const relative = path.relative(home.dir, ours?.dir ?? '/nonexistent');
  if (cgroup.get(cgroupPathKey(kind, home.version)) === '/') throw new FaultdError('FAULTD_ERR_INPUT_INVALID', `${field}: the target is in the root cgroup, which has no limits to set`);
  if (ours && !relative.startsWith('..') && !path.isAbsolute(relative)) throw new FaultdError('FAULTD_ERR_INPUT_INVALID', `${field}: the target's cgroup ${home.dir} holds faultd itself; limiting it would limit faultd's own revert`);
  return home;
}

/** The writes of the plan, one per (cgroup, file, device), each with the value it replaces. */
function plannedChanges(limits: Limits, cgroups: readonly Map<string, string>[], layout: CgroupLayout, unit: string | undefined, pageBytes: number): FileChange[] {
  const byTarget = new Map<string, FileChange>();
  const add = (change: FileChange) => {
    const key = `${change.file}\0${change.device ?? ''}`;
    if (!byTarget.has(key)) byTarget.set(key, change);
  };
  for (const cgroup of cgroups) {
    for (const [kind, amount] of limits.scalar) {
      const home = limitHome(kind, kind, cgroup, layout, unit);
      let write;
      try {
        write = limitWrite(kind, amount, home.version, home.dir, pageBytes);
      } catch (error) {
        if (error instanceof LimitOutOfRange) throw new FaultdError('FAULTD_ERR_INPUT_INVALID', `params.${error.field}: ${error.message}; nothing was written`, { cause: error });
        throw error;
      }
      add({ ...write, previous: readLimit(write.file) });
    }
    if (limits.io) {
      const field = IO_PARAMS[IO_LIMITS.find((name) => limits.io?.limits[name] !== undefined) ?? 'writeBps'];
      const home = limitHome('io', field, cgroup, layout, unit);
      for (const write of ioLimitWrites(limits.io.limits, limits.io.device, home.version, home.dir)) add(write);
    }
  }
  return [...byTarget.values()];
}

/** What a change sets, for the plan. */
function describeChange(c: FileChange, limits: Limits): string {
  if (c.kind === 'io') return `io of ${describeDevice(c.device ?? '')}`;
  const amount = limits.scalar.find(([k]) => k === c.kind)?.[1] ?? 0;
  return `${c.kind} ${c.kind === 'cpu' ? `${amount} cores` : c.kind === 'memory' ? formatBytes(amount) : `${amount} tasks`}`;
}

/** The limits of the params (`ioDevice` is already its whole disk's MAJ:MIN). */
function limitsOf(p: { cpu?: number | undefined; memory?: number | undefined; pids?: number | undefined; ioDevice?: string | undefined } & Partial<Record<(typeof IO_PARAMS)[IoLimitName], number | undefined>>): Limits {
  const scalar: [Exclude<LimitKind, 'io'>, number][] = [];
  if (p.cpu !== undefined) scalar.push(['cpu', p.cpu]);
  if (p.memory !== undefined) scalar.push(['memory', p.memory]);
  if (p.pids !== undefined) scalar.push(['pids', p.pids]);
  if (p.ioDevice === undefined) return { scalar };
  const io: IoLimits = {};
  for (const name of IO_LIMITS) {
    const amount = p[IO_PARAMS[name]];
    if (amount !== undefined) io[name] = amount;
  }
  return { scalar, io: { device: p.ioDevice, limits: io } };
}

/** `7:0 (loop0)`: the device number and its kernel name. */
function describeDevice(device: string): string {
  try {
    return `${device} (${path.basename(realpathSync(path.join('/sys/dev/block', device)))})`;
  } catch {
    return device;
  }
}

const describeRestored = (c: FileChange): string => (c.device === undefined ? `${c.file}=${c.previous}` : `${c.file}[${c.device}]=${c.previous || 'no rule'}`);

/** A change's value now: the device's rule for io, else the file's text. */
const readChange = (c: FileChange): string => (c.device === undefined ? readLimit(c.file) : readDeviceRule(c.file, c.device));

/** Where the io limits go on this host, for `faultd doctor`. */
function ioHome(layout: CgroupLayout): string {
  const v1 = layout.mounts.get('blkio');
  if (v1) return `v1 blkio.throttle.*_device under ${v1}`;
  const unified = layout.mounts.get('unified');
  if (!unified) return 'no blkio or io controller';
  let controllers = '';
  try {
    controllers = readFileSync(path.join(unified, 'cgroup.subtree_control'), 'utf8');
  } catch {
    // no unified hierarchy to read
  }
  return controllers.split(/\s+/).includes('io') ? `v2 io.max under ${unified}` : `the io controller is not enabled under ${unified}`;
}

function writeLimit(file: string, value: string): void {
  writeFileSync(file, `${value}\n`);
}

const errorCode = (error: unknown): string | undefined => (error as { code?: string }).code;

export const linuxCgroupLimit = defineInjector({
  kind: 'linux-cgroup-limit',
  summary: "Set CPU, memory, pids and per-device I/O limits on a unit's or processes' cgroups; the previous values come back exactly",
  paramsSchema: () =>
    paramsObject(params()).superRefine((v, c) => {
      const selectors = Boolean(v.processIDs?.length) || v.processCommand !== undefined || Boolean(v.processNames?.length);
      if (Boolean(v.unit) === selectors) c.addIssue({ code: 'custom', path: ['unit'], message: 'give unit, or one of processIDs, processCommand, processNames (not both)' });
      const io = IO_LIMITS.filter((name) => v[IO_PARAMS[name]] !== undefined);
      if (v.cpu === undefined && v.memory === undefined && v.pids === undefined && !io.length && v.ioDevice === undefined) {
        c.addIssue({ code: 'custom', path: ['cpu'], message: 'give at least one limit: cpu, memory, pids, or ioDevice with ioReadBps, ioWriteBps, ioReadIops or ioWriteIops' });
      }
      if (io.length && v.ioDevice === undefined) c.addIssue({ code: 'custom', path: ['ioDevice'], message: `${io.map((name) => IO_PARAMS[name]).join(', ')} need(s) ioDevice: the block device to limit, as "/dev/sdb" or "8:16"` });
      if (!io.length && v.ioDevice !== undefined) c.addIssue({ code: 'custom', path: ['ioDevice'], message: 'give at least one of ioReadBps, ioWriteBps, ioReadIops, ioWriteIops with it' });
    }),
  paramDocs: () => Object.values(params()).map((p) => p.doc),
  revertSchema: CgroupLimitRevertSchema,
  // Two limits on one cgroup in a step: the later one would record the earlier one's value as
  // "previous" and put it back at its revert. A unit fault and a process fault can meet in one cgroup.
  exclusiveTargets: () => ['cgroup limits'],
  plan(_faultId, p, ctx) {
    const limits = limitsOf(p);
    const { what, cgroups } = targetCgroups(p, ctx);
    const changes = plannedChanges(limits, cgroups, ctx.cgroups, p.unit, ctx.native.pageSize());
    return {
      target: what,
      changes: changes.map((c) => `write "${c.value}" to ${c.file} (now ${c.previous || 'no rule'}): ${describeChange(c, limits)}`),
      revertSteps: changes.map((c) => `write "${c.restore ?? c.previous}" back to ${c.file} and read it back`),
      revert: { changes, bootId: ctx.host.bootId },
      async apply(recordApplied): Promise<ActiveFault> {
        await recordApplied({ changes, bootId: ctx.host.bootId });
        for (const change of changes) {
          try {
            writeLimit(change.file, change.value);
          } catch (error) {
            throw new FaultdError('FAULTD_ERR_FAULT_APPLY', `cannot write ${change.value} to ${change.file}: ${messageOf(error)}`, { cause: error });
          }
          const now = readChange(change);
          if (now !== change.expected) throw new FaultdError('FAULTD_ERR_FAULT_APPLY', `${change.file} reads "${now}" after writing "${change.value}" (expected "${change.expected}")`);
        }
        ctx.logger.info({ changes: changes.map((c) => ({ file: c.file, value: c.value, previous: c.previous })) }, 'cgroup limits set');
        return {
          measure: () => changes.map((c) => `${path.basename(c.file)}${c.device === undefined ? '' : `[${c.device}]`}=${existsSync(c.file) ? readChange(c) : 'gone'}`).join(' '),
          ended: new Promise<string>(() => undefined),
        };
      },
    };
  },
  revert(r, ctx) {
    // cgroupfs starts empty at every boot: limits written in an earlier boot died with it, and
    // the cgroups of this boot (a unit's, made anew by systemd with its own settings) are not ours.
    if (r.bootId !== undefined && r.bootId !== ctx.host.bootId) {
      return Promise.resolve({ outcome: 'already-absent', detail: `the limits were written in boot ${r.bootId} and died with it; this boot's cgroups were left as they are` });
    }
    const restored: string[] = [];
    const gone: string[] = [];
    const changedSince: string[] = [];
    // In reverse order: the last write is undone first.
    for (const change of [...r.changes].reverse()) {
      if (!existsSync(change.file)) {
        gone.push(change.file);
        continue;
      }
      const restore = change.restore ?? change.previous;
      const fix = `echo "${restore}" > ${change.file}`;
      const before = readChange(change);
      if (before === change.previous) {
        // Back already (an earlier revert, or whoever changed it chose the old value).
        restored.push(describeRestored(change));
        continue;
      }
      if (before !== change.expected) {
        // Changed since faultd wrote it (an operator, systemd after a daemon-reload): not ours to overwrite.
        changedSince.push(`${change.file}${change.device === undefined ? '' : `[${change.device}]`} reads "${before}", not the "${change.expected}" faultd set`);
        continue;
      }
      try {
        writeLimit(change.file, restore);
      } catch (error) {
        // The kernel drops a device's rules with the device: a device that is gone holds no limit of ours.
        if (change.device !== undefined && errorCode(error) === 'ENODEV' && readChange(change) === '') {
          gone.push(`${change.file} (device ${change.device} gone)`);
          continue;
        }
        throw new RevertError(`cannot write "${restore}" back to ${change.file}: ${messageOf(error)}`, `${change.file} holds a limit faultd set`, fix, { cause: error });
      }
      const now = readChange(change);
      if (now !== change.previous) throw new RevertError(`${change.file} reads "${now}" after writing "${restore}" back`, `${change.file} holds "${now}", not "${change.previous}"`, fix);
      restored.push(describeRestored(change));
    }
    const notes = [...(gone.length ? [`gone: ${gone.join(', ')}`] : []), ...(changedSince.length ? [`changed since by someone else, left as it is: ${changedSince.join('; ')}`] : [])];
    if (!restored.length) return Promise.resolve({ outcome: 'already-absent', detail: notes.join('; ') });
    return Promise.resolve({ outcome: 'reverted', detail: [`restored ${restored.join(', ')}`, ...notes].join('; ') });
  },
  support: (ctx) => ({
    supported: ctx.cgroups.mode !== 'none',
    notes: [`cgroup mode ${ctx.cgroups.mode}: cpu, memory, pids and io limits where their controller is mounted (io: ${ioHome(ctx.cgroups)})`],
  }),
});
