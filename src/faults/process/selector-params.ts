// SPDX-License-Identifier: Apache-2.0
/**
 * The target params of the process faults: Harness's `processIDs`, `processCommand` and
 * `processNames` (the first given wins, in that order, as in Harness), and faultd's `exclude`,
 * `count` and `percentage`. Comma lists or YAML lists, as everywhere.
 */
import { constants } from 'node:os';

import { z } from 'zod';

import { listOf } from '../../units.js';
import { numberParam, optionalNumberParam, type Param } from '../params.js';
import type { ProcessSelector } from './targets.js';

/** PID_MAX_LIMIT on 64-bit kernels. */
const MAX_PID = 4_194_304;

const stringList = (error: string) => z.union([z.string(), z.array(z.union([z.string(), z.number()]))], { error }).transform((v) => listOf(typeof v === 'string' ? v : v.map(String)));

function pidList(): Param<number[] | undefined> {
  const error = `must be process ids, as "13453,32444" or a list, each in 1–${MAX_PID}`;
  const schema = z
    .union([z.string(), z.number(), z.array(z.union([z.string(), z.number()]))], { error })
    .optional()
    .transform((value, ctx) => {
      if (value === undefined) return undefined;
      const items = typeof value === 'number' ? [String(value)] : listOf(typeof value === 'string' ? value : value.map(String));
      const pids = items.map(Number);
      if (items.length === 0 || pids.some((pid, i) => !/^\d+$/.test(items[i] ?? '') || pid < 1 || pid > MAX_PID)) {
        ctx.addIssue({ code: 'custom', input: value, message: error });
        return z.NEVER;
      }
      return [...new Set(pids)];
    });
  return { schema, doc: { name: 'processIDs', type: 'pid list', default: undefined, bounds: `1–${MAX_PID} each`, description: 'comma-separated process ids; wins over processCommand and processNames' } };
}

export function selectorParams() {
  return {
    processIDs: pidList(),
    processCommand: {
      schema: z.string({ error: 'must be a non-empty part of a command line' }).min(1, { error: 'must be a non-empty part of a command line' }).optional(),
      doc: { name: 'processCommand', type: 'string', default: undefined, bounds: 'non-empty', description: 'a substring of the command line of the targets; wins over processNames' },
    } as Param<string | undefined>,
    processNames: {
      schema: stringList('must be process names, as "nginx,redis" or a list').optional(),
      doc: { name: 'processNames', type: 'name list', default: undefined, bounds: 'exact comm (15 characters)', description: 'comma-separated process names (exact `comm`)' },
    } as Param<string[] | undefined>,
    exclude: {
      schema: stringList('must be command-line substrings, as "--keep,worker-3" or a list').optional().transform((v) => v ?? []),
      doc: { name: 'exclude', type: 'string list', default: '-', bounds: '-', description: 'faultd extension: leave out processes whose command line contains any of these' },
    } as Param<string[]>,
    count: optionalNumberParam({ name: 'count', min: 1, max: MAX_PID, integer: true, fallback: 'all', description: 'faultd extension: at most this many of the matches (lowest pids first)' }),
    percentage: numberParam({ name: 'percentage', min: 1, max: 100, default: 100, unit: '%', description: 'faultd extension: this share of the matches, rounded up (lowest pids first)' }),
  };
}

/** The validated selector params (cgroup-limit takes them without count and percentage). */
export interface SelectorValues {
  readonly processIDs?: number[] | undefined;
  readonly processCommand?: string | undefined;
  readonly processNames?: string[] | undefined;
  readonly exclude: string[];
  readonly count?: number | undefined;
  readonly percentage?: number | undefined;
}

/** An issue when no selector is given, or count and percentage both are. */
export function checkSelector(v: Omit<SelectorValues, 'exclude'>, ctx: z.RefinementCtx): void {
  if (!v.processIDs?.length && v.processCommand === undefined && !v.processNames?.length) {
    ctx.addIssue({ code: 'custom', path: ['processNames'], message: 'give processIDs, processCommand or processNames (the first given wins, in that order)' });
  }
  if (v.count !== undefined && v.percentage !== undefined && v.percentage !== 100) ctx.addIssue({ code: 'custom', path: ['count'], message: 'give count or percentage, not both' });
}

export function toSelector(v: SelectorValues): ProcessSelector {
  return { processIDs: v.processIDs, processCommand: v.processCommand, processNames: v.processNames, exclude: v.exclude, count: v.count, percentage: v.percentage === 100 ? undefined : v.percentage };
}

/** A signal by name (`SIGTERM`, `TERM`, `term`) or number; its canonical name. */
export function signalName(value: string | number): string | undefined {
  const table = constants.signals as Readonly<Record<string, number>>;
  if (typeof value === 'number' || /^\d+$/.test(value)) return Object.keys(table).find((name) => table[name] === Number(value));
  const upper = value.trim().toUpperCase();
  const name = upper.startsWith('SIG') ? upper : `SIG${upper}`;
  return name in table ? name : undefined;
}

export function signalNumber(name: string): number {
  const number = (constants.signals as Readonly<Record<string, number>>)[name];
  if (number === undefined) throw new Error(`unknown signal ${name}`);
  return number;
}
