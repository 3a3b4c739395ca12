// SPDX-License-Identifier: Apache-2.0
/**
 * Executes one task from the hub: journals its outbox on disk, validates the experiment against
 * this host, runs it through the session, reports every phase change of every fault (as the
 * session reports it, however short) and logs while it runs, and delivers the result. While it runs, the hub can abort it (the abort call, or a heartbeat), and
 * a hub silent for `disconnectTimeout` aborts it from here.
 */
import { pino, type Logger } from 'pino';

import type { Experiment, ExperimentResult, PhaseChange, Session } from '../engine/session.js';
import type { Evaluation } from '../probes/evaluation.js';
import type { ProbeReport } from '../probes/scheduler.js';
import type { ProbeSpec } from '../probes/types.js';
import { messageOf } from '../errors.js';
import type { TaskReply } from '../protocol/agent-replies.js';
import type { ResultRequest } from '../protocol/messages.js';
import { watchForAbort } from './abort-channel.js';
import { watchForDisconnect } from './disconnect-watchdog.js';
import type { HubLink } from './hub-link.js';
import { RunOutbox } from './outbox.js';
import { deliverResult } from './result-delivery.js';
import { RunJournal, type JournalStart } from './run-journal.js';
import type { Shipper } from './shipper.js';

/** The abort reason (and result reason) of a run the hub aborted. */
export const ABORTED_FROM_HUB = 'aborted from the hub';

export interface RunExecutorDeps {
  readonly session: Session;
  readonly link: HubLink;
  readonly shipper: Shipper;
  readonly logger: Logger;
  /** Where run journals live (`<stateDir>/runs`). */
  readonly stateDir: string;
  readonly disconnectTimeoutMs: number;
  /** How long one abort call may be held by the hub; 0: no abort call (heartbeats carry aborts). */
  readonly abortWaitMs: number;
  /** A run started (the heartbeat beats now). */
  readonly onRunStarted?: () => void;
  /** One line of what the agent is doing now (systemd's STATUS=). */
  readonly onStatus?: (text: string) => void;
  /** The agent is stopping and this run's faults are reverted: before its last logs go out. */
  readonly onStopping?: () => void;
}

interface CurrentRun {
  readonly runId: string;
  readonly abort: AbortController;
  readonly outbox: RunOutbox;
}

export class RunExecutor {
  readonly #d: RunExecutorDeps;
  #current: CurrentRun | undefined;

  constructor(deps: RunExecutorDeps) {
    this.#d = deps;
  }

  /** The run executing now, if any. */
  get currentRunId(): string | undefined {
    return this.#current?.runId;
  }

  /** The hub wants `runId` aborted: its faults revert now and its remaining steps are skipped. */
  abortFromHub(runId: string, detail?: string): void {
    const current = this.#current;
    if (!current || current.runId !== runId || current.abort.signal.aborted) return;
    this.#d.logger.warn({ runId, ...(detail ? { detail } : {}) }, 'abort requested by the hub: reverting');
    current.outbox.add('warn', 'abort requested by the hub: reverting running faults, skipping remaining steps');
    current.abort.abort(ABORTED_FROM_HUB);
  }

