// SPDX-License-Identifier: Apache-2.0
/**
 * The injector contract (STYLE.md D2): a descriptor per fault kind, not a class hierarchy.
 * `defineInjector` takes a typed definition and erases its parameter and revert types behind
 * zod validation, so the registry can hold every kind in one map without `any`.
 */
import type { Logger } from 'pino';
import type { z } from 'zod';

import type { CgroupLayout } from '../host/cgroup.js';
import type { HostFacts } from '../host/facts.js';
import type { FeatureProbe } from '../host/features.js';
import type { NativeAddon } from '../native/addon.js';
import type { IpTarget, PortSelection } from '../net/addresses.js';
import type { NetworkContext } from './network/context.js';

/** Operator-set limits that bound every fault (config/CLI). */
export interface Limits {
  /** Largest share of MemAvailable that memory stress may take (default 0.8). */
  readonly maxMemoryFraction: number;
}

export const DEFAULT_LIMITS: Limits = { maxMemoryFraction: 0.8 };

/** Memory all faults running at once may take: `maxMemoryFraction` of MemAvailable. */
export function memoryBudgetBytes(ctx: { host: HostFacts; limits: Limits }): number {
  return Math.floor(ctx.host.memAvailableBytes * ctx.limits.maxMemoryFraction);
}

/**
 * What validation may consult: host facts, limits and feature probes; it changes nothing. What
 * only one family of kinds needs is that family's extension, not top-level fields every kind
 * carries: `network` (safety exclusions, interfaces) for the network faults.
 */
export interface ValidationContext {
  readonly host: HostFacts;
  readonly limits: Limits;
  readonly features: FeatureProbe;
  /** The network faults' extension (network/context.ts). */
  readonly network: NetworkContext;
}

/** Everything a fault needs to act on the host. */
export interface FaultContext extends ValidationContext {
  readonly native: NativeAddon;
  /** Absolute path of the faultd-stressor executable (a missing file is reported where it is used). */
  readonly stressorPath: string;
  readonly cgroups: CgroupLayout;
  readonly logger: Logger;
  readonly procRoot: string;
  /**
   * Where host-wide lock files go (a fill locks its filesystem); absent: /run/faultd/locks, or
   * the user's own directory under tmpdir when that cannot be made (filesystemLockDir).
   */
  readonly lockDir?: string;
  /**
   * The fault's duration, for kinds that pace themselves over it (linux-service-restart's
   * cycles); given by the runner and the dry-run, absent where nothing runs (reverts).
   */
  readonly durationMs?: number;
}

/** One row of `faultd faults`: produced next to the zod schema that enforces it. */
export interface ParamDoc {
  readonly name: string;
  readonly type: string;
  readonly default: string | undefined;
  readonly bounds: string;
  readonly description: string;
}

/**
 * The plan of one fault: what it will change (for --dry-run), its revert record (written to the
 * ledger as `intent` before anything changes), and the bound action that makes the change.
 * `apply` calls `recordApplied` with the completed revert record before the fault takes effect,
 * and gives up (throwing, with nothing left running) when `signal` aborts.
 */
export interface Planned<R> {
  readonly target: string;
  readonly changes: readonly string[];
  readonly revertSteps: readonly string[];
  readonly revert: R;
  /**
   * What the fault changes that is only known once planned (e.g. the dependent units a service
   * restart also stops), in the form of `exclusiveTargets`. Two faults of one step that claim
   * the same thing (here or in their exclusive targets) cannot both run: the one planned second
   * fails before its intent is recorded, so nothing of it changes on the host.
   */
  readonly claims?: readonly string[];
  apply(recordApplied: (revert: R) => Promise<void>, signal: AbortSignal): Promise<ActiveFault>;
}

/**
 * The same plan with a revert record extended by `extra` (e.g. which mechanism a fault chose);
 * apply records the extended record.
 */
export function withRevert<R, X>(planned: Planned<R>, extra: X): Planned<R & X> {
  const revert = { ...planned.revert, ...extra };
  // What apply records (e.g. a started process's pid) is kept, with `extra` on top.
  return { ...planned, revert, apply: (recordApplied, signal) => planned.apply((applied) => recordApplied({ ...applied, ...extra }), signal) };
}

/** A fault that is running. */
export interface ActiveFault {
  /** Short text of the measured effect now (e.g. `cpu 49.8%/worker`). */
  measure(): string;
  /** Settles if the fault ends on its own before it is reverted (e.g. the stressor died). */
  readonly ended: Promise<string>;
}

export interface RevertOutcome {
  readonly outcome: 'reverted' | 'already-absent';
  readonly detail: string;
}

/** Thrown by a revert that could not restore the host: says what is left and how to fix it. */
export class RevertError extends Error {
  override readonly name = 'RevertError';
  readonly leftover: string;
  readonly manualFix: string;

