// SPDX-License-Identifier: Apache-2.0
/**
 * linux-cgroup-limit (a faultd extension; none of the peers has it): sets `cpu` (cores),
 * `memory` (bytes) and `pids` limits on the cgroup of a systemd unit (`unit`) or on the cgroups
 * of target processes (the selectors of linux-process-kill). The previous value of every file
 * is in the ledger's intent before the first write; the revert writes each back and reads it
 * to check, also after a `kill -9` (`revert --remnants`). Never the root cgroup, nor one that
 * holds faultd itself. cgroup v1, hybrid and v2 (host/cgroup-limits.ts).
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import { z } from 'zod';

import { FaultdError, messageOf } from '../errors.js';
import { parseProcCgroup, type CgroupLayout } from '../host/cgroup.js';
import { controllerHome, limitWrite, readLimit, type LimitKind } from '../host/cgroup-limits.js';
import { formatBytes, parseByteAmount } from '../units.js';
import { optionalNumberParam, optionalParsedParam, paramsObject, type Param } from './params.js';
import { selectorParams, toSelector, type SelectorValues } from './process/selector-params.js';
import { describeSelector, listProcesses, noTargetMessage, selectProcesses } from './process/targets.js';
import { defineInjector, RevertError, type ActiveFault, type FaultContext } from './types.js';

/** A unit name; systemd escapes other characters as `\\xNN`, hence the backslash. */
const UNIT_NAME = /^[A-Za-z0-9:_.@\\-]+\.(service|scope|slice)$/;

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
      name: 'memory', type: 'size', default: 'unchanged', min: 4096, max: 2 ** 50, bounds: '4Ki–1 PiB', parse: (v) => {
        const amount = parseByteAmount(v);
        return amount && 'bytes' in amount ? amount.bytes : undefined;
      },
      formatHint: 'a size like "256Mi" or bytes', description: 'memory limit (the kernel reclaims, then OOM-kills in the group, as with a real limit)',
    }),
    pids: optionalNumberParam({ name: 'pids', min: 1, max: 4_194_304, integer: true, fallback: 'unchanged', description: 'most tasks (processes and threads) in the group' }),
  };
}

const FileChange = z.object({ kind: z.enum(['cpu', 'memory', 'pids']), file: z.string(), previous: z.string(), value: z.string(), expected: z.string() });
const CgroupLimitRevertSchema = z.object({ changes: z.array(FileChange) });
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
    if (![...paths.values()].some((p) => p.split('/').includes(unit))) continue;
    const unitPaths = trimToUnit(paths, unit);
    found.set([...unitPaths.entries()].join(';'), unitPaths);
  }
  return [...found.values()];
}

/** A unit's processes may sit in sub-cgroups of it: the unit's own cgroup is limited. */
function trimToUnit(paths: ReadonlyMap<string, string>, unit: string): Map<string, string> {
  return new Map([...paths].map(([controller, p]) => {
    const parts = p.split('/');
    const at = parts.indexOf(unit);
    return [controller, at < 0 ? p : parts.slice(0, at + 1).join('/')];
  }));
}

/** The writes of the plan, one per (cgroup, limit); refuses the root cgroup and faultd's own. */
function plannedChanges(limits: readonly [LimitKind, number][], cgroups: readonly Map<string, string>[], layout: CgroupLayout): FileChange[] {
  const byFile = new Map<string, FileChange>();
  for (const cgroup of cgroups) {
    for (const [kind, amount] of limits) {
      const home = controllerHome(layout, kind, cgroup);
      if (!home) throw new FaultdError('FAULTD_ERR_FAULT_UNSUPPORTED', `${kind}: no ${kind} controller for the target's cgroup on this host (cgroup mode ${layout.mode})`);
      const ours = controllerHome(layout, kind, layout.ownPaths);
      const relative = path.relative(home.dir, ours?.dir ?? '/nonexistent');
      if (cgroup.get(home.version === 1 ? kind : '') === '/') throw new FaultdError('FAULTD_ERR_INPUT_INVALID', `${kind}: the target is in the root cgroup, which has no limits to set`);
      if (ours && !relative.startsWith('..') && !path.isAbsolute(relative)) throw new FaultdError('FAULTD_ERR_INPUT_INVALID', `${kind}: the target's cgroup ${home.dir} holds faultd itself; limiting it would limit faultd's own revert`);
      const write = limitWrite(kind, amount, home.version, home.dir);
      if (!byFile.has(write.file)) byFile.set(write.file, { ...write, previous: readLimit(write.file) });
    }
  }
  return [...byFile.values()];
}

