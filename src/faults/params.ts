// SPDX-License-Identifier: Apache-2.0
/**
 * Building blocks for fault parameter schemas that accept both faultd's typed forms and the
 * Harness forms (numbers as strings, comma lists, h/m/s durations). Each builder returns the
 * zod schema and the ParamDoc row that `faultd faults` prints, so the listing and the validation
 * can never disagree.
 */
import { z } from 'zod';

import { parseCpuList } from '../host/facts.js';
import { formatDurationMs, listOf, parseDurationMs } from '../units.js';
import type { ParamDoc } from './types.js';

export interface Param<T> {
  readonly schema: z.ZodType<T>;
  readonly doc: ParamDoc;
}

/**
 * Accepts a number or a numeric string (Harness passes tunables as strings); anything else,
 * including `.nan`, `.inf` and `1e400`, is refused with `error` (which names the range).
 */
function numeric(error: string): z.ZodType<number> {
  return z.preprocess(
    (v) => (typeof v === 'string' && /^\s*-?\d+(\.\d+)?\s*$/.test(v) ? Number(v) : v),
    z.number({ error }),
  );
}

interface NumberParamOptions {
  name: string;
  min: number;
  max: number;
  integer?: boolean;
  unit?: string;
  maxWhy?: string;
  description: string;
}

/** The bounded number of numberParam and optionalNumberParam, and its range text. */
function boundedNumber(o: NumberParamOptions): { schema: z.ZodType<number>; range: string } {
  const range = `${o.min}–${o.max}${o.maxWhy ? ` (${o.maxWhy})` : ''}`;
  const schema = numeric(`must be a number in ${range}`).pipe(
    (o.integer ? z.number().int({ error: `must be a whole number in ${range}` }) : z.number())
      .min(o.min, { error: `must be in ${range}` })
      .max(o.max, { error: `must be in ${range}` }),
  );
  return { schema, range };
}

export function numberParam(o: NumberParamOptions & { default: number }): Param<number> {
  const { schema, range } = boundedNumber(o);
  return {
    schema: schema.optional().transform((v) => v ?? o.default),
    doc: {
      name: o.name,
      type: o.integer ? 'integer' : 'number',
      default: `${o.default}${o.unit ?? ''}`,
      bounds: `${range}${o.unit ? ` ${o.unit}` : ''}`,
      description: o.description,
    },
  };
}

/** Like numberParam, but absent stays undefined (`fallback` only documents what that means). */
export function optionalNumberParam(o: NumberParamOptions & { fallback: string }): Param<number | undefined> {
  const { schema, range } = boundedNumber(o);
  return {
    schema: schema.optional(),
    doc: { name: o.name, type: o.integer ? 'integer' : 'number', default: o.fallback, bounds: `${range}${o.unit ? ` ${o.unit}` : ''}`, description: o.description },
  };
}

export function booleanParam(o: { name: string; default: boolean; description: string }): Param<boolean> {
  const schema = z.preprocess(
    (v) => (v === 'true' ? true : v === 'false' ? false : v),
    z.boolean({ error: 'must be true or false' }),
  );
  return {
    schema: schema.optional().transform((v) => v ?? o.default),
    doc: { name: o.name, type: 'boolean', default: String(o.default), bounds: 'true | false', description: o.description },
  };
}

/** A CPU list: YAML list of ids, or the kernel's `0-3,8` text. Every id must be online. */
export function cpuListParam(o: { name: string; online: readonly number[]; description: string }): Param<number[] | undefined> {
  const onlineText = `usable: ${o.online.join(',')}`;
  const schema = z
    .union([z.array(z.number().int().nonnegative()), z.string(), z.number().int().nonnegative()], {
      error: `must be a list of CPU ids or a CPU list like "0-1,3" (${onlineText})`,
    })
    .transform((v, ctx) => {
      let cpus: number[];
      try {
        cpus = Array.isArray(v) ? v : typeof v === 'number' ? [v] : parseCpuList(v);
      } catch {
        ctx.addIssue({ code: 'custom', message: `must be a CPU list like "0-1,3" (${onlineText})` });
        return z.NEVER;
      }
      const offline = cpus.filter((c) => !o.online.includes(c));
      if (cpus.length === 0 || offline.length > 0) {
        ctx.addIssue({
          code: 'custom',
          message: `CPU ${offline.join(',') || '(none)'} is not usable here (${onlineText}: online and in faultd's affinity mask)`,
        });
        return z.NEVER;
      }
      return [...new Set(cpus)];
    });
  return {
    schema: schema.optional(),
    doc: { name: o.name, type: 'cpu list', default: undefined, bounds: onlineText, description: o.description },
  };
}

/** Largest duration faultd accepts for a fault (24 h, ARCHITECTURE.md §4). */
export const MAX_DURATION_MS = 24 * 3_600_000;

/** A duration: `1m25s`, `500ms`, `90` (seconds), bounded to [0, max]. */
export function durationSchema(o: { max: number; min?: number }): z.ZodType<number> {
  const min = o.min ?? 0;
  const range = `${formatDurationMs(min)}–${formatDurationMs(o.max)}`;
  return z.union([z.string(), z.number()], { error: `must be a duration like "1m25s", "500ms" or seconds, in ${range}` }).transform((v, ctx) => {
    const ms = parseDurationMs(v);
    if (ms === undefined) {
      ctx.addIssue({ code: 'custom', input: v, message: `must be a duration like "1m25s", "1h3m2s", "500ms" or a number of seconds, in ${range}` });
      return z.NEVER;
    }
    if (ms < min || ms > o.max) {
      ctx.addIssue({ code: 'custom', input: v, message: `must be in ${range}` });
      return z.NEVER;
    }
    return ms;
  });
}

