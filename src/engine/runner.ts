// SPDX-License-Identifier: Apache-2.0
/**
 * The experiment runner: steps serially, the faults of a step in parallel. Each fault:
 * rampTime wait → plan → ledger `intent` → apply (ledger `applied` from inside apply, before
 * the change takes effect) → run for `duration` → revert → ledger `reverted`/`revert-failed` →
 * rampTime wait. Abort (signal) cuts every wait short, reverts what runs, and skips the rest.
 * A step whose fault failed to apply ends the experiment after its faults are reverted.
 */
import { setMaxListeners } from 'node:events';

import type { Logger } from 'pino';

import { messageOf } from '../errors.js';
import type { Experiment, FaultSpec } from '../experiment/schema.js';
import type { Registry } from '../faults/registry.js';
import type { ActiveFault, FaultContext, InjectorModule } from '../faults/types.js';
import type { Ledger } from '../ledger/ledger.js';
import type { Owner } from '../ledger/record.js';
import { sleep } from './abortable.js';
import { StepClaims } from './step-claims.js';
import { revertAndRecord, type RevertReport } from './revert.js';
import type { RunObserver } from './run-observer.js';
import type { ProbeReport } from '../probes/scheduler.js';
import { monotonicMs } from '../monotonic.js';

export type FaultPhase = 'pending' | 'ramp-before' | 'applying' | 'running' | 'reverting' | 'ramp-after' | 'done';

export type FaultStatus = 'completed' | 'failed' | 'aborted' | 'skipped';

export interface FaultResult {
  readonly id: string;
  readonly kind: string;
  readonly target: string;
  readonly status: FaultStatus;
  readonly error?: string;
  readonly revert?: RevertReport;
}

export type Verdict = 'completed' | 'failed' | 'aborted' | 'revert-failed';

export interface ExperimentResult {
  readonly runId: string;
  readonly verdict: Verdict;
  readonly faults: readonly FaultResult[];
  readonly durationMs: number;
  /** With probes only: each probe's outcome, the resilience score (when any evaluation applied) and the probe that stopped the run. */
  readonly probes?: ProbeReport;
}

/** A fault's live view for progress displays. */
export interface LiveFault {
  readonly spec: FaultSpec;
  phase: FaultPhase;
  target: string;
  /** When the current phase started (ms since epoch). */
  phaseStartedAt: number;
  active: ActiveFault | undefined;
}

/** One phase transition of one fault, as it happens. */
export interface PhaseChange {
  readonly faultId: string;
  readonly kind: string;
  readonly phase: FaultPhase;
  /** What the fault acts on, once planned ('' before). */
  readonly target: string;
  /** When the phase started (CLOCK_MONOTONIC ms, src/monotonic.ts). */
  readonly at: number;
}

export interface RunnerDeps {
  readonly registry: Registry;
  readonly ledger: Ledger;
  readonly ctx: FaultContext;
  readonly runId: string;
  readonly owner: Owner;
  readonly logger: Logger;
  /**
   * Told of every phase transition of every fault, synchronously, however short the phase
   * (`reverting` often lasts milliseconds). Every fault that starts ends with `done`. An error
   * it throws is logged and ignored: it never stops a revert.
   */
  readonly onPhase?: (change: PhaseChange) => void;
  /** Told where the experiment is (the probes); its errors are logged, never stop a revert. */
  readonly observer?: RunObserver;
}

/** Ledger id of a fault: unique across runs, safe as a cgroup name. */
export function ledgerFaultId(runId: string, faultId: string): string {
  return `${runId}-${faultId}`;
}

export class Runner {
  readonly #deps: RunnerDeps;
  readonly #live = new Map<string, LiveFault>();
  /** What the faults of the current step change. */
  #claims: StepClaims | undefined;

  constructor(deps: RunnerDeps) {
    this.#deps = deps;
  }

