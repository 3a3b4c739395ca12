// SPDX-License-Identifier: Apache-2.0
/**
 * The idle agent's loop: heartbeats and the long-poll for tasks, and nothing that touches the
 * host. Each task goes to a run worker (workers.ts); while it runs, the worker heartbeats and
 * this loop's heartbeat rests. A worker that dies without finishing (killed, crashed) is
 * followed by a prepare worker, which reverts what it left and reports its run as interrupted,
 * before the next poll.
 */
import type { LogSink } from '../log-sink.js';
import type { TaskReply } from '../protocol/agent-replies.js';
import { Heartbeat } from './heartbeat.js';
import type { HubLink } from './hub-link.js';
import { pollForTasks } from './task-poll.js';
import type { IdleSettings } from './worker-protocol.js';
import { cleanExit, describeExit, type AgentWorkers } from './workers.js';

export interface IdleAgentDeps {
  readonly link: HubLink;
  readonly logger: LogSink;
  readonly settings: IdleSettings;
  readonly workers: Pick<AgentWorkers, 'run' | 'prepare'>;
  /** One line of what the agent is doing now (systemd's STATUS=). */
  readonly onStatus?: (text: string) => void;
}

export class IdleAgent {
  readonly #d: IdleAgentDeps;
  readonly #heartbeat: Heartbeat;

  constructor(deps: IdleAgentDeps) {
    this.#d = deps;
    const { settings } = deps;
    this.#heartbeat = new Heartbeat({
      link: deps.link,
      logger: deps.logger,
      agentVersion: settings.version,
      capabilities: settings.capabilities,
      agent: settings.identity,
      idleMs: settings.timing.heartbeatMs,
      runningMs: settings.timing.runningHeartbeatMs,
      // Idle: no run of ours to abort (the run worker heartbeats for its run).
      currentRunId: () => undefined,
      onAbortRequested: () => undefined,
    });
  }

  /** Polls until `signal` aborts (a running task's worker is stopped and waited for first). */
  async run(signal: AbortSignal): Promise<void> {
    let beating = this.#beat(signal);
    try {
      const { pollWaitMs, heartbeatMs } = this.#d.settings.timing;
      await pollForTasks(
        {
          link: this.#d.link,
          logger: this.#d.logger,
          pollWaitMs,
          heartbeatMs,
          execute: async (task, stop) => {
            await beating.stop();
            try {
              await this.#execute(task, stop);
            } finally {
              beating = this.#beat(signal);
            }
          },
        },
        signal,
      );
    } finally {
      await beating.stop();
    }
  }

  async #execute(task: TaskReply, signal: AbortSignal): Promise<void> {
    const { runId } = task.task;
    this.#d.onStatus?.(`running ${runId}`);
    const exit = await this.#d.workers.run(task, signal);
    if (cleanExit(exit) || signal.aborted) return;
    this.#d.logger.error({ runId, pid: exit.pid, code: exit.code, signal: exit.signal }, `the run worker ${describeExit(exit)}: reverting what it left, then reporting the run`);
    this.#d.onStatus?.('reverting what a dead run worker left');
    // Its failure (WorkerFailed) ends the agent: systemd restarts it, and it reverts first.
    await this.#d.workers.prepare(signal);
  }

  #beat(signal: AbortSignal): { stop: () => Promise<void> } {
    const stop = new AbortController();
    const onStop = (): void => stop.abort();
    signal.addEventListener('abort', onStop, { once: true });
    const beats = this.#heartbeat.run(stop.signal);
    return {
      stop: async () => {
        signal.removeEventListener('abort', onStop);
        stop.abort();
        await beats;
      },
    };
  }
}
