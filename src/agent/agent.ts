// SPDX-License-Identifier: Apache-2.0
/**
 * `faultd agent`'s loop: heartbeats (faster while a run executes, so an abort from the hub
 * arrives within one period), long-polls for tasks, runs one experiment at a time through the
 * same Runner as `faultd run`, ships status and numbered logs until acknowledged, and reports
 * the result, retrying until the hub has it. With no successful exchange for
 * `disconnectTimeout`, a running experiment is aborted and reverted on the agent's own, and the
 * result says why once the hub is back. Failures back off exponentially with full jitter.
 *
 * Each run's outbox is journaled on disk (run-journal.ts). At start, before polling, the agent
 * finishes what earlier processes left: it sends the rest of their logs and their result; a run
 * without a result was cut short (the agent was killed, or the host rebooted) and is reported
 * as `interrupted`, with the remnants that were reverted at start.
 */
import { hostname } from 'node:os';

import { pino, type Logger } from 'pino';

import type { Experiment, ExperimentResult, RemnantReport, Session } from '../engine/session.js';
import { messageOf } from '../errors.js';
import { API_PREFIX, HeartbeatResponse, LogsResponse, TaskResponse, type ResultRequest } from '../protocol/messages.js';
import { HubReplyError, type HubClient, type HubReply } from './hub-client.js';
import { RunOutbox } from './outbox.js';
import { fitResult } from './result-fit.js';
import { RunJournal, type JournalStart } from './run-journal.js';
import type { TokenSource } from './token-source.js';

export interface AgentTiming {
  readonly heartbeatMs: number;
  readonly runningHeartbeatMs: number;
  readonly pollWaitMs: number;
  readonly disconnectTimeoutMs: number;
}

export interface AgentDeps {
  readonly client: HubClient;
  readonly tokens: TokenSource;
  readonly logger: Logger;
  /** The open session that runs experiments on this host (the agent's only way to it). */
  readonly session: Session;
  readonly timing: AgentTiming;
  readonly version: string;
  /** Where run journals live (`<stateDir>/runs`). */
  readonly stateDir: string;
  /** One line of what the agent is doing now (systemd's STATUS=). */
  readonly onStatus?: (text: string) => void;
  /**
   * Called once when the agent stops, after polling ended and a running experiment's faults
   * were reverted, before its logs and result are flushed (systemd's STOPPING=1).
   */
  readonly onStopping?: () => void;
}

const BACKOFF_BASE_MS = 500;
const BACKOFF_CAP_MS = 30_000;
/** The longest `Retry-After` honoured (a larger one is taken as this). */
const RETRY_AFTER_CAP_MS = 300_000;
const MIN_POLL_INTERVAL_MS = 1_000;
/** How often a running experiment checks for a lost control plane. */
const DISCONNECT_CHECK_MS = 250;
const SHIP_INTERVAL_MS = 1_000;
const PHASE_SAMPLE_MS = 250;
const SHIP_BATCH = 500;
/** Well under the hub's 256 KiB body limit. */
const SHIP_BATCH_BYTES = 192 * 1024;

/** The hub answered 404 for a run: it no longer knows it, so nothing more can be sent. */
class RunUnknownToHub extends Error {}

/** The hub refused a body for good (400, 413): resending it cannot help. */
class RefusedByHub extends Error {}

/** Throws unless `status` is one of `ok`; a 404 means the hub has forgotten the run. */
function expectStatus(reply: HubReply<unknown>, ok: readonly number[]): void {
  if (ok.includes(reply.status)) return;
  const error = 'error' in reply ? reply.error : `HTTP ${reply.status}`;
  if (reply.status === 404) throw new RunUnknownToHub(error);
  if (reply.status === 400 || reply.status === 413) throw new RefusedByHub(error);
  throw HubReplyError.of(reply);
}