  /** Faults of the current step, for progress displays. */
  live(): readonly LiveFault[] {
    return [...this.#live.values()];
  }

  async run(experiment: Experiment, signal: AbortSignal): Promise<ExperimentResult> {
    const started = monotonicMs();
    const results: FaultResult[] = [];
    let stop = false;
    await this.#observe('experimentStarting', (o) => o.experimentStarting(signal));
    for (const [index, step] of experiment.steps.entries()) {
      const skipped = (): FaultResult[] => step.faults.map((f) => ({ id: f.id, kind: f.kind, target: '', status: 'skipped' }));
      if (stop || signal.aborted) {
        results.push(...skipped());
        continue;
      }
      this.#deps.logger.info({ step: step.name, faults: step.faults.map((f) => f.id) }, 'step started');
      await this.#observe('stepStarting', (o) => o.stepStarting(index, signal));
      if (signal.aborted) {
        results.push(...skipped());
      } else {
        results.push(...(await this.#runStep(index, step.faults, signal)));
        // A failed apply or a failed revert ends the experiment: do not pile chaos on a host in doubt.
        stop = results.some((r) => r.status === 'failed' || (r.revert !== undefined && !r.revert.ok));
      }
      await this.#observe('stepEnded', (o) => o.stepEnded(index));
    }
    await this.#observe('experimentEnded', (o) => o.experimentEnded());
    this.#live.clear();
    return { runId: this.#deps.runId, verdict: verdictOf(results, signal.aborted), faults: results, durationMs: Math.round(monotonicMs() - started) };
  }

  /** Calls the observer; its failure is logged (a probe's bug must not stop the experiment's reverts). */
  async #observe(hook: string, call: (observer: RunObserver) => Promise<void> | void): Promise<void> {
    const { observer } = this.#deps;
    if (!observer) return;
    try {
      await call(observer);
    } catch (error) {
      this.#deps.logger.error({ hook, err: error }, 'run observer failed');
    }
  }

  /**
   * Runs the faults of one step in parallel. If one of them fails unexpectedly (e.g. the ledger
   * cannot be written), the others are aborted so they revert now rather than at their end.
   */
  async #runStep(stepIndex: number, faults: readonly FaultSpec[], signal: AbortSignal): Promise<FaultResult[]> {
    this.#live.clear();
    this.#claims = new StepClaims(faults, this.#deps.registry);
    for (const spec of faults) {
      this.#live.set(spec.id, { spec, phase: 'pending', target: '', phaseStartedAt: monotonicMs(), active: undefined });
    }
    const step = new AbortController();
    // Each fault listens on the step's signal several times (ramp, apply, hold).
    setMaxListeners(8 * faults.length + 8, step.signal);
    const forward = (): void => step.abort(signal.reason);
    signal.addEventListener('abort', forward, { once: true });
    try {
      const settled = await Promise.allSettled(
        faults.map((spec) =>
          this.#runFault(stepIndex, spec, step.signal)
            .catch((error: unknown) => {
              step.abort(error);
              throw error;
            })
            .finally(() => {
              // However the fault ended (aborted in its ramp, plan failed), its last phase is done.
              if (this.#live.get(spec.id)?.phase !== 'done') this.#phase(spec, 'done');
            }),
        ),
      );
      return settled.map((outcome, index): FaultResult => {
        if (outcome.status === 'fulfilled') return outcome.value;
        const spec = faults[index];
        const error = messageOf(outcome.reason);
        this.#deps.logger.error({ faultId: spec?.id, err: outcome.reason }, 'fault runner failed');
        return { id: spec?.id ?? '?', kind: spec?.kind ?? '?', target: '', status: 'failed', error };
      });
    } finally {
      signal.removeEventListener('abort', forward);
    }
  }

  #phase(spec: FaultSpec, phase: FaultPhase): LiveFault {
    const live = this.#live.get(spec.id);
    if (!live) throw new Error(`fault ${spec.id} is not live`);
    live.phase = phase;
    live.phaseStartedAt = monotonicMs();
    this.#report(live);
    return live;
  }

  #report(live: LiveFault): void {
    const { onPhase } = this.#deps;
    if (!onPhase) return;
    try {
      onPhase({ faultId: live.spec.id, kind: live.spec.kind, phase: live.phase, target: live.target, at: live.phaseStartedAt });
    } catch (error) {
      this.#deps.logger.error({ faultId: live.spec.id, err: error }, 'phase listener failed');
    }
  }

  async #runFault(stepIndex: number, spec: FaultSpec, signal: AbortSignal): Promise<FaultResult> {
    const logger = this.#deps.logger.child({ faultId: spec.id, kind: spec.kind });
    const base = { id: spec.id, kind: spec.kind };
    const module = this.#deps.registry.get(spec.kind);
    if (!module) return { ...base, target: '', status: 'failed', error: `unknown kind ${spec.kind}` };
    if (spec.rampTimeMs > 0) {
      this.#phase(spec, 'ramp-before');
      if (!(await sleep(spec.rampTimeMs, signal))) return { ...base, target: '', status: 'aborted' };
    }
    if (signal.aborted) return { ...base, target: '', status: 'aborted' };
    this.#phase(spec, 'applying');
    await this.#observe('faultApplying', (o) => o.faultApplying(stepIndex, spec.id, signal));
    let result: FaultResult;
    try {
      result = signal.aborted ? { ...base, target: '', status: 'aborted' } : await this.#injectAndRevert(stepIndex, spec, module, signal, logger);
    } finally {
      await this.#observe('faultReverted', (o) => o.faultReverted(stepIndex, spec.id));
    }
    if (result.status === 'completed' && spec.rampTimeMs > 0) {
      this.#phase(spec, 'ramp-after');
      if (!(await sleep(spec.rampTimeMs, signal))) result = { ...result, status: 'aborted' };
    }
    this.#phase(spec, 'done');
    return result;
  }

