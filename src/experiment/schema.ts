// SPDX-License-Identifier: Apache-2.0
/**
 * The faultd/v1 experiment format (ARCHITECTURE.md §4): steps run serially, the faults of a
 * step in parallel. Validation is two-stage: the envelope with zod, then each fault's params
 * with its kind's schema (host-aware bounds). Every problem becomes one line naming the field,
 * the value and the allowed range.
 */
import { z } from 'zod';

import { durationSchema, MAX_DURATION_MS } from '../faults/params.js';
import type { Registry } from '../faults/registry.js';
import { memoryBudgetBytes, type ValidationContext } from '../faults/types.js';
import { formatBytes } from '../units.js';
import { MAX_PROBES, MAX_PROBES_PER_LIST, parseProbe } from '../probes/schema.js';
import { cutWarning, probePathCuts } from '../probes/path-warnings.js';
import type { ProbeScope, ProbeSpec } from '../probes/types.js';

/** Bounds of an experiment's shape. */
export const MAX_STEPS = 100;
export const MAX_FAULTS_PER_STEP = 32;
/** Harness's default fault weight: every fault counts alike in the resilience score. */
export const DEFAULT_FAULT_WEIGHT = 10;
/** Harness default duration and ramp time. */
export const DEFAULT_DURATION = '30s';
const MAX_RAMP_TIME_MS = 3_600_000;

/** Fault-level fields that Harness users also write among the tunables. */
const FAULT_LEVEL_ALIASES: Readonly<Record<string, 'duration' | 'rampTime'>> = {
  duration: 'duration',
  DURATION: 'duration',
  TOTAL_CHAOS_DURATION: 'duration',
  rampTime: 'rampTime',
  RAMP_TIME: 'rampTime',
};

/** A `probes` list; each probe is parsed on its own (probes/schema.ts) for precise paths. */
const probeList = z.array(z.unknown()).max(MAX_PROBES_PER_LIST, `at most ${MAX_PROBES_PER_LIST} probes per list`).optional();

const FaultInputSchema = z
  .object({
    kind: z.string({ error: 'must be a fault kind (see `faultd faults`)' }),
    name: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'must be lowercase letters, digits and dashes (max 63)').optional(),
    duration: z.union([z.string(), z.number()]).optional(),
    rampTime: z.union([z.string(), z.number()]).optional(),
    params: z.record(z.string(), z.unknown()).optional(),
    /** Its share of the resilience score, 1–10 (Harness's fault weight). */
    weight: z.number().int().min(1, 'must be 1–10').max(10, 'must be 1–10').optional(),
    probes: probeList,
  })
  .strict();

const ExperimentInputSchema = z
  .object({
    apiVersion: z.literal('faultd/v1', { error: 'must be "faultd/v1"' }),
    kind: z.literal('Experiment', { error: 'must be "Experiment"' }),
    metadata: z.object({ name: z.string().min(1).max(253) }).loose(),
    spec: z
      .object({
        steps: z
          .array(
            z
              .object({
                name: z.string().max(253).optional(),
                probes: probeList,
                faults: z.array(FaultInputSchema).min(1, 'needs at least one fault').max(MAX_FAULTS_PER_STEP, `at most ${MAX_FAULTS_PER_STEP} faults per step`),
              })
              .strict(),
          )
          .min(1, 'needs at least one step')
          .max(MAX_STEPS, `at most ${MAX_STEPS} steps`),
        probes: probeList,
      })
      .strict(),
  })
  .strict();

/** A validated fault, ready to plan. `params` has the type its kind's schema produced. */
export interface FaultSpec {
  readonly id: string;
  readonly kind: string;
  readonly durationMs: number;
  readonly rampTimeMs: number;
  readonly params: unknown;
  /** Its weight in the resilience score, 1–10. */
  readonly weight: number;
}

export interface Step {
  readonly name: string;
  readonly faults: readonly FaultSpec[];
}

export interface Experiment {
  readonly name: string;
  readonly steps: readonly Step[];
  /** Every probe of the experiment, its steps and its faults, each with where it was declared. */
  readonly probes: readonly ProbeSpec[];
}

export interface ValidationProblem {
  readonly path: string;
  readonly message: string;
}

/** A valid experiment may still deserve a word before it runs (e.g. a probe its own fault cuts off). */
export type ValidationResult = { ok: true; experiment: Experiment; warnings: ValidationProblem[] } | { ok: false; problems: ValidationProblem[] };

/** Formats a zod path as `spec.steps[0].faults[1].params.load`. */
export function formatPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((text, key) => (typeof key === 'number' ? `${text}[${key}]` : text ? `${text}.${String(key)}` : String(key)), '');
}

function describeInput(input: unknown): string {
  // A whole object says nothing the field path does not; values are what help.
  if (input === undefined || (typeof input === 'object' && input !== null)) return '';
  // JSON has no NaN or Infinity (it would print null); say what the value is.
  const text = typeof input === 'number' && !Number.isFinite(input) ? String(input) : JSON.stringify(input);
  return ` (got ${text.length > 60 ? `${text.slice(0, 57)}...` : text})`;
}