/** Whether `pid` exists (signal 0), for journals written without the agent's start time. */
function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as { code?: string }).code === 'EPERM';
  }
}

/** Capped exponential backoff with full jitter. */
function backoffMs(attempt: number): number {
  return Math.random() * Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** attempt);
}

/** The wait before retry `attempt`: the backoff, or longer when the hub said `Retry-After`. */
export function retryDelayMs(attempt: number, error: unknown): number {
  // A HubReplyError, or a token exchange's error, carries the hub's Retry-After.
  const retryAfter = (error as { retryAfterMs?: unknown } | undefined)?.retryAfterMs;
  const asked = typeof retryAfter === 'number' ? retryAfter : 0;
  return Math.max(backoffMs(attempt), Math.min(asked, RETRY_AFTER_CAP_MS));
}

/**
 * Waits `ms`, or less when one of `signals` aborts. (Not AbortSignal.any: on Node 20 each call
 * leaves an entry on the long-lived signal, so a heartbeat loop would grow without bound.)
 */
function sleep(ms: number, ...signals: AbortSignal[]): Promise<void> {
  return new Promise((resolve) => {
    if (signals.some((s) => s.aborted)) {
      resolve();
      return;
    }
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      for (const s of signals) s.removeEventListener('abort', done);
      resolve();
    }
    for (const s of signals) s.addEventListener('abort', done, { once: true });
  });
}

interface CurrentRun {
  readonly runId: string;
  readonly abort: AbortController;
  readonly outbox: RunOutbox;
}

export class Agent {
  readonly #d: AgentDeps;
  #lastContact = Date.now();
  #current: CurrentRun | undefined;
  #stoppingAnnounced = false;
  #recovered: readonly RemnantReport[] | undefined;
  #wakeHeartbeat: (() => void) | undefined;

  constructor(deps: AgentDeps) {
    this.#d = deps;
  }

  /**
   * Runs until `signal` aborts; a run in progress is then aborted and reverted first. Heartbeats
   * stop with it, and also when an error ends the loop, so the process can exit.
   */
  async run(signal: AbortSignal): Promise<void> {
    const heartbeatsStop = new AbortController();
    const onStop = (): void => heartbeatsStop.abort();
    signal.addEventListener('abort', onStop, { once: true });
    const heartbeats = this.#heartbeatLoop(heartbeatsStop.signal);
    try {
      await this.#finishEarlierRuns(signal);
      await this.#pollLoop(signal);
    } finally {
      this.#announceStopping();
      heartbeatsStop.abort();
      signal.removeEventListener('abort', onStop);
      await heartbeats;
    }
  }

