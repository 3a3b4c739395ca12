// SPDX-License-Identifier: Apache-2.0
/**
 * A worker's side of its link to the idle agent process (worker-protocol.ts): it dies with the
 * idle process (PR_SET_PDEATHSIG, so a SIGKILLed agent leaves what a SIGKILLed one-process agent
 * left: remnants the next start reverts), takes its task and stop requests, and relays what only
 * systemd's main pid may say.
 */
import { FaultdError } from '../errors.js';
import type { TaskReply } from '../protocol/agent-replies.js';
import { isToWorker, WORKER_ALIVE_ENV, type FromWorker, type ToWorker } from './worker-protocol.js';

/** What `faultd agent` tells systemd, as the one-process agent's ServiceNotifier takes it. */
export interface AgentNotifier {
  readonly enabled: boolean;
  readonly watchdogMs: number | undefined;
  ready(status: string): void;
  status(status: string): void;
  stopping(status: string): void;
  startWatchdog(): () => void;
}

export class WorkerLink {
  readonly #send: (message: FromWorker) => void;
  #task: TaskReply | undefined;
  #stopReason: string | undefined;
  readonly #waiters = new Set<() => void>();
  #onStop: ((reason: string) => void) | undefined;

  /** `dieWithParent`: the addon's (PR_SET_PDEATHSIG, then a check that the parent still is). */
  constructor(dieWithParent: (parentPid: number) => boolean) {
    const send = process.send?.bind(process);
    if (!send) throw new FaultdError('FAULTD_ERR_AGENT_CONFIG', 'an agent worker needs the IPC channel of the idle agent process that starts it');
    if (!dieWithParent(process.ppid)) throw new FaultdError('FAULTD_ERR_AGENT_CONFIG', `the idle agent process (pid ${process.ppid}) is gone`);
    this.#send = (message) => {
      if (process.connected) send(message);
    };
    process.on('message', (message: unknown) => {
      if (isToWorker(message)) this.#take(message);
    });
    // The idle process closed the channel without a stop (it is going): stop as for one.
    process.on('disconnect', () => this.#take({ kind: 'stop', reason: 'the agent is stopping' }));
  }

  send(message: FromWorker): void {
    this.#send(message);
  }

  /** The stop the idle process asked for (its reason: a reboot, or an operator's stop). */
  onStop(listener: (reason: string) => void): void {
    this.#onStop = listener;
    if (this.#stopReason !== undefined) listener(this.#stopReason);
  }

  /** The task to execute; undefined when a stop comes first. */
  async task(signal: AbortSignal): Promise<TaskReply | undefined> {
    while (!this.#task && !signal.aborted && this.#stopReason === undefined) {
      await new Promise<void>((resolve) => {
        const done = (): void => {
          this.#waiters.delete(done);
          signal.removeEventListener('abort', done);
          resolve();
        };
        this.#waiters.add(done);
        signal.addEventListener('abort', done, { once: true });
      });
    }
    return this.#stopReason === undefined && !signal.aborted ? this.#task : undefined;
  }

  /** Relays STATUS= and STOPPING=1, and beats "alive" for the idle process's watchdog pings. */
  notifier(): AgentNotifier {
    const aliveMs = Number(process.env[WORKER_ALIVE_ENV]);
    return {
      enabled: false,
      watchdogMs: undefined,
      ready: () => undefined,
      status: (text) => this.#send({ kind: 'status', text }),
      stopping: (text) => this.#send({ kind: 'stopping', text }),
      startWatchdog: () => {
        if (!Number.isSafeInteger(aliveMs) || aliveMs <= 0) return () => undefined;
        this.#send({ kind: 'alive' });
        const timer = setInterval(() => this.#send({ kind: 'alive' }), aliveMs);
        return () => clearInterval(timer);
      },
    };
  }

  /** Closes the channel, so the worker can exit. */
  close(): void {
    process.removeAllListeners('disconnect');
    if (process.connected) process.disconnect();
  }

  #take(message: ToWorker): void {
    if (message.kind === 'task') this.#task ??= message.task;
    else if (this.#stopReason === undefined) {
      this.#stopReason = message.reason;
      this.#onStop?.(message.reason);
    }
    for (const wake of [...this.#waiters]) wake();
  }
}