/** The value at `path` inside `value` (an issue's input when its schema did not attach one). */
function valueAt(value: unknown, path: readonly PropertyKey[]): unknown {
  let at = value;
  for (const key of path) {
    if (typeof at !== 'object' || at === null || !Object.hasOwn(at, key)) return undefined;
    at = (at as Record<PropertyKey, unknown>)[key];
  }
  return at;
}

/** One problem per issue; `input` is what was validated, to quote a value an issue did not carry. */
function problemsOf(issues: readonly z.core.$ZodIssue[], prefix: readonly PropertyKey[], input?: unknown): ValidationProblem[] {
  return issues.map((issue) => {
    const keys = issue.code === 'unrecognized_keys' ? issue.keys : [];
    const message =
      issue.code === 'unrecognized_keys'
        ? `unknown field${keys.length > 1 ? 's' : ''} ${keys.map((k) => `"${k}"`).join(', ')}`
        : `${issue.message}${describeInput(issue.input ?? valueAt(input, issue.path))}`;
    return { path: formatPath([...prefix, ...issue.path]), message };
  });
}

/** Moves Harness-style `duration`/`rampTime`/upper-case tunables to their faultd places. */
function normalizeFault(
  raw: z.infer<typeof FaultInputSchema>,
  aliases: Readonly<Record<string, string>>,
): { fault: z.infer<typeof FaultInputSchema>; problems: ValidationProblem[] } {
  const params: Record<string, unknown> = {};
  const fault = { ...raw };
  const problems: ValidationProblem[] = [];
  // Which spelling gave each field, so that `load` and `LOAD` together are refused, not merged.
  const spelledAs = new Map<string, string>();
  for (const [key, value] of Object.entries(raw.params ?? {})) {
    const level = FAULT_LEVEL_ALIASES[key];
    const field = level ?? aliases[key] ?? key;
    const earlier = spelledAs.get(field);
    if (earlier !== undefined) {
      problems.push({ path: `params.${key}`, message: `"${earlier}" and "${key}" are two spellings of ${level ? `the fault's ${level}` : `the param ${field}`}; give it once` });
      continue;
    }
    spelledAs.set(field, key);
    if (level) {
      if (fault[level] !== undefined && fault[level] !== value) {
        problems.push({ path: `params.${key}`, message: `conflicts with the fault's ${level} (${JSON.stringify(fault[level])})` });
      }
      fault[level] = value as string | number;
      continue;
    }
    params[field] = value;
  }
  return { fault: { ...fault, params }, problems };
}

/** Validates a parsed document against faultd/v1 and every fault's own schema. */
export function validateExperiment(document: unknown, registry: Registry, ctx: ValidationContext): ValidationResult {
  const envelope = ExperimentInputSchema.safeParse(document, { reportInput: true });
  if (!envelope.success) return { ok: false, problems: problemsOf(envelope.error.issues, []) };
  const problems: ValidationProblem[] = [];
  const duration = durationSchema({ max: MAX_DURATION_MS, min: 1 });
  const rampTime = durationSchema({ max: MAX_RAMP_TIME_MS });
  const usedIds = new Set<string>();
  const steps = envelope.data.spec.steps.map((step, s): Step => {
    const faults = step.faults.map((raw, f): FaultSpec | undefined => {
      const at = ['spec', 'steps', s, 'faults', f] as const;
      const module = registry.get(raw.kind);
      if (!module) {
        problems.push({ path: formatPath([...at, 'kind']), message: `unknown fault kind "${raw.kind}" (known: ${[...registry.keys()].join(', ')})` });
        return undefined;
      }
      const { fault, problems: aliasProblems } = normalizeFault(raw, module.paramAliases);
      problems.push(...aliasProblems.map((p) => ({ ...p, path: `${formatPath(at)}.${p.path}` })));
      const durationMs = duration.safeParse(fault.duration ?? DEFAULT_DURATION, { reportInput: true });
      if (!durationMs.success) problems.push(...problemsOf(durationMs.error.issues, [...at, 'duration']));
      const rampTimeMs = rampTime.safeParse(fault.rampTime ?? 0, { reportInput: true });
      if (!rampTimeMs.success) problems.push(...problemsOf(rampTimeMs.error.issues, [...at, 'rampTime']));
      const params = module.validateParams(fault.params, ctx);
      if (!params.ok) problems.push(...problemsOf(params.issues, [...at, 'params'], fault.params));
      const rampUp = params.ok ? (params.params as { rampUp?: unknown }).rampUp : undefined;
      if (durationMs.success && typeof rampUp === 'number' && rampUp > durationMs.data) {
        problems.push({ path: formatPath([...at, 'params', 'rampUp']), message: `must not exceed the fault's duration (${String(fault.duration ?? DEFAULT_DURATION)})` });
      }
      const misfit = params.ok && durationMs.success ? module.durationProblem(params.params, durationMs.data) : undefined;
      if (misfit) problems.push({ path: formatPath([...at, 'params', misfit.param]), message: misfit.message });
      const id = fault.name ?? `s${s + 1}-f${f + 1}-${raw.kind.replace(/^linux-/, '')}`;
      if (usedIds.has(id)) problems.push({ path: formatPath([...at, 'name']), message: `duplicate fault name "${id}"` });
      usedIds.add(id);
      if (!durationMs.success || !rampTimeMs.success || !params.ok) return undefined;
      return { id, kind: raw.kind, durationMs: durationMs.data, rampTimeMs: rampTimeMs.data, params: params.params, weight: raw.weight ?? DEFAULT_FAULT_WEIGHT };
    });
    const valid = faults.filter((f): f is FaultSpec => f !== undefined);
    // Faults of a step run at once: two of them changing the same thing would overwrite each other.
    const owners = new Map<string, string>();
    for (const fault of valid) {
      for (const target of registry.get(fault.kind)?.exclusiveTargets(fault.params) ?? []) {
        const owner = owners.get(target);
        if (owner !== undefined) {
          problems.push({ path: formatPath(['spec', 'steps', s]), message: `faults "${owner}" and "${fault.id}" both change ${target}; put them in separate steps` });
        }
        owners.set(target, fault.id);
      }
    }
    // Faults of a step run at once, so their memory adds up against one budget (memory stress,
    // and fills of tmpfs or ramfs, whose files are RAM).
    const stepMemory = valid.reduce((sum, f) => sum + (registry.get(f.kind)?.memoryBytes(f.params) ?? 0), 0);
    const budget = memoryBudgetBytes(ctx);
    if (valid.length > 1 && stepMemory > budget) {
      problems.push({
        path: formatPath(['spec', 'steps', s]),
        message: `its faults together hold ${formatBytes(stepMemory)} of RAM (memory stress, and fills of tmpfs or ramfs), more than ${formatBytes(budget)} (--max-memory-fraction ${Math.round(ctx.limits.maxMemoryFraction * 100)} % of MemAvailable)`,
      });
    }
    return { name: step.name ?? `step-${s + 1}`, faults: valid };
  });
  const probes = collectProbes(envelope.data.spec, steps, problems);
  if (problems.length > 0) return { ok: false, problems };
  const cuts = probePathCuts({ steps, probes }, registry);
  const experiment = { name: envelope.data.metadata.name, steps, probes: probes.map((p) => ({ ...p, cutBy: cuts.filter((c) => c.probe === p.name).map((c) => c.faultId) })) };
  return { ok: true, experiment, warnings: cuts.filter((c) => !c.evaluateWhenCut).map(cutWarning) };
}

interface WrittenProbes {
  readonly probes?: readonly unknown[] | undefined;
  readonly steps: readonly { readonly probes?: readonly unknown[] | undefined; readonly faults: readonly { readonly probes?: readonly unknown[] | undefined }[] }[];
}

/** Parses every probe list, each probe with its scope; names must be unique in the experiment. */
function collectProbes(spec: WrittenProbes, steps: readonly Step[], problems: ValidationProblem[]): ProbeSpec[] {
  const lists: { at: PropertyKey[]; scope: ProbeScope; written: readonly unknown[] }[] = [{ at: ['spec', 'probes'], scope: { level: 'experiment' }, written: spec.probes ?? [] }];
  spec.steps.forEach((step, s) => {
    lists.push({ at: ['spec', 'steps', s, 'probes'], scope: { level: 'step', step: s }, written: step.probes ?? [] });
    step.faults.forEach((fault, f) => {
      const faultId = steps[s]?.faults[f]?.id;
      // A fault that failed validation has no id; its problems are already listed.
      if (faultId !== undefined) lists.push({ at: ['spec', 'steps', s, 'faults', f, 'probes'], scope: { level: 'fault', step: s, faultId }, written: fault.probes ?? [] });
    });
  });
  const probes: ProbeSpec[] = [];
  const names = new Set<string>();
  for (const { at, scope, written } of lists) {
    written.forEach((input, p) => {
      const parsed = parseProbe(input);
      if (!parsed.ok) {
        problems.push(...problemsOf(parsed.issues, [...at, p], input));
        return;
      }
      if (names.has(parsed.probe.name)) problems.push({ path: formatPath([...at, p, 'name']), message: `duplicate probe name "${parsed.probe.name}"` });
      names.add(parsed.probe.name);
      probes.push({ ...parsed.probe, scope, cutBy: [] });
    });
  }
  if (probes.length > MAX_PROBES) problems.push({ path: 'spec', message: `has ${probes.length} probes; at most ${MAX_PROBES} in one experiment` });
  return probes;
}