export function durationParam(o: { name: string; default: string; max: number; description: string }): Param<number> {
  const fallback = parseDurationMs(o.default) ?? 0;
  return {
    schema: durationSchema({ max: o.max }).optional().transform((v) => v ?? fallback),
    doc: {
      name: o.name,
      type: 'duration',
      default: o.default,
      bounds: `0s–${formatDurationMs(o.max)}`,
      description: o.description,
    },
  };
}

/** `rampUp` of the stress faults (a faultd extension): `what` rises linearly over this time. */
export function rampUpParam(what: string): Param<number> {
  return durationParam({ name: 'rampUp', default: '0s', max: MAX_DURATION_MS, description: `${what} rises linearly over this time (faultd extension)` });
}

type Shape<T extends Record<string, Param<unknown>>> = { [K in keyof T]: T[K]['schema'] };

/** The strict zod object of a fault's params (unknown keys are errors that name the key). */
export function paramsObject<T extends Record<string, Param<unknown>>>(params: T) {
  const shape = Object.fromEntries(Object.entries(params).map(([key, param]) => [key, param.schema])) as Shape<T>;
  return z.object(shape).strict();
}

/**
 * Network interfaces (comma list or YAML list) that exist here. Absent: `fallback` (the default
 * route's), or with `optional` an empty list meaning "every interface".
 */
export function interfacesParam(o: {
  name: string;
  interfaces: readonly { name: string }[];
  fallback: string | undefined;
  optional?: boolean;
  description: string;
}): Param<string[]> {
  const known = o.interfaces.map((i) => i.name);
  const schema = z
    .union([z.string(), z.array(z.string())], { error: 'must be interface names, as "eth0,eth1" or a list' })
    .optional()
    .transform((value, ctx) => {
      const names = value === undefined ? (o.fallback ? [o.fallback] : []) : listOf(value);
      if (names.length === 0 && !o.optional) {
        ctx.addIssue({ code: 'custom', message: `no interface given and no default route to take one from (interfaces here: ${known.join(', ')})` });
        return z.NEVER;
      }
      const missing = names.filter((n) => !known.includes(n));
      if (missing.length > 0) {
        ctx.addIssue({ code: 'custom', message: `no interface ${missing.map((m) => `"${m}"`).join(', ')} here (interfaces: ${known.join(', ')})` });
        return z.NEVER;
      }
      return [...new Set(names)];
    });
  return {
    schema,
    doc: { name: o.name, type: 'interface list', default: o.fallback ?? (o.optional ? '(all)' : '(default route)'), bounds: `existing: ${known.join(', ')}`, description: o.description },
  };
}

/**
 * A map given as JSON text (Harness passes tunables as strings) or as a YAML map, with 1–`max`
 * entries. The output keeps the input as given (for the issues the caller adds about an entry)
 * and the entries, which the caller checks one by one.
 */
export function mapEntriesSchema(error: string, max: number): z.ZodType<{ input: unknown; entries: [string, unknown][] }> {
  return z.union([z.string(), z.record(z.string(), z.unknown())], { error }).transform((value, c) => {
    let raw: unknown = value;
    if (typeof value === 'string') {
      try {
        raw = JSON.parse(value);
      } catch {
        c.addIssue({ code: 'custom', input: value, message: `is not JSON: ${error}` });
        return z.NEVER;
      }
    }
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
      c.addIssue({ code: 'custom', input: value, message: error });
      return z.NEVER;
    }
    const entries = Object.entries(raw);
    if (entries.length === 0 || entries.length > max) {
      c.addIssue({ code: 'custom', input: value, message: `has ${entries.length} entries: ${error}` });
      return z.NEVER;
    }
    return { input: value, entries };
  });
}

/** A tunable faultd does not support yet: accepted only empty, so existing files still load. */
export function notYetParam(name: string, why: string): Param<undefined> {
  const schema = z.unknown().transform((value, ctx) => {
    const empty = value === undefined || value === null || value === '' || (Array.isArray(value) && value.length === 0);
    if (!empty) {
      ctx.addIssue({ code: 'custom', message: `is not supported yet: ${why}` });
      return z.NEVER;
    }
    return undefined;
  }).optional();
  return { schema, doc: { name, type: '-', default: undefined, bounds: 'empty only', description: `not supported yet: ${why}` } };
}

/** A value parsed by `parse` (e.g. a tc rate), bounded, with a default in the same notation. */
export function parsedParam(o: ParsedParamOptions): Param<number> {
  return optionalParsedParam(o, o.default) as Param<number>;
}

/** Like parsedParam, but absent stays undefined (`default` only documents the fallback). */
export function optionalParsedParam(o: ParsedParamOptions, fallback?: string): Param<number | undefined> {
  const schema = z
    .union([z.string(), z.number()], { error: `must be ${o.formatHint}, in ${o.bounds}` })
    .optional()
    .transform((value, ctx) => {
      const text = value ?? fallback;
      if (text === undefined) return undefined;
      const parsed = o.parse(text);
      if (parsed === undefined || !Number.isFinite(parsed)) {
        ctx.addIssue({ code: 'custom', input: text, message: `must be ${o.formatHint}, in ${o.bounds}` });
        return z.NEVER;
      }
      if (parsed < o.min || parsed > o.max) {
        ctx.addIssue({ code: 'custom', input: text, message: `must be in ${o.bounds}` });
        return z.NEVER;
      }
      return parsed;
    });
  return { schema, doc: { name: o.name, type: o.type, default: o.default, bounds: o.bounds, description: o.description } };
}

interface ParsedParamOptions {
  name: string;
  type: string;
  default: string;
  min: number;
  max: number;
  bounds: string;
  parse: (value: string | number) => number | undefined;
  formatHint: string;
  description: string;
}
