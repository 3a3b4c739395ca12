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
import type { TaskReply } from '../protocol/agent-replies.js';
import type { AgentIdentity } from '../protocol/messages.js';
import { finishEarlierRuns } from './earlier-runs.js';
import { Heartbeat } from './heartbeat.js';
import type { HubClient } from './hub-client.js';
import { HubLink } from './hub-link.js';
import { RunExecutor } from './run-executor.js';
import { Shipper } from './shipper.js';
import { pollForTasks } from './task-poll.js';
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
    await this.#withHeartbeat(signal, 'always', async () => {
      const { session, logger, stateDir, onStatus } = this.#d;
      await finishEarlierRuns({ session, link: this.#link, shipper: this.#shipper, logger, stateDir, ...(onStatus ? { onStatus } : {}) }, signal);
      const { pollWaitMs, heartbeatMs } = this.#d.timing;
      await pollForTasks({ link: this.#link, logger, pollWaitMs, heartbeatMs, execute: (task, stop) => this.#executor.execute(task, stop) }, signal);
    });
  }

  /**
   * The agent's start in a prepare worker of the idle agent: what earlier agent processes owed
   * the hub (earlier-runs.ts), then it returns. No heartbeat of its own: the idle process, which
   * heartbeats, starts right after, and a hub that refuses this instance is reported once, by it.
   */
  async finishEarlierRuns(signal: AbortSignal): Promise<void> {
    const { session, logger, stateDir, onStatus } = this.#d;
    await finishEarlierRuns({ session, link: this.#link, shipper: this.#shipper, logger, stateDir, ...(onStatus ? { onStatus } : {}) }, signal);
  }

  /** One task the idle agent polled, executed to its end and delivered, with heartbeats beside it. */
  async executeOne(task: TaskReply, signal: AbortSignal): Promise<void> {
    await this.#withHeartbeat(signal, 'when-stopped', () => this.#executor.execute(task, signal));
  }

  /**
   * Runs `work` with the heartbeat beside it; the heartbeat stops with it, so the process can
   * exit. On the way out the owner hears "stopping" once: always (the poll loop ends only when
   * the agent stops or fails), or only when `signal` stopped the work.
   */
  async #withHeartbeat(signal: AbortSignal, announce: 'always' | 'when-stopped', work: () => Promise<void>): Promise<void> {
    const heartbeatsStop = new AbortController();
    const onStop = (): void => heartbeatsStop.abort();
    signal.addEventListener('abort', onStop, { once: true });
    const heartbeats = this.#heartbeat.run(heartbeatsStop.signal);
    try {
      await work();
    } finally {
      if (announce === 'always' || signal.aborted) this.#announceStopping();
      heartbeatsStop.abort();
      signal.removeEventListener('abort', onStop);
      await heartbeats;
    }
  }

  #announceStopping(): void {
    if (this.#stoppingAnnounced) return;
    this.#stoppingAnnounced = true;
    this.#d.onStopping?.();
  }
}