  constructor(message: string, leftover: string, manualFix: string, options?: ErrorOptions) {
    super(message, options);
    this.leftover = leftover;
    this.manualFix = manualFix;
  }
}

export interface Support {
  readonly supported: boolean;
  readonly notes: readonly string[];
}

/**
 * The traffic a fault acts on, as far as validation can tell: a probe whose target it covers is
 * warned about (a probe cut off by its own experiment measures the fault, not the service).
 */
export type TrafficReach =
  | {
      readonly via: 'network';
      readonly interfaces: readonly string[];
      /** Empty: every destination. */
      readonly destinations: readonly IpTarget[];
      readonly destinationHosts: readonly string[];
      readonly destinationPorts: PortSelection;
    }
  /** Name resolution through the resolver's nameservers, of these names (empty: every name). */
  | { readonly via: 'dns'; readonly names: readonly string[]; readonly match: 'exact' | 'substring' }
  /** HTTP requests to these ports. */
  | { readonly via: 'http'; readonly ports: readonly number[] };

export type ParamsResult = { ok: true; params: unknown } | { ok: false; issues: z.core.$ZodIssue[] };

/** The type-erased module the registry holds. */
export interface InjectorModule {
  readonly kind: string;
  readonly summary: string;
  /** Harness spellings accepted for params (e.g. `LOAD` → `load`). */
  readonly paramAliases: Readonly<Record<string, string>>;
  paramDocs(ctx: ValidationContext): readonly ParamDoc[];
  validateParams(raw: unknown, ctx: ValidationContext): ParamsResult;
  /**
   * Memory the fault will hold (counted against the step's memory budget): memory stress, and a
   * fill of a tmpfs or ramfs (its file is RAM); 0 for most kinds.
   */
  memoryBytes(params: unknown): number;
  /**
   * Exclusive resources the fault changes (`netdev:eth0/root`); two faults of one step may not
   * share one, so they can never overwrite each other.
   */
  exclusiveTargets(params: unknown): readonly string[];
  /** The traffic it acts on, for probe warnings; undefined for faults that touch no traffic. */
  trafficReach(params: unknown): TrafficReach | undefined;
  /** A param that does not fit the fault's duration (e.g. an interval longer than it), if any. */
  durationProblem(params: unknown, durationMs: number): { readonly param: string; readonly message: string } | undefined;
  /** Reads what it needs from the host (e.g. the qdiscs it will replace) and changes nothing. */
  plan(faultId: string, params: unknown, ctx: FaultContext): Promise<Planned<Record<string, unknown>>>;
  /** Idempotent: reverting what is already gone returns `already-absent`. */
  revert(revert: Record<string, unknown>, ctx: FaultContext): Promise<RevertOutcome>;
  support(ctx: FaultContext): Support;
}

export interface InjectorDefinition<P, R extends Record<string, unknown>> {
  readonly kind: string;
  readonly summary: string;
  readonly paramAliases?: Readonly<Record<string, string>>;
  paramsSchema(ctx: ValidationContext): z.ZodType<P>;
  paramDocs(ctx: ValidationContext): readonly ParamDoc[];
  memoryBytes?(params: P): number;
  exclusiveTargets?(params: P): readonly string[];
  trafficReach?(params: P): TrafficReach;
  durationProblem?(params: P, durationMs: number): { readonly param: string; readonly message: string } | undefined;
  readonly revertSchema: z.ZodType<R>;
  plan(faultId: string, params: P, ctx: FaultContext): Planned<R> | Promise<Planned<R>>;
  revert(revert: R, ctx: FaultContext): Promise<RevertOutcome>;
  support(ctx: FaultContext): Support;
}

/** Wraps a typed definition into a registry module; params and revert records pass zod first. */
export function defineInjector<P, R extends Record<string, unknown>>(def: InjectorDefinition<P, R>): InjectorModule {
  const parseRevert = (revert: Record<string, unknown>): R => def.revertSchema.parse(revert);
  return {
    kind: def.kind,
    summary: def.summary,
    paramAliases: def.paramAliases ?? {},
    paramDocs: (ctx) => def.paramDocs(ctx),
    validateParams(raw, ctx) {
      const result = def.paramsSchema(ctx).safeParse(raw ?? {}, { reportInput: true });
      return result.success ? { ok: true, params: result.data } : { ok: false, issues: result.error.issues };
    },
    // `params` is what validateParams returned for this module, so it already has type P.
    memoryBytes: (params) => def.memoryBytes?.(params as P) ?? 0,
    exclusiveTargets: (params) => def.exclusiveTargets?.(params as P) ?? [],
    trafficReach: (params) => def.trafficReach?.(params as P),
    durationProblem: (params, durationMs) => def.durationProblem?.(params as P, durationMs),
    plan: async (faultId, params, ctx) => def.plan(faultId, params as P, ctx),
    revert: (revert, ctx) => def.revert(parseRevert(revert), ctx),
    support: (ctx) => def.support(ctx),
  };
}
