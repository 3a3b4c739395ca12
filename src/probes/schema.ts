// SPDX-License-Identifier: Apache-2.0
/**
 * The `probes` lists of faultd/v1 (on the experiment's spec, on a step, on a fault): one zod
 * schema per probe that turns the written form into a ProbeSpec (types.ts). Names follow
 * Harness's resilience probes: `runProperties` with probeTimeout, interval, attempt,
 * probePollingInterval, initialDelay (and Harness's misspelling intialDelay) and stopOnFailure;
 * comparisons in Harness's shape `{ type, criteria, value }`, or a bare value meaning `==`.
 */
import { z } from 'zod';

import { durationSchema } from '../faults/params.js';
import { parseJsonPath } from './json-path.js';
import { COMPARATORS, PROBE_MODES, type CheckSpec, type Comparator, type Comparison, type HttpBodyCriterion, type ProbeMode, type RunProperties, type ValueType } from './types.js';

/** Bounds of an experiment's probes. */
export const MAX_PROBES_PER_LIST = 16;
export const MAX_PROBES = 64;
const MAX_ATTEMPTS = 20;

/** faultd's defaults; Harness makes probeTimeout, interval and attempt mandatory. */
export const DEFAULT_RUN_PROPERTIES: RunProperties = {
  probeTimeoutMs: 10_000,
  intervalMs: 1_000,
  attempt: 1,
  probePollingIntervalMs: 2_000,
  initialDelayMs: 0,
  stopOnFailure: false,
};

const RunPropertiesSchema = z
  .strictObject({
    probeTimeout: durationSchema({ min: 10, max: 300_000 }).optional(),
    interval: durationSchema({ max: 300_000 }).optional(),
    attempt: z.number().int().min(1).max(MAX_ATTEMPTS, `must be 1–${MAX_ATTEMPTS}`).optional(),
    probePollingInterval: durationSchema({ min: 100, max: 3_600_000 }).optional(),
    initialDelay: durationSchema({ max: 3_600_000 }).optional(),
    /** Harness's documentation spells it so; accepted so pasted probes work. */
    intialDelay: durationSchema({ max: 3_600_000 }).optional(),
    stopOnFailure: z.boolean({ error: 'must be true or false' }).optional(),
  })
  .superRefine((p, c) => {
    if (p.initialDelay !== undefined && p.intialDelay !== undefined) c.addIssue({ code: 'custom', path: ['intialDelay'], message: 'is Harness\'s spelling of initialDelay; give one of them' });
  })
  .transform(
    (p): RunProperties => ({
      probeTimeoutMs: p.probeTimeout ?? DEFAULT_RUN_PROPERTIES.probeTimeoutMs,
      intervalMs: p.interval ?? DEFAULT_RUN_PROPERTIES.intervalMs,
      attempt: p.attempt ?? DEFAULT_RUN_PROPERTIES.attempt,
      probePollingIntervalMs: p.probePollingInterval ?? DEFAULT_RUN_PROPERTIES.probePollingIntervalMs,
      initialDelayMs: p.initialDelay ?? p.intialDelay ?? DEFAULT_RUN_PROPERTIES.initialDelayMs,
      stopOnFailure: p.stopOnFailure ?? DEFAULT_RUN_PROPERTIES.stopOnFailure,
    }),
  );

const EQUALITY: readonly Comparator[] = ['==', '!=', 'oneOf'];
const ORDERED: readonly Comparator[] = ['==', '!=', '<', '<=', '>', '>=', 'oneOf'];

const scalar = z.union([z.string().max(4096), z.number()]);

interface ComparisonRules {
  /** The comparators this subject takes. */
  readonly allowed: readonly Comparator[];
  /** The type when none is written (int for status and exit codes). */
  readonly defaultType: ValueType | 'infer';
}

function inferType(value: unknown): ValueType {
  if (typeof value === 'number') return Number.isInteger(value) ? 'int' : 'float';
  return 'string';
}

const comparisonFields = {
  type: z.enum(['int', 'float', 'string'], { error: 'must be int, float or string' }).optional(),
  criteria: z.enum(COMPARATORS, { error: `must be one of ${COMPARATORS.join(' ')}` }),
  value: z.union([scalar, z.array(scalar).min(1).max(64)]),
};

type WrittenComparison = { type?: ValueType | undefined; criteria: Comparator; value: string | number | (string | number)[] };

/** A comparison: a bare value (`==`) or `{ type, criteria, value }`. */
function comparison(rules: ComparisonRules) {
  return z
    .union([scalar.transform((value): WrittenComparison => ({ criteria: '==', value })), z.strictObject(comparisonFields)])
    .transform((written, c) => finishComparison(written, rules, c));
}