  /** plan → ledger intent → apply → hold for the duration → revert → ledger record. */
  async #injectAndRevert(stepIndex: number, spec: FaultSpec, module: InjectorModule, signal: AbortSignal, logger: Logger): Promise<FaultResult> {
    const { ledger, ctx, runId, owner } = this.#deps;
    const base = { id: spec.id, kind: spec.kind };
    const faultId = ledgerFaultId(runId, spec.id);
    const live = this.#live.get(spec.id);
    if (!live) throw new Error(`fault ${spec.id} is not live`);
    const faultCtx: FaultContext = { ...ctx, logger, durationMs: spec.durationMs };
    let planned;
    try {
      planned = await module.plan(faultId, spec.params, faultCtx);
    } catch (error) {
      logger.error({ err: error }, 'plan failed');
      return { ...base, target: '', status: 'failed', error: messageOf(error) };
    }
    live.target = planned.target;
    const clash = this.#claims?.claim(spec.id, planned.claims ?? []);
    if (clash) {
      logger.error({ clash }, 'plan refused: another fault of the step changes the same thing');
      return { ...base, target: planned.target, status: 'failed', error: clash };
    }
    let revertRecord = planned.revert;
    // If this throws, nothing has changed on the host yet.
    await ledger.append({ event: 'intent', faultId, runId, kind: spec.kind, target: planned.target, bootId: ctx.host.bootId, owner, revert: revertRecord });
    let status: FaultStatus = 'completed';
    let error: string | undefined;
    let applied = false;
    const hold = new AbortController(); // ends the hold early; always aborted, so no timer outlives the fault
    const release = (): void => hold.abort();
    signal.addEventListener('abort', release, { once: true });
    try {
      const active = await planned.apply(async (revert) => {
        revertRecord = revert;
        await ledger.append({ event: 'applied', faultId, revert });
      }, signal);
      live.active = active;
      logger.info({ target: planned.target }, 'fault applied');
      this.#phase(spec, 'running');
      applied = true;
      void this.#observe('faultApplied', (o) => o.faultApplied(stepIndex, spec.id));
      const outcome = await Promise.race([
        sleep(spec.durationMs, hold.signal).then((full) => ({ full })),
        active.ended.then((why) => ({ ended: why })),
      ]);
      if ('ended' in outcome) {
        status = 'failed';
        error = outcome.ended;
        logger.error({ reason: outcome.ended }, 'fault ended before its duration');
      } else if (!outcome.full) {
        status = 'aborted';
      }
    } catch (applyError) {
      status = signal.aborted ? 'aborted' : 'failed';
      error = messageOf(applyError);
      logger.error({ err: applyError }, 'apply failed, reverting');
    } finally {
      hold.abort();
      signal.removeEventListener('abort', release);
    }
    if (applied) void this.#observe('faultReverting', (o) => o.faultReverting(stepIndex, spec.id));
    this.#phase(spec, 'reverting');
    const revert = await revertAndRecord(ledger, module, faultId, revertRecord, faultCtx, logger);
    live.active = undefined;
    return { ...base, target: planned.target, status, revert, ...(error === undefined ? {} : { error }) };
  }
}

export function verdictOf(results: readonly FaultResult[], aborted: boolean): Verdict {
  if (results.some((r) => r.revert && !r.revert.ok)) return 'revert-failed';
  if (aborted) return 'aborted';
  if (results.some((r) => r.status === 'failed')) return 'failed';
  return 'completed';
}
