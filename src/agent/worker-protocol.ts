// SPDX-License-Identifier: Apache-2.0
/**
 * The messages between the idle agent process and its workers (Node IPC, JSON). `faultd agent`
 * idles in a small process (no zod, pino, yaml, commander or fault modules) and starts a worker,
 * the full faultd, for the work that needs the host: a `prepare` worker at start and after a
 * worker died (config check, remnants reverted, earlier runs reported; it answers with the
 * settings the idle loop needs), and a `run` worker for each task. README, "Footprint".
 */
import { hostShuttingDown } from '../host/systemd.js';
import type { LogFormat } from '../log-format.js';
import type { TaskReply } from '../protocol/agent-replies.js';
import type { AgentIdentity } from '../protocol/messages.js';
import type { AgentTiming } from './agent.js';
import type { HubConnection } from './hub-client.js';

/** Why the agent stops: a reboot or poweroff under systemd, or an operator's stop. */
export const STOP_REASON = { reboot: 'interrupted by reboot: the host is shutting down', stop: 'the agent is stopping' } as const;

/** The reason of a stop signal now: a reboot when systemd takes the host down, else an operator's stop. */
export function stopReasonNow(underSystemd: boolean): string {
  return underSystemd && hostShuttingDown() ? STOP_REASON.reboot : STOP_REASON.stop;
}

/** Set in a worker's environment: which work it does. */
export const WORKER_ROLE_ENV = 'FAULTD_AGENT_WORKER';
/** How often a worker tells the idle process it is alive, in ms (only under a systemd watchdog). */
export const WORKER_ALIVE_ENV = 'FAULTD_AGENT_WORKER_ALIVE_MS';
/** `1`: the whole agent in one process, as before the split (for comparison and debugging). */
export const ONE_PROCESS_ENV = 'FAULTD_AGENT_ONE_PROCESS';

export type WorkerRole = 'prepare' | 'run';

/** What the idle loop needs, from a prepare worker that read and checked the configuration. */
export interface IdleSettings {
  readonly logFormat: LogFormat;
  readonly hub: HubConnection;
  readonly infraId: string;
  readonly keyFile: string;
  readonly identity: AgentIdentity;
  readonly version: string;
  readonly capabilities: readonly string[];
  readonly timing: AgentTiming;
}

export type FromWorker =
  | { readonly kind: 'settings'; readonly settings: IdleSettings }
  /** One line for systemd's STATUS= (only the idle process, systemd's main pid, may send it). */
  | { readonly kind: 'status'; readonly text: string }
  /** The agent is stopping and the faults are reverted (STOPPING=1). */
  | { readonly kind: 'stopping'; readonly text: string }
  /** The worker's event loop turns (the idle process pings systemd's watchdog only then). */
  | { readonly kind: 'alive' };

export type ToWorker = { readonly kind: 'task'; readonly task: TaskReply } | { readonly kind: 'stop'; readonly reason: string };

export function workerRole(env: NodeJS.ProcessEnv = process.env): WorkerRole | undefined {
  const role = env[WORKER_ROLE_ENV];
  return role === 'prepare' || role === 'run' ? role : undefined;
}

const hasKind = (message: unknown): message is { kind: unknown } => typeof message === 'object' && message !== null && 'kind' in message;

/** Messages come from our own processes; this only keeps a stray one from being misread. */
export function isFromWorker(message: unknown): message is FromWorker {
  return hasKind(message) && ['settings', 'status', 'stopping', 'alive'].includes(String(message.kind));
}

export function isToWorker(message: unknown): message is ToWorker {
  return hasKind(message) && (message.kind === 'task' || message.kind === 'stop');
}
