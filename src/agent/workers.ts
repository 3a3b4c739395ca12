// SPDX-License-Identifier: Apache-2.0
/**
 * The idle agent process's workers (worker-protocol.ts): each is `faultd agent` again, started
 * with its role in the environment and an IPC channel, one at a time. A stop is passed on as a
 * message with its reason; the worker aborts and reverts, sends its logs and exits. systemd's
 * notify socket stays with the idle process (NotifyAccess=main): workers relay through it.
 */
import { spawn } from 'node:child_process';

import { FaultdError } from '../errors.js';
import type { LogSink } from '../log-sink.js';
import type { TaskReply } from '../protocol/agent-replies.js';
import { isFromWorker, WORKER_ALIVE_ENV, WORKER_ROLE_ENV, type FromWorker, type IdleSettings, type ToWorker, type WorkerRole } from './worker-protocol.js';
import { monotonicMs } from '../monotonic.js';

export interface WorkerCommand {
  /** node, and the script and arguments the agent was started with. */
  readonly execPath: string;
  readonly args: readonly string[];
  readonly env: NodeJS.ProcessEnv;
  /** How often a worker says it is alive (ms); undefined: not asked (no systemd watchdog). */
  readonly aliveMs?: number;
}

export interface WorkerEvents {
  readonly onStatus: (text: string) => void;
  readonly onStopping: (text: string) => void;
}

export interface WorkerExit {
  readonly pid: number | undefined;
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** The worker could not be started (spawn failed). */
  readonly error?: string;
}

/** A worker ended without doing its job: its exit code is the agent's. */
export class WorkerFailed extends FaultdError {
  readonly exit: WorkerExit;

  constructor(role: WorkerRole, exit: WorkerExit) {
    super('FAULTD_ERR_AGENT_WORKER', `the agent's ${role} worker (pid ${exit.pid ?? '?'}) ${describeExit(exit)}`);
    this.exit = exit;
  }
}

export function describeExit(exit: WorkerExit): string {
  if (exit.error) return `could not start: ${exit.error}`;
  return exit.signal ? `was killed by ${exit.signal}` : `exited with code ${exit.code ?? '?'}`;
}

export const cleanExit = (exit: WorkerExit): boolean => exit.code === 0 && !exit.error;

/** Variables a worker must not see: systemd's notify socket and watchdog belong to the main pid. */
const MAIN_PID_ONLY = ['NOTIFY_SOCKET', 'WATCHDOG_USEC', 'WATCHDOG_PID'];

export class AgentWorkers {
  readonly #command: WorkerCommand;
  readonly #events: WorkerEvents;
  readonly #logger: LogSink;
  #running: { readonly pid: number | undefined; lastAliveAt: number } | undefined;

  constructor(command: WorkerCommand, events: WorkerEvents, logger: LogSink) {
    this.#command = command;
    this.#events = events;
    this.#logger = logger;
  }

  /**
   * A prepare worker: configuration checked, remnants reverted, earlier runs reported. Its
   * settings, or undefined when `signal` stopped it first; WorkerFailed when it failed.
   */
  async prepare(signal: AbortSignal): Promise<IdleSettings | undefined> {
    let settings: IdleSettings | undefined;
    const exit = await this.#start('prepare', signal, undefined, (message) => {
      if (message.kind === 'settings') settings = message.settings;
    });
    if (signal.aborted && (settings === undefined || !cleanExit(exit))) return undefined;
    if (!cleanExit(exit) || settings === undefined) throw new WorkerFailed('prepare', exit);
    return settings;
  }

  /** A run worker executes `task` to its end (result delivered or journaled); how it ended. */
  run(task: TaskReply, signal: AbortSignal): Promise<WorkerExit> {
    return this.#start('run', signal, { kind: 'task', task });
  }

  /** No worker, or the one running said it was alive within `windowMs`. */
  healthy(windowMs: number): boolean {
    return this.#running === undefined || monotonicMs() - this.#running.lastAliveAt <= windowMs;
  }

  #start(role: WorkerRole, signal: AbortSignal, first: ToWorker | undefined, onMessage: (message: FromWorker) => void = () => undefined): Promise<WorkerExit> {
    const inherited = Object.entries(this.#command.env).filter(([name]) => !MAIN_PID_ONLY.includes(name) && name !== WORKER_ALIVE_ENV);
    const alive: [string, string][] = this.#command.aliveMs === undefined ? [] : [[WORKER_ALIVE_ENV, String(this.#command.aliveMs)]];
    const env: NodeJS.ProcessEnv = Object.fromEntries([...inherited, ...alive, [WORKER_ROLE_ENV, role]]);
    const child = spawn(this.#command.execPath, this.#command.args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], env });
    const running = { pid: child.pid, lastAliveAt: monotonicMs() };
    this.#running = running;
    child.on('message', (message: unknown) => {
      if (!isFromWorker(message)) return;
      running.lastAliveAt = monotonicMs();
      if (message.kind === 'status') this.#events.onStatus(message.text);
      else if (message.kind === 'stopping') this.#events.onStopping(message.text);
      else onMessage(message);
    });
    const send = (message: ToWorker): void => {
      if (child.connected) child.send(message);
    };
    const stop = (): void => {
      const reason = typeof signal.reason === 'string' ? signal.reason : 'the agent is stopping';
      if (child.connected) send({ kind: 'stop', reason });
      else child.kill('SIGTERM');
    };
    return new Promise<WorkerExit>((resolve) => {
      const done = (exit: WorkerExit): void => {
        signal.removeEventListener('abort', stop);
        if (this.#running === running) this.#running = undefined;
        resolve(exit);
      };
      child.once('spawn', () => {
        this.#logger.debug({ role, pid: child.pid }, 'agent worker started');
        if (first) send(first);
        if (signal.aborted) stop();
        else signal.addEventListener('abort', stop, { once: true });
      });
      child.once('error', (error) => {
        if (child.pid === undefined) done({ pid: undefined, code: null, signal: null, error: error.message });
      });
      child.once('exit', (code, exitSignal) => done({ pid: child.pid, code, signal: exitSignal }));
    });
  }
}
