// SPDX-License-Identifier: Apache-2.0
/**
 * The one owner of what a faultd process holds on its host. Every entry point that may apply
 * faults (`faultd run`, `faultd agent`, `faultd revert`, and whatever comes next) goes through
 * a Session, so the safety-critical order is written once:
 *
 *   open():  ledger open → revert remnants of dead runs → register the crash revert
 *   start(): run an experiment (steps serial, faults parallel) → compact the ledger when clean
 *   close(): drop the crash revert → wait for a crash revert in progress → close the ledger
 *
 * The crash revert (crash-revert.ts) covers the whole open session: after an internal error,
 * every run of this session is aborted, given a grace period, and whatever this process still
 * holds is reverted from the ledger. Nothing else in the process needs to know about it.
 */
import type { Logger } from 'pino';

import { FaultdError, messageOf } from '../errors.js';
import { validateExperiment, type Experiment, type ValidationResult } from '../experiment/schema.js';
import type { Registry } from '../faults/registry.js';
import type { FaultContext } from '../faults/types.js';
import { isUnresolved, type Ledger } from '../ledger/ledger.js';
import type { Owner } from '../ledger/record.js';
import { crashRevertSettled, ledgerCrashReverter, onCrashRevert, type CrashReverter } from './crash-revert.js';
import { revertRemnants, type RemnantReport } from './recover.js';
import { clearRecovered, readRecovered } from './recovered.js';
import { Runner, type ExperimentResult, type LiveFault, type PhaseChange } from './runner.js';
import type { Evaluation } from '../probes/evaluation.js';
import { ProbeRun } from '../probes/scheduler.js';
import type { CheckSpec, ProbeCheck, ProbeSpec } from '../probes/types.js';

export type { ExperimentResult, FaultPhase, FaultResult, LiveFault, PhaseChange, Verdict } from './runner.js';
export type { RemnantReport } from './recover.js';
export type { Experiment, ValidationResult } from '../experiment/schema.js';

/** Where a process registers its revert after an internal error (crash-revert.ts by default). */
export interface CrashGuard {
  /** Registers the reverter; returns its removal. */
  register(reverter: CrashReverter): () => void;
  /** Resolves once a crash revert in progress has ended (at once if none runs). */
  settled(): Promise<void>;
}

/** The process-wide guard that main.ts runs after an uncaught exception or rejection. */
export const PROCESS_CRASH_GUARD: CrashGuard = { register: onCrashRevert, settled: crashRevertSettled };

export interface SessionDeps {
  readonly ledger: Ledger;
  readonly registry: Registry;
  readonly ctx: FaultContext;
  /** This process, as the owner recorded in every intent. */
  readonly owner: Owner;
  readonly logger: Logger;
  readonly crashGuard?: CrashGuard;
  /** How long runs get to stop after an internal error before the ledger revert (default 5 s). */
  readonly crashGraceMs?: number;
  /**
   * Called first after an internal error, before the session's runs are aborted: the owner
   * stops what would start new runs (the agent's poll loop), with `internal error` as reason.
   */
  readonly onCrash?: () => void;
  /** Makes the checks of an experiment's probes (probes/checks); experiments with probes need it. */
  readonly createCheck?: (spec: CheckSpec) => ProbeCheck;
}

export interface OpenOptions {
  /** Also revert remnants whose faultd process still runs (`revert --remnants --force`). */
  readonly force?: boolean;
}

export interface StartOptions {
  readonly runId: string;
  /** Aborting it reverts the running faults and skips the remaining steps. */
  readonly signal: AbortSignal;
  /** The run's own logger (the agent ships it to the hub); the session's by default. */
  readonly logger?: Logger;
  /**
   * Told of every phase transition of every fault as it happens (the agent reports each to the
   * hub; polling live() misses short phases such as `reverting`). Must not block.
   */
  readonly onPhase?: (change: PhaseChange) => void;
  /** Told of every probe evaluation as it ends (the agent reports each to the hub). Must not block. */
  readonly onEvaluation?: (evaluation: Evaluation, probe: ProbeSpec) => void;
}

/** An experiment the session is running. */
export interface SessionRun {
  readonly runId: string;
  /** Faults of the current step, for progress displays. */
  live(): readonly LiveFault[];
  /** The verdict, once every fault is reverted and the ledger compacted when clean. */
  readonly result: Promise<ExperimentResult>;
}

/** A fault whose remnant could not be reverted (its ledger entry says what is left). */
export function failedRemnants(reports: readonly RemnantReport[]): RemnantReport[] {
  return reports.filter((r) => 'ok' in r.result && !r.result.ok);
}

export class Session {
  readonly #d: SessionDeps;
  readonly #guard: CrashGuard;
  #state: 'new' | 'open' | 'closed' = 'new';
  #remnants: readonly RemnantReport[] = [];
  #removeCrashRevert: (() => void) | undefined;
  /** Aborted by the crash revert: every run of the session stops. */
  readonly #stopRuns = new AbortController();
  readonly #runs = new Set<Promise<unknown>>();

  constructor(deps: SessionDeps) {
    this.#d = deps;
    this.#guard = deps.crashGuard ?? PROCESS_CRASH_GUARD;
  }

