// SPDX-License-Identifier: Apache-2.0
/**
 * Runs an experiment's probes in their modes, told by the runner where the experiment is
 * (RunObserver). Each probe acts within its scope's window: the whole experiment, its step, or
 * its fault (from before the fault's apply to after its revert).
 * - SOT: once at the window's start, before anything of it is applied; Edge: SOT and EOT.
 * - EOT: once at the window's end, after its faults are reverted (also after an abort).
 * - Continuous: from the window's start to its end, every probePollingInterval.
 * - OnChaos: only while faults of its scope are applied (for a step or the experiment: while at
 *   least one of its faults is); an evaluation the revert cuts short is dropped.
 * initialDelay comes before the first evaluation of each window. A failed evaluation of a probe
 * with stopOnFailure aborts the experiment once, naming the probe.
 */
import type { Logger } from 'pino';

import { sleep } from '../engine/abortable.js';
import { FaultdError, isFaultdError, messageOf } from '../errors.js';
import type { RunObserver } from '../engine/run-observer.js';
import type { Experiment } from '../experiment/schema.js';
import { monotonicMs } from '../monotonic.js';
import { evaluate, type Evaluation, type EvaluationPhase } from './evaluation.js';
import { resilienceScore, ScoreBook, type FaultScore } from './score.js';
import type { CheckSpec, ProbeCheck, ProbeScope, ProbeSpec } from './types.js';

/** Why a probe stopped the experiment. */
export interface ProbeStop {
  readonly probe: string;
  readonly detail: string;
}

/** One probe's outcome over the run. */
export interface ProbeOutcome {
  readonly name: string;
  readonly type: CheckSpec['type'];
  readonly mode: ProbeSpec['mode'];
  /** `experiment`, `step 2` or `fault <id>`. */
  readonly scope: string;
  readonly evaluations: number;
  readonly passed: number;
  /** passed / evaluations × 100; undefined when it never evaluated. */
  readonly successPercent: number | undefined;
  /** The last evaluation's observation, and the first failure's. */
  readonly last?: string;
  readonly firstFailure?: string;
  readonly stoppedExperiment: boolean;
  /** Evaluations not made because a fault in its `cutBy` was applied. */
  readonly skippedWhileCut: number;
}

export interface ProbeReport {
  readonly probes: readonly ProbeOutcome[];
  readonly faults: readonly FaultScore[];
  readonly resilienceScore: number | undefined;
  readonly stoppedBy: ProbeStop | undefined;
}

export interface ProbeRunDeps {
  readonly experiment: Experiment;
  /** Throws when a check cannot be made (e.g. the command probes' user does not exist). */
  readonly createCheck: (spec: CheckSpec) => ProbeCheck;
  readonly logger: Logger;
  /** Told of every evaluation as it ends (the agent sends each to the hub). Must not block. */
  readonly onEvaluation?: (evaluation: Evaluation, probe: ProbeSpec) => void;
  /** Aborts the experiment (a stopOnFailure probe failed). */
  readonly stop: (stop: ProbeStop) => void;
}

interface ProbeState {
  readonly spec: ProbeSpec;
  readonly check: ProbeCheck;
  evaluations: number;
  passed: number;
  skippedWhileCut: number;
  /** Faults whose cut was already logged for this probe. */
  readonly cutLogged: Set<string>;
  last?: string;
  firstFailure?: string;
}

/** A polling loop (Continuous or OnChaos) of one probe in one window. */
interface Loop {
  readonly close: AbortController;
  readonly done: Promise<void>;
}

/** Makes a probe's check; an error names the probe (a caFile that cannot be read, no command user). */
function makeCheck(createCheck: ProbeRunDeps['createCheck'], spec: ProbeSpec): ProbeCheck {
  try {
    return createCheck(spec.check);
  } catch (error) {
    const message = `probe "${spec.name}": ${messageOf(error)}`;
    throw isFaultdError(error) ? new FaultdError(error.code, message, { cause: error }) : new Error(message, { cause: error });
  }
}

function scopeKey(scope: ProbeScope): string {
  return scope.level === 'experiment' ? 'experiment' : scope.level === 'step' ? `step ${scope.step + 1}` : `fault ${scope.faultId}`;
}

function describe(evaluation: Evaluation): string {
  const error = evaluation.error === undefined ? '' : ` (${evaluation.error})`;
  return `${evaluation.passed ? 'passed' : 'FAILED'}: ${evaluation.observed}; ${evaluation.criterion}${error}`;
}

export class ProbeRun implements RunObserver {
  readonly #d: ProbeRunDeps;
  readonly #states: ProbeState[];
  readonly #book = new ScoreBook();
  /** Open polling loops, by probe and window. */
  readonly #loops = new Map<string, Loop>();
  /** Faults applied now, by step (for step- and experiment-level OnChaos). */
  readonly #applied = new Map<number, Set<string>>();
  /** Closed by close(): every evaluation in flight ends. */
  readonly #closed = new AbortController();
  #stoppedBy: ProbeStop | undefined;
  #closing: Promise<void> | undefined;