/** An HTTP body criterion: a comparison, optionally of the value at a JSON path. */
const bodyCriterion = z
  .strictObject({ ...comparisonFields, jsonPath: z.string().regex(/^\$/, 'must start with $ (e.g. $.status)').max(512).optional() })
  .transform((written, c): HttpBodyCriterion => {
    const compared = finishComparison(written, { allowed: [...ORDERED, 'contains', 'matches'], defaultType: 'infer' }, c);
    if (written.jsonPath === undefined) return compared;
    const path = parseJsonPath(written.jsonPath);
    if (!path.ok) {
      c.addIssue({ code: 'custom', path: ['jsonPath'], input: written.jsonPath, message: path.error });
      return z.NEVER;
    }
    return { ...compared, jsonPath: written.jsonPath };
  });

function finishComparison(w: WrittenComparison, rules: ComparisonRules, c: z.core.$RefinementCtx): Comparison {
  const type: ValueType = w.type ?? (rules.defaultType === 'infer' ? inferType(Array.isArray(w.value) ? w.value[0] : w.value) : rules.defaultType);
  if (!rules.allowed.includes(w.criteria)) {
    c.addIssue({ code: 'custom', path: ['criteria'], input: w.criteria, message: `must be one of ${rules.allowed.join(' ')} here` });
    return z.NEVER;
  }
  const list = Array.isArray(w.value);
  if ((w.criteria === 'oneOf') !== list) {
    c.addIssue({ code: 'custom', path: ['value'], message: w.criteria === 'oneOf' ? 'must be a list for oneOf' : `must be one value for ${w.criteria} (a list only goes with oneOf)` });
    return z.NEVER;
  }
  if ((w.criteria === 'contains' || w.criteria === 'matches') && type !== 'string') {
    c.addIssue({ code: 'custom', path: ['type'], message: `must be string for ${w.criteria}` });
    return z.NEVER;
  }
  const values = Array.isArray(w.value) ? w.value : [w.value];
  for (const value of values) {
    const problem = valueProblem(value, type, w.criteria);
    if (problem) {
      c.addIssue({ code: 'custom', path: ['value'], input: value, message: problem });
      return z.NEVER;
    }
  }
  const normalised = values.map((v) => (type === 'string' ? String(v) : Number(v)));
  return { type, criteria: w.criteria, value: list ? normalised : (normalised[0] ?? '') };
}

function valueProblem(value: string | number, type: ValueType, criteria: Comparator): string | undefined {
  if (type === 'string') {
    if (criteria !== 'matches') return undefined;
    try {
      new RegExp(String(value));
      return undefined;
    } catch (error) {
      return `is not a valid regular expression: ${(error as Error).message}`;
    }
  }
  const number = typeof value === 'number' ? value : Number(value.trim() === '' ? Number.NaN : value);
  if (!Number.isFinite(number)) return `must be a number for type ${type}`;
  if (type === 'int' && !Number.isInteger(number)) return 'must be an integer for type int';
  return undefined;
}


const probeName = z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'must be lowercase letters, digits and dashes (max 63)');

const common = {
  name: probeName,
  mode: z.enum(PROBE_MODES, { error: `must be one of ${PROBE_MODES.join(', ')}` }),
  runProperties: RunPropertiesSchema.optional(),
  /** Evaluate even while a fault of its step cuts its target (faultd extension). */
  evaluateWhenCut: z.boolean({ error: 'must be true or false' }).default(false),
};

const headerName = z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}$/, 'must be an HTTP header name');
const headerValue = z.string().max(8192).refine((v) => !/[\r\n\0]/.test(v), 'must not contain CR, LF or NUL');

const HttpProbe = z
  .strictObject({
    ...common,
    type: z.literal('http'),
  url: z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }).max(4096),
  method: z.enum(['GET', 'POST'], { error: 'must be GET or POST' }).default('GET'),
  headers: z.record(headerName, headerValue).refine((h) => Object.keys(h).length <= 64, 'at most 64 headers').default({}),
  body: z.string().max(1_048_576, 'at most 1 MiB').optional(),
  insecureSkipVerify: z.boolean({ error: 'must be true or false' }).default(false),
  caFile: z.string().min(1).max(4096).optional(),
  criteria: z.strictObject({
    responseCode: comparison({ allowed: EQUALITY, defaultType: 'int' }).superRefine((c, ctx) => {
      const codes = Array.isArray(c.value) ? c.value : [c.value];
      if (c.type !== 'int' || codes.some((code) => typeof code !== 'number' || code < 100 || code > 599)) ctx.addIssue({ code: 'custom', message: 'must be an HTTP status code 100–599 (type int)' });
    }),
    body: bodyCriterion.optional(),
    maxResponseTime: durationSchema({ min: 1, max: 300_000 }).optional(),
  }),
  })
  .superRefine((http, c) => {
    // Refused rather than silently dropped.
    if (http.method === 'GET' && http.body !== undefined) c.addIssue({ code: 'custom', path: ['body'], message: 'is only sent with method: POST' });
  });