  async #pollLoop(signal: AbortSignal): Promise<void> {
    let failures = 0;
    while (!signal.aborted) {
      const asked = Date.now();
      let task: TaskResponse | undefined;
      try {
        task = await this.#poll(signal);
        failures = 0;
      } catch (error) {
        if (signal.aborted) break;
        failures += 1;
        this.#d.logger.warn({ err: messageOf(error), attempt: failures }, 'task poll failed; backing off');
        await sleep(retryDelayMs(failures, error), signal);
        continue;
      }
      if (task) await this.#execute(task, signal);
      // A hub that answers "nothing" at once (pollWait under 1 s, or a control plane that does
      // not hold the call) is not asked again in a tight loop.
      else await sleep(MIN_POLL_INTERVAL_MS - (Date.now() - asked), signal);
    }
  }

  #announceStopping(): void {
    if (this.#stoppingAnnounced) return;
    this.#stoppingAnnounced = true;
    this.#d.onStopping?.();
  }

  async #poll(signal: AbortSignal): Promise<TaskResponse | undefined> {
    const waitSeconds = Math.floor(this.#d.timing.pollWaitMs / 1000);
    const reply = await this.#d.tokens.withToken((token) =>
      this.#d.client.get(`${API_PREFIX}/tasks/next?waitSeconds=${waitSeconds}`, TaskResponse, token, this.#d.timing.pollWaitMs, signal),
    );
    this.#contact();
    if (reply.status === 200 && 'body' in reply) return reply.body;
    if (reply.status !== 204) throw HubReplyError.of(reply);
    return undefined;
  }

  #contact(): void {
    this.#lastContact = Date.now();
  }

  async #heartbeatLoop(signal: AbortSignal): Promise<void> {
    let failures = 0;
    let lastError: unknown;
    while (!signal.aborted) {
      const current = this.#current;
      try {
        const reply = await this.#d.tokens.withToken((token) =>
          this.#d.client.post(
            `${API_PREFIX}/heartbeat`,
            { agentVersion: this.#d.version, hostname: hostname(), capabilities: this.#d.session.capabilities(), ...(current ? { runId: current.runId } : {}) },
            HeartbeatResponse,
            token,
          ),
        );
        if (reply.status !== 200 || !('body' in reply)) throw HubReplyError.of(reply);
        this.#contact();
        failures = 0;
        if (current && reply.body.abort.includes(current.runId) && !current.abort.signal.aborted) {
          this.#d.logger.warn({ runId: current.runId }, 'abort requested by the hub: reverting');
          current.outbox.add('warn', 'abort requested by the hub: reverting running faults, skipping remaining steps');
          current.abort.abort('aborted from the hub');
        }
      } catch (error) {
        failures += 1;
        lastError = error;
        this.#d.logger.warn({ err: messageOf(error), attempt: failures }, 'heartbeat failed');
      }
      const period = this.#current ? this.#d.timing.runningHeartbeatMs : this.#d.timing.heartbeatMs;
      const delay = failures > 0 ? Math.max(Math.min(period, backoffMs(failures)), retryDelayMs(0, lastError)) : period;
      // A run that starts meanwhile wakes the loop: its abort must not wait for an idle period.
      const wake = new AbortController();
      this.#wakeHeartbeat = () => wake.abort();
      await sleep(delay, signal, wake.signal);
      this.#wakeHeartbeat = undefined;
    }
  }

  async #execute(task: TaskResponse, shutdown: AbortSignal): Promise<void> {
    const { runId } = task.task;
    const start = { t: 'start' as const, runId, bootId: this.#d.session.bootId, pid: process.pid, startTime: this.#d.session.owner.startTime, at: new Date().toISOString(), nextSeq: 1 };
    const journal = this.#openJournal(start);
    const outbox = new RunOutbox(journal ? { journal: { start, file: journal } } : {});
    const abort = new AbortController();
    const onShutdown = (): void => abort.abort(typeof shutdown.reason === 'string' ? shutdown.reason : 'the agent is stopping');
    shutdown.addEventListener('abort', onShutdown, { once: true });
    this.#current = { runId, abort, outbox };
    this.#contact();
    this.#wakeHeartbeat?.();
    const watchdog = setInterval(() => this.#checkDisconnect(runId, outbox, abort), DISCONNECT_CHECK_MS);
    const runLogger = pino({ level: 'info', base: { runId } }, { write: (line: string) => outbox.addPinoLine(line) });
    this.#d.logger.info({ runId }, 'task received');
    this.#d.onStatus?.(`running ${runId}`);
    const stopShipping = new AbortController();
    const shipping = this.#shipLoop(runId, outbox, stopShipping.signal);
    let result: ResultRequest;
    try {
      const validated = this.#d.session.validate(task.task.experiment);
      if (!validated.ok) {
        const reason = validated.problems.map((p) => `${p.path}: ${p.message}`).join('; ');
        outbox.status({ phase: 'rejected', detail: reason.slice(0, 2000) });
        outbox.add('error', `experiment rejected, nothing was changed on the host: ${reason}`);
        result = { verdict: 'rejected', reason: reason.slice(0, 4000), faults: [] };
      } else {
        outbox.status({ phase: 'running' });
        result = this.#resultOf(await this.#runExperiment(runId, validated.experiment, runLogger, outbox, abort.signal), abort.signal);
      }
    } catch (error) {
      outbox.add('error', `run failed: ${messageOf(error)}`);
      result = { verdict: 'failed', reason: messageOf(error).slice(0, 4000), faults: [] };
    } finally {
      clearInterval(watchdog);
      shutdown.removeEventListener('abort', onShutdown);
    }
    // Stop order: polling stopped, faults reverted (above), STOPPING, then the logs are flushed.
    if (shutdown.aborted) this.#announceStopping();
    outbox.status({ phase: 'finished', detail: result.verdict });
    outbox.setResult(result);
    stopShipping.abort();
    await shipping;
    if (await this.#deliver(runId, outbox, result, shutdown)) journal?.remove();
    else journal?.close();
    this.#current = undefined;
    this.#d.logger.info({ runId, verdict: result.verdict }, 'run finished');
    this.#d.onStatus?.(`idle; last run ${runId}: ${result.verdict}`);
  }

  async #runExperiment(runId: string, experiment: Experiment, logger: Logger, outbox: RunOutbox, signal: AbortSignal): Promise<ExperimentResult> {
    const run = this.#d.session.start(experiment, { runId, signal, logger });
    const phases = new Map<string, string>();
    const sampler = setInterval(() => {
      for (const fault of run.live()) {
        if (phases.get(fault.spec.id) === fault.phase) continue;
        phases.set(fault.spec.id, fault.phase);
        outbox.status({ faultId: fault.spec.id, phase: fault.phase, ...(fault.target ? { detail: fault.target.slice(0, 2000) } : {}) });
      }
    }, PHASE_SAMPLE_MS);
    try {
      return await run.result;
    } finally {
      clearInterval(sampler);
    }
  }

  #resultOf(result: ExperimentResult, signal: AbortSignal): ResultRequest {
    const reason = signal.aborted ? String(signal.reason ?? 'aborted') : undefined;
    // A run cut short by a reboot is `interrupted`, whatever the runner made of the abort.
    const interrupted = reason?.startsWith('interrupted') === true && result.verdict === 'aborted';
    return {
      verdict: interrupted ? 'interrupted' : result.verdict,
      ...(reason ? { reason } : {}),
      faults: result.faults.map((f) => ({
        faultId: f.id,
        kind: f.kind,
        status: f.status,
        ...(f.revert ? { revert: JSON.stringify(f.revert).slice(0, 4000) } : {}),
        ...(f.error ? { error: f.error.slice(0, 4000) } : {}),
      })),
    };
  }

  /** While the run executes: ship what is owed every second. */
  async #shipLoop(runId: string, outbox: RunOutbox, stop: AbortSignal): Promise<void> {
    while (!stop.aborted) {
      await this.#flush(runId, outbox).catch(() => undefined);
      await sleep(SHIP_INTERVAL_MS, stop);
    }
  }

  /**
   * Aborts the run once no exchange with the hub has succeeded for `disconnectTimeout`. It runs
   * on its own timer: a call that hangs until its own timeout cannot delay it.
   */
  #checkDisconnect(runId: string, outbox: RunOutbox, abort: AbortController): void {
    const silentMs = Date.now() - this.#lastContact;
    if (silentMs <= this.#d.timing.disconnectTimeoutMs || abort.signal.aborted) return;
    this.#d.logger.error({ runId, silentMs }, 'control plane unreachable: aborting and reverting the run');
    outbox.add('error', `control plane unreachable for ${Math.round(silentMs / 1000)} s: aborting and reverting`);
    abort.abort('control plane unreachable');
  }

  /** Sends pending status events and log lines once; throws if the hub cannot be reached. */
  async #flush(runId: string, outbox: RunOutbox): Promise<void> {
    const events = outbox.takeStatus(SHIP_BATCH);
    if (events.length) {
      const reply = await this.#d.tokens.withToken((token) => this.#d.client.post(`${API_PREFIX}/runs/${runId}/status`, { events }, LogsResponse, token));
      this.#contact();
      try {
        expectStatus(reply, [204, 409]);
      } catch (error) {
        if (!(error instanceof RefusedByHub)) throw error;
        this.#d.logger.error({ runId, err: error.message, events: events.length }, 'the hub refused status events; they are left out');
      }
      outbox.statusSent(events.length);
    }
    for (let entries = outbox.pendingLogs(SHIP_BATCH, SHIP_BATCH_BYTES); entries.length; entries = outbox.pendingLogs(SHIP_BATCH, SHIP_BATCH_BYTES)) {
      const reply = await this.#d.tokens.withToken((token) => this.#d.client.post(`${API_PREFIX}/runs/${runId}/logs`, { entries }, LogsResponse, token));
      if (!('body' in reply)) {
        try {
          expectStatus(reply, []);
        } catch (error) {
          if (!(error instanceof RefusedByHub)) throw error;
          // Notes under the same numbers go instead, so the acknowledgement can move on.
          this.#d.logger.error({ runId, err: error.message, lines: entries.length }, 'the hub refused log lines; sending notes in their place');
          outbox.replaceRefused(entries.map((e) => e.seq), error.message);
          continue;
        }
        return;
      }
      this.#contact();
      const before = entries.at(-1)?.seq ?? 0;
      outbox.acknowledge(reply.body.ackedThrough);
      if (reply.body.ackedThrough < before) break; // a gap the hub is still missing: resend next time
    }
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

  /**
   * Runs left by earlier agent processes: each journal's remaining logs and result go to the hub
   * before this agent asks for new work (the hub starts an infrastructure's next run only after
   * the result of the previous one).
   */
  async #finishEarlierRuns(shutdown: AbortSignal): Promise<void> {
    for (const file of RunJournal.list(this.#d.stateDir)) {
      if (shutdown.aborted) return;
      let outbox: RunOutbox;
      let journal: RunJournal;
      try {
        const contents = RunJournal.read(file);
        journal = RunJournal.reopen(contents);
        outbox = RunOutbox.restore(contents.records, journal);
        if (contents.invalidLines) outbox.add('warn', `${contents.invalidLines} unreadable line(s) in the agent's journal of this run were skipped`);
      } catch (error) {
        this.#d.logger.error({ file, err: messageOf(error) }, 'unreadable run journal; its logs cannot be sent (file left for inspection)');
        continue;
      }
      const start = outbox.start;
      if (!start) continue;
      if (start.bootId === this.#d.session.bootId && start.pid !== process.pid && this.#alive(start)) {
        this.#d.logger.warn({ runId: start.runId, pid: start.pid }, 'a run journal of another live faultd agent on this state dir: left to it');
        journal.close();
        continue;
      }
      journal.onFailure((error) => this.#d.logger.error({ runId: start.runId, err: messageOf(error) }, 'run journal write failed'));
      const result = outbox.result ?? this.#interruptedResult(start, outbox);
      this.#d.onStatus?.(`reporting ${start.runId} (${result.verdict}) from an earlier agent process`);
      this.#d.logger.info({ runId: start.runId, verdict: result.verdict }, 'sending what an earlier agent process owed the hub for this run');
      if (await this.#deliver(start.runId, outbox, result, shutdown)) journal.remove();
      else journal.close();
    }
    // Every interrupted run is reported: what was recovered for them is no longer needed.
    if (!shutdown.aborted) this.#d.session.clearRecoveredRemnants();
  }

  /** Whether the agent process that started a journal still runs (pid and start time, so pid reuse cannot fool it). */
  #alive(start: JournalStart): boolean {
    if (start.startTime === undefined) return pidExists(start.pid);
    return this.#d.session.processAlive(start.pid, start.startTime);
  }

  /** What was reverted at start, by this process or by `revert --remnants` before it (read once). */
  #remnants(): readonly RemnantReport[] {
    this.#recovered ??= this.#d.session.recoveredRemnants();
    return this.#recovered;
  }

  /** The result of a run that an earlier agent process never finished: what was reverted at start. */
  #interruptedResult(start: { runId: string; bootId: string; pid: number }, outbox: RunOutbox): ResultRequest {
    const rebooted = start.bootId !== this.#d.session.bootId;
    const why = rebooted ? 'interrupted by reboot' : `interrupted: the agent (pid ${start.pid}) stopped abruptly`;
    const remnants = this.#remnants().filter((r) => r.runId === start.runId);
    const reverted = remnants.filter((r) => 'ok' in r.result && r.result.ok).length;
    const summary = remnants.length
      ? `${remnants.length} fault(s) left applied were reverted when the agent started again (${reverted} verified, ${remnants.length - reverted} failed: see the log)`
      : 'no fault of this run was left applied';
    outbox.add(rebooted ? 'warn' : 'error', `${why}; ${summary}`);
    const result: ResultRequest = {
      verdict: 'interrupted',
      reason: `${why}; ${summary}`,
      faults: remnants.map((r) => ({
        // The ledger keys a fault as `<runId>-<fault id>`; the result uses the experiment's id.
        faultId: r.faultId.startsWith(`${start.runId}-`) ? r.faultId.slice(start.runId.length + 1) : r.faultId,
        kind: r.kind,
        status: 'interrupted',
        revert: JSON.stringify(r.result).slice(0, 4000),
      })),
    };
    outbox.status({ phase: 'finished', detail: result.verdict });
    outbox.setResult(result);
    return result;
  }

  /**
   * Sends everything owed and the result, retrying with backoff until the hub has them. False
   * when the agent stops first (the journal keeps them for the next start).
   */
  async #deliver(runId: string, outbox: RunOutbox, result: ResultRequest, shutdown: AbortSignal): Promise<boolean> {
    let sent = fitResult(result, SHIP_BATCH_BYTES);
    for (let attempt = 0; ; attempt += 1) {
      try {
        await this.#flush(runId, outbox);
        const reply = await this.#d.tokens.withToken((token) => this.#d.client.post(`${API_PREFIX}/runs/${runId}/result`, sent, LogsResponse, token));
        expectStatus(reply, [204, 409]);
        this.#contact();
        await this.#flush(runId, outbox);
        return true;
      } catch (error) {
        if (error instanceof RefusedByHub && sent.faults.length > 0) {
          // The run must still close on the hub, or its queue waits: the verdict alone, with why.
          this.#d.logger.error({ runId, err: error.message }, 'the hub refused the result (400/413): sending the verdict without the fault list; every outcome is in the run log');
          const why = `the hub refused the full result (${error.message})`;
          sent = { verdict: result.verdict, reason: (result.reason ? `${result.reason}; ${why}` : why).slice(0, 4000), faults: [] };
          continue;
        }
        if (error instanceof RefusedByHub) {
          this.#d.logger.error({ runId, err: error.message }, 'the hub refused even the bare verdict (400/413): dropping it; see the agent log');
          return true;
        }
        if (error instanceof RunUnknownToHub) {
          this.#d.logger.error({ runId, err: error.message }, 'the hub does not know this run (was its database reset?): dropping its result and logs');
          return true;
        }
        if (shutdown.aborted) {
          this.#d.logger.error({ runId, err: messageOf(error) }, 'stopping before the hub received the result; it is sent at the next start');
          return false;
        }
        this.#d.logger.warn({ runId, err: messageOf(error), attempt: attempt + 1 }, 'result not delivered yet; retrying');
        await sleep(retryDelayMs(attempt + 1, error), shutdown);
      }
    }
  }
}