  constructor(deps: ProbeRunDeps) {
    this.#d = deps;
    const made: ProbeState[] = [];
    try {
      for (const spec of deps.experiment.probes) made.push({ spec, check: makeCheck(deps.createCheck, spec), evaluations: 0, passed: 0, skippedWhileCut: 0, cutLogged: new Set() });
    } catch (error) {
      for (const state of made) void state.check.close();
      throw error;
    }
    this.#states = made;
  }

  // --- RunObserver ----------------------------------------------------------------------

  async experimentStarting(signal: AbortSignal): Promise<void> {
    await this.#openWindow((s) => s.level === 'experiment', 'experiment', signal);
  }

  async experimentEnded(): Promise<void> {
    await this.#closeWindow((s) => s.level === 'experiment', 'experiment');
  }

  async stepStarting(step: number, signal: AbortSignal): Promise<void> {
    await this.#openWindow((s) => s.level === 'step' && s.step === step, `step ${step}`, signal);
  }

  async stepEnded(step: number): Promise<void> {
    await this.#closeWindow((s) => s.level === 'step' && s.step === step, `step ${step}`);
  }

  async faultApplying(step: number, faultId: string, signal: AbortSignal): Promise<void> {
    const weight = this.#d.experiment.steps[step]?.faults.find((f) => f.id === faultId)?.weight ?? 0;
    this.#book.faultStarted(step, faultId, weight, monotonicMs());
    await this.#openWindow((s) => s.level === 'fault' && s.faultId === faultId, `fault ${faultId}`, signal);
  }

  faultApplied(step: number, faultId: string): void {
    const applied = this.#applied.get(step) ?? new Set<string>();
    const stepWasQuiet = applied.size === 0;
    const experimentWasQuiet = this.#appliedCount() === 0;
    applied.add(faultId);
    this.#applied.set(step, applied);
    this.#startOnChaos((s) => s.level === 'fault' && s.faultId === faultId, `fault ${faultId}`);
    if (stepWasQuiet) this.#startOnChaos((s) => s.level === 'step' && s.step === step, `step ${step}`);
    if (experimentWasQuiet) this.#startOnChaos((s) => s.level === 'experiment', 'experiment');
  }

