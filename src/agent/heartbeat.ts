// SPDX-License-Identifier: Apache-2.0
/**
 * The agent's heartbeat: liveness, version and capabilities for the hub, which answers with the
 * runs it wants aborted. Faster while a run executes; a run that starts wakes it, so its first
 * beat (and an abort in its answer) does not wait for an idle period. It is the abort path of
 * control planes without the abort call (abort-channel.ts), and the fallback of those with it.
 */
import { hostname } from 'node:os';

import { messageOf } from '../errors.js';
import type { LogSink } from '../log-sink.js';
import { HeartbeatReply } from '../protocol/agent-replies.js';
import { API_PREFIX } from '../protocol/constants.js';
import type { AgentIdentity, HeartbeatRequest } from '../protocol/messages.js';
import { periodicDelayMs } from './backoff.js';
import { firstBeatAt, nextBeatAt } from './beat-schedule.js';
import { HubReplyError } from './hub-client.js';
import type { HubLink } from './hub-link.js';
import { AgentRefusedByHub } from './token-source.js';
import { sleep } from './sleep.js';

export interface HeartbeatDeps {
  readonly link: HubLink;
  readonly logger: LogSink;
  readonly agentVersion: string;
  readonly capabilities: readonly string[];
  /** This agent instance (agent-identity.ts), sent with every beat; absent: not sent. */
  readonly agent?: AgentIdentity;
  readonly idleMs: number;
  readonly runningMs: number;
  /** The run executing now, if any. */
  readonly currentRunId: () => string | undefined;
  /** The hub wants this run aborted (called on every beat that says so). */
  readonly onAbortRequested: (runId: string) => void;
}

export class Heartbeat {
  readonly #d: HeartbeatDeps;
  #wake: (() => void) | undefined;

  constructor(deps: HeartbeatDeps) {
    this.#d = deps;
  }

  /**
   * Beats until `signal` aborts. Never throws: failures are logged and backed off. A healthy
   * beat keeps its own phase (beat-schedule.ts): its period counts from when it was due, not
   * from the hub's answer; after a failure or a wake() the phase starts again from that beat.
   */
  async run(signal: AbortSignal): Promise<void> {
    let failures = 0;
    let lastError: unknown;
    let due = performance.now();
    let first = true;
    while (!signal.aborted) {
      const runId = this.#d.currentRunId();
      try {
        await this.#beat(runId);
        failures = 0;
      } catch (error) {
        failures += 1;
        lastError = error;
        // A refusal of this instance was logged once, as an error, by the token source.
        this.#d.logger[error instanceof AgentRefusedByHub ? 'debug' : 'warn']({ err: messageOf(error), attempt: failures }, 'heartbeat failed');
      }
      const period = this.#d.currentRunId() === undefined ? this.#d.idleMs : this.#d.runningMs;
      const now = performance.now();
      if (failures === 0) due = first ? firstBeatAt(now, period) : nextBeatAt(due, period, now);
      first = false;
      const wake = new AbortController();
      this.#wake = () => wake.abort();
      await sleep(failures === 0 ? due - now : periodicDelayMs(period, failures, lastError), signal, wake.signal);
      this.#wake = undefined;
      // Woken early or backed off: this beat is the new phase.
      if (wake.signal.aborted || failures > 0) due = performance.now();
    }
  }

  /** Beats now instead of at the end of the current period (a run started). */
  wake(): void {
    this.#wake?.();
  }

  async #beat(runId: string | undefined): Promise<void> {
    const body: HeartbeatRequest = {
      agentVersion: this.#d.agentVersion,
      hostname: this.#d.agent?.hostname ?? hostname(),
      capabilities: [...this.#d.capabilities],
      ...(runId ? { runId } : {}),
      ...(this.#d.agent ? { agent: this.#d.agent } : {}),
    };
    const reply = await this.#d.link.post(`${API_PREFIX}/heartbeat`, body, HeartbeatReply);
    if (reply.status !== 200 || !('body' in reply)) throw HubReplyError.of(reply);
    if (runId && reply.body.abort.includes(runId)) this.#d.onAbortRequested(runId);
  }
}