function describeAmount(kind: LimitKind, amount: number): string {
  return kind === 'cpu' ? `${amount} cores` : kind === 'memory' ? formatBytes(amount) : `${amount} tasks`;
}

function writeLimit(file: string, value: string): void {
  writeFileSync(file, `${value}\n`);
}

export const linuxCgroupLimit = defineInjector({
  kind: 'linux-cgroup-limit',
  summary: "Set CPU, memory and pids limits on a unit's or processes' cgroups; the previous values come back exactly",
  paramsSchema: () =>
    paramsObject(params()).superRefine((v, c) => {
      const selectors = Boolean(v.processIDs?.length) || v.processCommand !== undefined || Boolean(v.processNames?.length);
      if (Boolean(v.unit) === selectors) c.addIssue({ code: 'custom', path: ['unit'], message: 'give unit, or one of processIDs, processCommand, processNames (not both)' });
      if (v.cpu === undefined && v.memory === undefined && v.pids === undefined) c.addIssue({ code: 'custom', path: ['cpu'], message: 'give at least one limit: cpu, memory or pids' });
    }),
  paramDocs: () => Object.values(params()).map((p) => p.doc),
  revertSchema: CgroupLimitRevertSchema,
  plan(_faultId, p, ctx) {
    const limits: [LimitKind, number][] = [];
    if (p.cpu !== undefined) limits.push(['cpu', p.cpu]);
    if (p.memory !== undefined) limits.push(['memory', p.memory]);
    if (p.pids !== undefined) limits.push(['pids', p.pids]);
    const { what, cgroups } = targetCgroups(p, ctx);
    const changes = plannedChanges(limits, cgroups, ctx.cgroups);
    return {
      target: what,
      changes: changes.map((c) => `write ${c.value} to ${c.file} (now ${c.previous}): ${c.kind} ${describeAmount(c.kind, limits.find(([k]) => k === c.kind)?.[1] ?? 0)}`),
      revertSteps: changes.map((c) => `write ${c.previous} back to ${c.file} and read it back`),
      revert: { changes },
      async apply(recordApplied): Promise<ActiveFault> {
        await recordApplied({ changes });
        for (const change of changes) {
          try {
            writeLimit(change.file, change.value);
          } catch (error) {
            throw new FaultdError('FAULTD_ERR_FAULT_APPLY', `cannot write ${change.value} to ${change.file}: ${messageOf(error)}`, { cause: error });
          }
          const now = readLimit(change.file);
          if (now !== change.expected) throw new FaultdError('FAULTD_ERR_FAULT_APPLY', `${change.file} reads ${now} after writing ${change.value} (expected ${change.expected})`);
        }
        ctx.logger.info({ changes: changes.map((c) => ({ file: c.file, value: c.value, previous: c.previous })) }, 'cgroup limits set');
        return { measure: () => changes.map((c) => `${path.basename(c.file)}=${existsSync(c.file) ? readLimit(c.file) : 'gone'}`).join(' '), ended: new Promise<string>(() => undefined) };
      },
    };
  },
  revert(r) {
    const restored: string[] = [];
    const gone: string[] = [];
    // In reverse order: the last write is undone first.
    for (const change of [...r.changes].reverse()) {
      if (!existsSync(change.file)) {
        gone.push(change.file);
        continue;
      }
      try {
        writeLimit(change.file, change.previous);
      } catch (error) {
        throw new RevertError(`cannot write ${change.previous} back to ${change.file}: ${messageOf(error)}`, `${change.file} holds a limit faultd set`, `echo ${change.previous} > ${change.file}`, { cause: error });
      }
      const now = readLimit(change.file);
      if (now !== change.previous) throw new RevertError(`${change.file} reads ${now} after writing ${change.previous} back`, `${change.file} holds ${now}, not ${change.previous}`, `echo ${change.previous} > ${change.file}`);
      restored.push(`${change.file}=${change.previous}`);
    }
    if (!restored.length) return Promise.resolve({ outcome: 'already-absent', detail: `the cgroup(s) are gone: ${gone.join(', ')}` });
    return Promise.resolve({ outcome: 'reverted', detail: `restored ${restored.join(', ')}${gone.length ? `; gone: ${gone.join(', ')}` : ''}` });
  },
  support: (ctx) => ({ supported: ctx.cgroups.mode !== 'none', notes: [`cgroup mode ${ctx.cgroups.mode}: cpu, memory and pids limits where their controller is mounted`] }),
});