  faultReverting(step: number, faultId: string): void {
    const applied = this.#applied.get(step);
    if (!applied?.delete(faultId)) return;
    void this.#stopLoops('OnChaos', `fault ${faultId}`);
    if (applied.size === 0) void this.#stopLoops('OnChaos', `step ${step}`);
    if (this.#appliedCount() === 0) void this.#stopLoops('OnChaos', 'experiment');
  }

  async faultReverted(_step: number, faultId: string): Promise<void> {
    await this.#closeWindow((s) => s.level === 'fault' && s.faultId === faultId, `fault ${faultId}`);
    this.#book.faultEnded(faultId, monotonicMs());
  }

  // --- results ----------------------------------------------------------------------------

  report(): ProbeReport {
    const faults = this.#book.scores();
    const probes = this.#states.map(
      (s): ProbeOutcome => ({
        name: s.spec.name,
        type: s.spec.check.type,
        mode: s.spec.mode,
        scope: scopeKey(s.spec.scope),
        evaluations: s.evaluations,
        passed: s.passed,
        successPercent: s.evaluations ? (s.passed / s.evaluations) * 100 : undefined,
        ...(s.last === undefined ? {} : { last: s.last }),
        ...(s.firstFailure === undefined ? {} : { firstFailure: s.firstFailure }),
        stoppedExperiment: this.#stoppedBy?.probe === s.spec.name,
        skippedWhileCut: s.skippedWhileCut,
      }),
    );
    return { probes, faults, resilienceScore: resilienceScore(faults), stoppedBy: this.#stoppedBy };
  }

  /** Ends every loop and evaluation in flight and releases the checks. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#closed.abort();
      await Promise.allSettled([...this.#loops.values()].map((l) => l.done));
      this.#loops.clear();
      await Promise.allSettled(this.#states.map((s) => s.check.close()));
    })();
    return this.#closing;
  }

  // --- windows ----------------------------------------------------------------------------

  #appliedCount(): number {
    let count = 0;
    for (const set of this.#applied.values()) count += set.size;
    return count;
  }

  #select(inScope: (scope: ProbeScope) => boolean, modes: readonly ProbeSpec['mode'][]): ProbeState[] {
    return this.#states.filter((s) => inScope(s.spec.scope) && modes.includes(s.spec.mode));
  }

  /** SOT evaluations (awaited, in parallel), then the window's Continuous loops. */
  async #openWindow(inScope: (scope: ProbeScope) => boolean, window: string, signal: AbortSignal): Promise<void> {
    const sot = this.#select(inScope, ['SOT', 'Edge']);
    if (sot.length > 0) {
      const cut = AbortSignal.any([signal, this.#closed.signal]);
      await Promise.all(sot.map((s) => this.#once(s, 'SOT', cut)));
    }
    if (signal.aborted) return;
    for (const state of this.#select(inScope, ['Continuous'])) this.#startLoop(state, 'Continuous', window);
  }

  /** Ends the window's Continuous loops, then its EOT evaluations (awaited, in parallel). */
  async #closeWindow(inScope: (scope: ProbeScope) => boolean, window: string): Promise<void> {
    await this.#stopLoops('Continuous', window);
    const eot = this.#select(inScope, ['EOT', 'Edge']);
    await Promise.all(eot.map((s) => this.#once(s, 'EOT', this.#closed.signal)));
  }

  #startOnChaos(inScope: (scope: ProbeScope) => boolean, window: string): void {
    for (const state of this.#select(inScope, ['OnChaos'])) this.#startLoop(state, 'OnChaos', window);
  }

  #startLoop(state: ProbeState, phase: 'Continuous' | 'OnChaos', window: string): void {
    const key = `${phase}\0${window}\0${state.spec.name}`;
    if (this.#loops.has(key)) return;
    const close = new AbortController();
    const signal = AbortSignal.any([close.signal, this.#closed.signal]);
    const { initialDelayMs, probePollingIntervalMs } = state.spec.runProperties;
    const run = async (): Promise<void> => {
      if (!(await sleep(initialDelayMs, signal))) return;
      while (!signal.aborted) {
        await this.#once(state, phase, signal);
        if (!(await sleep(probePollingIntervalMs, signal))) return;
      }
    };
    const done = run().catch((error: unknown) => this.#d.logger.error({ probe: state.spec.name, err: error }, 'probe loop failed'));
    this.#loops.set(key, { close, done });
  }

  async #stopLoops(phase: 'Continuous' | 'OnChaos', window: string): Promise<void> {
    const prefix = `${phase}\0${window}\0`;
    const stopping: Promise<void>[] = [];
    for (const [key, loop] of this.#loops) {
      if (!key.startsWith(prefix)) continue;
      loop.close.abort();
      stopping.push(loop.done);
      this.#loops.delete(key);
    }
    await Promise.all(stopping);
  }

  /** A fault of the probe's `cutBy` that is applied now (none when the probe evaluates anyway). */
  #cuttingFault(spec: ProbeSpec): string | undefined {
    if (spec.evaluateWhenCut) return undefined;
    return spec.cutBy.find((faultId) => [...this.#applied.values()].some((applied) => applied.has(faultId)));
  }

  /** One evaluation, recorded; a failure of a stopOnFailure probe stops the experiment. */
  async #once(state: ProbeState, phase: EvaluationPhase, signal: AbortSignal): Promise<void> {
    const { spec } = state;
    const cut = this.#cuttingFault(spec);
    if (cut !== undefined) {
      state.skippedWhileCut += 1;
      if (!state.cutLogged.has(cut)) {
        state.cutLogged.add(cut);
        this.#d.logger.warn({ probe: spec.name, faultId: cut }, `probe ${spec.name} is not evaluated while fault ${cut} is applied: that fault cuts its target (evaluateWhenCut: true evaluates it anyway)`);
      }
      return;
    }
    const evaluation = await evaluate(spec.name, phase, state.check, spec.runProperties, signal);
    if (!evaluation) return;
    state.evaluations += 1;
    if (evaluation.passed) state.passed += 1;
    const text = describe(evaluation);
    state.last = text;
    if (!evaluation.passed) state.firstFailure ??= text;
    this.#book.record(spec, evaluation);
    const level = evaluation.passed ? 'info' : 'warn';
    this.#d.logger[level](
      { probe: spec.name, type: spec.check.type, mode: spec.mode, phase, passed: evaluation.passed, observed: evaluation.observed, criterion: evaluation.criterion, latencyMs: evaluation.latencyMs, attempts: evaluation.attempts, ...(evaluation.error === undefined ? {} : { error: evaluation.error }) },
      `probe ${spec.name} ${text}`,
    );
    try {
      this.#d.onEvaluation?.(evaluation, spec);
    } catch (error) {
      this.#d.logger.error({ probe: spec.name, err: error }, 'probe listener failed');
    }
    if (!evaluation.passed && spec.runProperties.stopOnFailure && this.#stoppedBy === undefined) {
      this.#stoppedBy = { probe: spec.name, detail: `probe ${spec.name} (${spec.check.type}, ${phase}) ${text}` };
      this.#d.logger.error({ probe: spec.name }, `stopOnFailure: probe ${spec.name} failed; aborting the experiment`);
      this.#d.stop(this.#stoppedBy);
    }
  }
}