  /**
   * Opens the ledger, reverts what dead faultd processes left applied, and registers the crash
   * revert. Returns the remnants it reverted (or skipped, or failed to revert): the caller
   * decides whether a failed one forbids new runs. On any failure the ledger is closed again.
   */
  async open(options: OpenOptions = {}): Promise<readonly RemnantReport[]> {
    if (this.#state !== 'new') throw new FaultdError('FAULTD_ERR_SESSION_ORDER', `session opened twice (it is ${this.#state})`);
    const { ledger, registry, ctx, logger } = this.#d;
    try {
      await ledger.open();
      this.#remnants = await revertRemnants(ledger, registry, ctx, logger, { force: options.force === true });
    } catch (error) {
      await ledger.close();
      this.#state = 'closed';
      throw error;
    }
    this.#removeCrashRevert = this.#guard.register(
      ledgerCrashReverter(
        { ledger, registry, ctx, logger },
        () => {
          this.#d.onCrash?.();
          this.#stopRuns.abort('internal error');
          return Promise.allSettled([...this.#runs]);
        },
        this.#d.crashGraceMs,
      ),
    );
    this.#state = 'open';
    return this.#remnants;
  }

  /** What open() found and reverted. */
  get remnants(): readonly RemnantReport[] {
    return this.#remnants;
  }

  /**
   * What was reverted before this process could report it: by this session's open() or by a
   * `revert --remnants` before it (systemd's ExecStartPre), kept in the state dir.
   */
  recoveredRemnants(): RemnantReport[] {
    return readRecovered(this.#d.ledger.stateDir);
  }

  /** Forgets recoveredRemnants() once every interrupted run has been reported. */
  clearRecoveredRemnants(): void {
    clearRecovered(this.#d.ledger.stateDir);
  }

  /** The fault kinds this faultd knows (a heartbeat's capabilities). */
  capabilities(): string[] {
    return [...this.#d.registry.keys()];
  }

  /** Validates an experiment document against the schema and this host's bounds. */
  validate(document: unknown): ValidationResult {
    return validateExperiment(document, this.#d.registry, this.#d.ctx);
  }

  /** This host's boot id. */
  get bootId(): string {
    return this.#d.ctx.host.bootId;
  }

  /** This process as a ledger owner (pid and start time). */
  get owner(): Owner {
    return this.#d.owner;
  }

  /** Whether process `pid` started at `startTime` still runs (pid reuse cannot fool it). */
  processAlive(pid: number, startTime: number): boolean {
    return this.#d.ctx.native.killProcess(pid, startTime, 0) === 'signalled';
  }

  /** Starts an experiment; the session must be open. */
  start(experiment: Experiment, options: StartOptions): SessionRun {
    if (this.#state !== 'open') throw new FaultdError('FAULTD_ERR_SESSION_ORDER', `run started on a session that is ${this.#state}`);
    const logger = options.logger ?? this.#d.logger;
    const abort = new AbortController();
    // Made before anything runs: a check that cannot be made (no such user) refuses the run.
    const probes = this.#probeRun(experiment, logger, abort, options);
    const runner = new Runner({
      registry: this.#d.registry,
      ledger: this.#d.ledger,
      ctx: options.logger ? { ...this.#d.ctx, logger } : this.#d.ctx,
      runId: options.runId,
      owner: this.#d.owner,
      logger,
      ...(options.onPhase ? { onPhase: options.onPhase } : {}),
      ...(probes ? { observer: probes } : {}),
    });
    const forward = (signal: AbortSignal) => (): void => abort.abort(signal.reason);
    const fromCaller = forward(options.signal);
    const fromCrash = forward(this.#stopRuns.signal);
    for (const [signal, listener] of [[options.signal, fromCaller], [this.#stopRuns.signal, fromCrash]] as const) {
      if (signal.aborted) listener();
      else signal.addEventListener('abort', listener, { once: true });
    }
    const running = runner
      .run(experiment, abort.signal)
      .then(async (outcome) => {
        if (!probes) return outcome;
        await probes.close();
        return { ...outcome, probes: probes.report() };
      })
      .finally(() => {
        options.signal.removeEventListener('abort', fromCaller);
        this.#stopRuns.signal.removeEventListener('abort', fromCrash);
        void probes?.close();
      });
    this.#runs.add(running);
    const result = running
      .then(async (outcome) => {
        // Compaction only keeps the ledger small: its failure must not hide the run's outcome.
        await this.compactIfClean().catch((error: unknown) => logger.warn({ err: messageOf(error) }, 'ledger compaction failed, ignoring (it is retried after the next run)'));
        return outcome;
      })
      .finally(() => this.#runs.delete(running));
    return { runId: options.runId, live: () => runner.live(), result };
  }

  #probeRun(experiment: Experiment, logger: Logger, abort: AbortController, options: StartOptions): ProbeRun | undefined {
    if (experiment.probes.length === 0) return undefined;
    const { createCheck } = this.#d;
    if (!createCheck) throw new FaultdError('FAULTD_ERR_SESSION_ORDER', 'this session cannot run probes (no check factory)');
    return new ProbeRun({
      experiment,
      createCheck,
      logger,
      stop: (stop) => abort.abort(stop.detail),
      ...(options.onEvaluation ? { onEvaluation: options.onEvaluation } : {}),
    });
  }

  /** Runs an experiment to its end: start() and its result. */
  run(experiment: Experiment, options: StartOptions): Promise<ExperimentResult> {
    return this.start(experiment, options).result;
  }

  /**
   * Compacts the ledger when no fault in it is unresolved, so it stays small. True when it was
   * compacted.
   */
  async compactIfClean(): Promise<boolean> {
    const unresolved = [...(await this.#d.ledger.entries()).values()].some(isUnresolved);
    return unresolved ? false : this.#d.ledger.compact();
  }

  /**
   * Ends the session: the crash revert is dropped, one in progress is waited for (it writes to
   * the ledger), then the ledger is closed. Runs must have ended. Idempotent.
   */
  async close(): Promise<void> {
    if (this.#state === 'closed') return;
    const wasOpen = this.#state === 'open';
    this.#state = 'closed';
    this.#removeCrashRevert?.();
    this.#removeCrashRevert = undefined;
    await this.#guard.settled();
    if (wasOpen) await this.#d.ledger.close();
  }
}