const shellSyntax = /[|&;<>()$`"'\\*?[\]{}~\n]/;

const CmdProbe = z
  .strictObject({
    ...common,
    type: z.literal('cmd'),
    command: z.union([z.string().min(1).max(4096), z.array(z.string().max(4096)).min(1).max(256)], { error: 'must be a command line or a list of arguments' }),
    shell: z.boolean({ error: 'must be true or false' }).default(false),
    env: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/, 'must be an environment variable name'), z.string().max(8192)).default({}),
    /** Working directory (default /). */
    cwd: z.string().regex(/^\//, 'must be an absolute path').max(4096).optional(),
    criteria: z
      .strictObject({
        exitCode: comparison({ allowed: ORDERED, defaultType: 'int' }).optional(),
        stdout: comparison({ allowed: [...ORDERED, 'contains', 'matches'], defaultType: 'infer' }).optional(),
      })
      .default({}),
  })
  .superRefine((cmd, c) => {
    if (cmd.shell && Array.isArray(cmd.command)) c.addIssue({ code: 'custom', path: ['command'], message: 'must be one string with shell: true (it is given to /bin/sh -c)' });
    if (!cmd.shell && typeof cmd.command === 'string' && shellSyntax.test(cmd.command)) {
      c.addIssue({ code: 'custom', path: ['command'], input: cmd.command, message: 'has shell syntax (quotes, pipes, variables…) but runs without a shell: set shell: true, or give the arguments as a list' });
    }
  });

const PrometheusProbe = z.strictObject({
  ...common,
  type: z.literal('prometheus'),
  endpoint: z.url({ protocol: /^https?$/, error: 'must be the Prometheus server\'s http(s) URL, e.g. http://127.0.0.1:9090' }).max(4096),
  query: z.string().min(1).max(16_384),
  criteria: z.strictObject({ value: comparison({ allowed: ORDERED, defaultType: 'float' }) }),
});

/** One written probe. */
export const ProbeInputSchema = z.discriminatedUnion('type', [HttpProbe, CmdProbe, PrometheusProbe], { error: 'type must be http, cmd or prometheus' });

/** A probe without its scope; the experiment's schema adds where it was declared and what cuts it. */
export interface ParsedProbe {
  readonly name: string;
  readonly mode: ProbeMode;
  readonly runProperties: RunProperties;
  readonly check: CheckSpec;
  readonly evaluateWhenCut: boolean;
}

/** Parses one probe; the issues' paths are relative to it. */
export function parseProbe(input: unknown): { ok: true; probe: ParsedProbe } | { ok: false; issues: z.core.$ZodIssue[] } {
  const parsed = ProbeInputSchema.safeParse(input, { reportInput: true });
  if (!parsed.success) return { ok: false, issues: parsed.error.issues };
  const probe = parsed.data;
  return { ok: true, probe: { name: probe.name, mode: probe.mode, runProperties: probe.runProperties ?? DEFAULT_RUN_PROPERTIES, check: checkOf(probe), evaluateWhenCut: probe.evaluateWhenCut } };
}

function checkOf(probe: z.infer<typeof ProbeInputSchema>): CheckSpec {
  switch (probe.type) {
    case 'http': {
      const { maxResponseTime, body, responseCode } = probe.criteria;
      return {
        type: 'http',
        url: probe.url,
        method: probe.method,
        headers: probe.headers,
        ...(probe.body === undefined ? {} : { body: probe.body }),
        insecureSkipVerify: probe.insecureSkipVerify,
        ...(probe.caFile === undefined ? {} : { caFile: probe.caFile }),
        criteria: { responseCode, ...(body === undefined ? {} : { body }), ...(maxResponseTime === undefined ? {} : { maxResponseTimeMs: maxResponseTime }) },
      };
    }
    case 'cmd': {
      const command = Array.isArray(probe.command) ? probe.command : probe.shell ? [probe.command] : probe.command.trim().split(/\s+/);
      return {
        type: 'cmd',
        command,
        shell: probe.shell,
        env: probe.env,
        ...(probe.cwd === undefined ? {} : { cwd: probe.cwd }),
        criteria: { exitCode: probe.criteria.exitCode ?? { type: 'int', criteria: '==', value: 0 }, ...(probe.criteria.stdout === undefined ? {} : { stdout: probe.criteria.stdout }) },
      };
    }
    case 'prometheus':
      return { type: 'prometheus', endpoint: probe.endpoint.replace(/\/+$/, ''), query: probe.query, criteria: probe.criteria };
  }
}
