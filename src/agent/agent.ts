// SPDX-License-Identifier: Apache-2.0
/**
 * `faultd agent`'s loop, which does hub traffic and nothing else: it finishes what earlier
 * agent processes owed the hub (earlier-runs.ts), then long-polls for tasks and executes one at
 * a time (run-executor.ts), while the heartbeat (heartbeat.ts) runs beside it. The host is
 * reached only through the open Session it is given. Failures back off with full jitter
 * (backoff.ts).
 */
import type { Logger } from 'pino';

import type { Session } from '../engine/session.js';
import { messageOf } from '../errors.js';
import { TaskReply } from '../protocol/agent-replies.js';
import { API_PREFIX } from '../protocol/constants.js';
import type { AgentIdentity } from '../protocol/messages.js';
import { retryDelayMs } from './backoff.js';
import { finishEarlierRuns } from './earlier-runs.js';
import { Heartbeat } from './heartbeat.js';
import { HubReplyError, type HubClient } from './hub-client.js';
import { HubLink } from './hub-link.js';
import { RunExecutor } from './run-executor.js';
import { Shipper } from './shipper.js';
import { sleep } from './sleep.js';
import { AgentRefusedByHub, type TokenSource } from './token-source.js';

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
  /** Hold the abort call open while a run executes (default true); false: heartbeats alone carry aborts. */
  readonly abortCall?: boolean;
  readonly version: string;
  /** This agent instance (agent-identity.ts), sent with heartbeats as with token exchanges. */
  readonly identity?: AgentIdentity;
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

/** A hub that answers "nothing" at once is not asked again sooner than this. */
const MIN_POLL_INTERVAL_MS = 1_000;

export class Agent {
  readonly #d: AgentDeps;
  readonly #link: HubLink;
  readonly #shipper: Shipper;
  readonly #executor: RunExecutor;
  readonly #heartbeat: Heartbeat;
  #stoppingAnnounced = false;

  constructor(deps: AgentDeps) {
    this.#d = deps;
    this.#link = new HubLink(deps.client, deps.tokens);
    this.#shipper = new Shipper(this.#link, deps.logger);
    const stopping = (): void => this.#announceStopping();
    this.#executor = new RunExecutor({
      session: deps.session,
      link: this.#link,
      shipper: this.#shipper,
      logger: deps.logger,
      stateDir: deps.stateDir,
      disconnectTimeoutMs: deps.timing.disconnectTimeoutMs,
      // Held like a task poll, but at least 1 s (pollWait may be 0).
      abortWaitMs: deps.abortCall === false ? 0 : Math.max(1000, deps.timing.pollWaitMs),
      onRunStarted: () => this.#heartbeat.wake(),
      onStopping: stopping,
      ...(deps.onStatus ? { onStatus: deps.onStatus } : {}),
    });
    this.#heartbeat = new Heartbeat({
      link: this.#link,
      logger: deps.logger,
      agentVersion: deps.version,
      capabilities: deps.session.capabilities(),
      ...(deps.identity ? { agent: deps.identity } : {}),
      idleMs: deps.timing.heartbeatMs,
      runningMs: deps.timing.runningHeartbeatMs,
      currentRunId: () => this.#executor.currentRunId,
      onAbortRequested: (runId) => this.#executor.abortFromHub(runId),
    });
  }

  /**
   * Runs until `signal` aborts; a run in progress is then aborted and reverted first. Heartbeats
   * stop with it, and also when an error ends the loop, so the process can exit.
   */
  async run(signal: AbortSignal): Promise<void> {
    const heartbeatsStop = new AbortController();
    const onStop = (): void => heartbeatsStop.abort();
    signal.addEventListener('abort', onStop, { once: true });
    const heartbeats = this.#heartbeat.run(heartbeatsStop.signal);
    try {
      const { session, logger, stateDir, onStatus } = this.#d;
      await finishEarlierRuns({ session, link: this.#link, shipper: this.#shipper, logger, stateDir, ...(onStatus ? { onStatus } : {}) }, signal);
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
      let task: TaskReply | undefined;
      try {
        task = await this.#poll(signal);
        failures = 0;
      } catch (error) {
        if (signal.aborted) break;
        failures += 1;
        // A refusal of this instance was logged once, as an error, by the token source.
        this.#d.logger[error instanceof AgentRefusedByHub ? 'debug' : 'warn']({ err: messageOf(error), attempt: failures }, 'task poll failed; backing off');
        await sleep(this.#retryDelayMs(failures, error), signal);
        continue;
      }
      if (task) await this.#executor.execute(task, signal);
      // A hub that answers "nothing" at once (pollWait under 1 s, or a control plane that does
      // not hold the call) is not asked again in a tight loop.
      else await sleep(MIN_POLL_INTERVAL_MS - (Date.now() - asked), signal);
    }
  }

  async #poll(signal: AbortSignal): Promise<TaskReply | undefined> {
    const { pollWaitMs } = this.#d.timing;
    const reply = await this.#link.get(`${API_PREFIX}/tasks/next?waitSeconds=${Math.floor(pollWaitMs / 1000)}`, TaskReply, pollWaitMs, signal);
    if (reply.status === 200 && 'body' in reply) return reply.body;
    if (reply.status !== 204) throw HubReplyError.of(reply);
    return undefined;
  }

  /**
   * The wait before the next poll after `failures` failures: the backoff, but at most a heartbeat
   * period while the hub refuses this instance, so an operator's `hub infra release` is taken
   * up within one heartbeat period (the heartbeat retries the exchange as often).
   */
  #retryDelayMs(failures: number, error: unknown): number {
    const delay = retryDelayMs(failures, error);
    return error instanceof AgentRefusedByHub ? Math.min(delay, this.#d.timing.heartbeatMs) : delay;
  }

  #announceStopping(): void {
    if (this.#stoppingAnnounced) return;
    this.#stoppingAnnounced = true;
    this.#d.onStopping?.();
  }
}