  /** Runs `task` to its end and delivers its result (or journals it when `shutdown` comes first). */
  async execute(task: TaskReply, shutdown: AbortSignal): Promise<void> {
    const { runId } = task.task;
    const { session, link, logger } = this.#d;
    const start: JournalStart = { t: 'start', runId, bootId: session.bootId, pid: process.pid, startTime: session.owner.startTime, at: new Date().toISOString(), nextSeq: 1 };
    const journal = this.#openJournal(start);
    const outbox = new RunOutbox(journal ? { journal: { start, file: journal } } : {});
    const abort = new AbortController();
    const onShutdown = (): void => abort.abort(typeof shutdown.reason === 'string' ? shutdown.reason : 'the agent is stopping');
    shutdown.addEventListener('abort', onShutdown, { once: true });
    this.#current = { runId, abort, outbox };
    link.touch();
    this.#d.onRunStarted?.();
    const stopWatchdog = watchForDisconnect({
      lastContactAt: () => link.lastContactAt,
      timeoutMs: this.#d.disconnectTimeoutMs,
      onLost: (silentMs) => {
        if (abort.signal.aborted) return;
        logger.error({ runId, silentMs }, 'control plane unreachable: aborting and reverting the run');
        outbox.add('error', `control plane unreachable for ${Math.round(silentMs / 1000)} s: aborting and reverting`);
        abort.abort('control plane unreachable');
      },
    });
    const runEnded = new AbortController();
    // Not awaited: its last call may wait on a token exchange to a hub that is gone (up to 20 s),
    // and delivery must not; it ends by itself once the run has ended, and calls nothing then.
    if (this.#d.abortWaitMs > 0) void watchForAbort({ link, logger, waitMs: this.#d.abortWaitMs }, runId, runEnded.signal, (reason) => this.abortFromHub(runId, reason));
    const runLogger = pino({ level: 'info', base: { runId } }, { write: (line: string) => outbox.addPinoLine(line) });
    logger.info({ runId }, 'task received');
    this.#d.onStatus?.(`running ${runId}`);
    const stopShipping = new AbortController();
    const shipping = this.#d.shipper.loop(runId, outbox, stopShipping.signal);
    let result: ResultRequest;
    try {
      result = await this.#validateAndRun(runId, task.task.experiment, runLogger, outbox, abort.signal);
    } finally {
      stopWatchdog();
      runEnded.abort();
      shutdown.removeEventListener('abort', onShutdown);
    }
    // Stop order: polling stopped, faults reverted (above), STOPPING, then the logs are flushed.
    if (shutdown.aborted) this.#d.onStopping?.();
    outbox.status({ phase: 'finished', detail: result.verdict });
    outbox.setResult(result);
    stopShipping.abort();
    await shipping;
    if (await deliverResult(this.#d, runId, outbox, result, shutdown)) journal?.remove();
    else journal?.close();
    this.#current = undefined;
    logger.info({ runId, verdict: result.verdict }, 'run finished');
    this.#d.onStatus?.(`idle; last run ${runId}: ${result.verdict}`);
  }

  async #validateAndRun(runId: string, document: unknown, runLogger: Logger, outbox: RunOutbox, signal: AbortSignal): Promise<ResultRequest> {
    try {
      const validated = this.#d.session.validate(document);
      if (!validated.ok) {
        const reason = validated.problems.map((p) => `${p.path}: ${p.message}`).join('; ');
        outbox.status({ phase: 'rejected', detail: reason.slice(0, 2000) });
        outbox.add('error', `experiment rejected, nothing was changed on the host: ${reason}`);
        return { verdict: 'rejected', reason: reason.slice(0, 4000), faults: [] };
      }
      for (const warning of validated.warnings) outbox.add('warn', `${warning.path}: ${warning.message}`);
      let started: Promise<ExperimentResult>;
      try {
        started = this.#start(runId, validated.experiment, runLogger, outbox, signal);
      } catch (error) {
        // start() refuses before anything runs (e.g. no user for the command probes).
        const reason = messageOf(error);
        outbox.status({ phase: 'rejected', detail: reason.slice(0, 2000) });
        outbox.add('error', `experiment rejected, nothing was changed on the host: ${reason}`);
        return { verdict: 'rejected', reason: reason.slice(0, 4000), faults: [] };
      }
      outbox.status({ phase: 'running' });
      return resultOf(await started, signal);
    } catch (error) {
      outbox.add('error', `run failed: ${messageOf(error)}`);
      return { verdict: 'failed', reason: messageOf(error).slice(0, 4000), faults: [] };
    }
  }

  /** Starts the run; throws, having changed nothing, when the session refuses it. */
  #start(runId: string, experiment: Experiment, logger: Logger, outbox: RunOutbox, signal: AbortSignal): Promise<ExperimentResult> {
    const onPhase = (change: PhaseChange): void => {
      outbox.status({ faultId: change.faultId, phase: change.phase, ...(change.target ? { detail: change.target.slice(0, 2000) } : {}) });
    };
    const onEvaluation = (evaluation: Evaluation, probe: ProbeSpec): void => {
      const faultId = probe.scope.level === 'fault' ? probe.scope.faultId : undefined;
      const detail = `${probe.name} (${probe.check.type}, ${evaluation.phase}): ${evaluation.observed}; ${evaluation.criterion}; ${evaluation.latencyMs} ms${evaluation.error ? `; ${evaluation.error}` : ''}`;
      outbox.status({ ...(faultId ? { faultId } : {}), phase: evaluation.passed ? 'probe-passed' : 'probe-failed', detail: detail.slice(0, 2000) });
    };
    return this.#d.session.start(experiment, { runId, signal, logger, onPhase, onEvaluation }).result;
  }

  /** The run's journal; without one (disk full, state dir unwritable) the run goes on in memory. */
  #openJournal(start: JournalStart): RunJournal | undefined {
    try {
      const journal = RunJournal.create(this.#d.stateDir, start);
      journal.onFailure((error) => this.#d.logger.error({ runId: start.runId, err: messageOf(error) }, 'run journal write failed: its logs are kept in memory only from now on'));
      return journal;
    } catch (error) {
      this.#d.logger.error({ runId: start.runId, err: messageOf(error) }, 'cannot create the run journal: its logs are kept in memory only');
      return undefined;
    }
  }
}

/** The protocol's result of a run the session ran. */
export function resultOf(result: ExperimentResult, signal: AbortSignal): ResultRequest {
  const reason = reasonOf(signal, result.probes);
  // A run cut short by a reboot is `interrupted`, whatever the runner made of the abort.
  const interrupted = reason?.startsWith('interrupted') === true && result.verdict === 'aborted';
  const report = result.probes;
  const scoreOf = new Map(report?.faults.map((f) => [f.faultId, f]) ?? []);
  return {
    verdict: interrupted ? 'interrupted' : result.verdict,
    ...(reason ? { reason } : {}),
    faults: result.faults.map((f) => {
      const score = scoreOf.get(f.id);
      return {
        faultId: f.id,
        kind: f.kind,
        status: f.status,
        ...(f.revert ? { revert: JSON.stringify(f.revert).slice(0, 4000) } : {}),
        ...(f.error ? { error: f.error.slice(0, 4000) } : {}),
        ...(score ? { weight: score.weight } : {}),
        ...(score?.successPercent === undefined ? {} : { probeSuccessPercent: score.successPercent }),
      };
    }),
    ...(report ? probeFields(report) : {}),
  };
}

/** Why the run stopped: the abort's reason, or the probe that stopped it. */
function reasonOf(signal: AbortSignal, report: ProbeReport | undefined): string | undefined {
  if (signal.aborted) return String(signal.reason ?? 'aborted');
  return report?.stoppedBy ? `stopped by probe ${report.stoppedBy.probe}: ${report.stoppedBy.detail}`.slice(0, 4000) : undefined;
}

function probeFields(report: ProbeReport): Pick<ResultRequest, 'resilienceScore' | 'probes' | 'stoppedBy'> {
  return {
    ...(report.resilienceScore === undefined ? {} : { resilienceScore: report.resilienceScore }),
    probes: report.probes.map((p) => ({
      ...p,
      ...(p.last === undefined ? {} : { last: p.last.slice(0, 2000) }),
      ...(p.firstFailure === undefined ? {} : { firstFailure: p.firstFailure.slice(0, 2000) }),
    })),
    ...(report.stoppedBy ? { stoppedBy: { probe: report.stoppedBy.probe, detail: report.stoppedBy.detail.slice(0, 2000) } } : {}),
  };
}
