// SPDX-License-Identifier: Apache-2.0
/**
 * The long-poll for tasks: asks the hub for the next task, hands it to `execute` and waits for it
 * to end, then asks again, until the signal aborts. Failures back off with full jitter
 * (backoff.ts); a hub that answers "nothing" at once is not asked in a tight loop. Used by the
 * idle agent process (which executes a task in a worker) and by the one-process agent.
 */
import { messageOf } from '../errors.js';
import type { LogSink } from '../log-sink.js';
import { TaskReply } from '../protocol/agent-replies.js';
import { API_PREFIX } from '../protocol/constants.js';
import { retryDelayMs } from './backoff.js';
import { HubReplyError } from './hub-client.js';
import type { HubLink } from './hub-link.js';
import { sleep } from './sleep.js';
import { AgentRefusedByHub } from './token-source.js';
import { monotonicMs } from '../monotonic.js';

export interface TaskPollDeps {
  readonly link: HubLink;
  readonly logger: LogSink;
  readonly pollWaitMs: number;
  /** While the hub refuses this instance, it is asked again at least this often. */
  readonly heartbeatMs: number;
  readonly execute: (task: TaskReply, signal: AbortSignal) => Promise<void>;
}

/** A hub that answers "nothing" at once is not asked again sooner than this. */
const MIN_POLL_INTERVAL_MS = 1_000;

export async function pollForTasks(deps: TaskPollDeps, signal: AbortSignal): Promise<void> {
  let failures = 0;
  while (!signal.aborted) {
    const asked = monotonicMs();
    let task: TaskReply | undefined;
    try {
      task = await nextTask(deps, signal);
      failures = 0;
    } catch (error) {
      if (signal.aborted) break;
      failures += 1;
      // A refusal of this instance was logged once, as an error, by the token source.
      deps.logger[error instanceof AgentRefusedByHub ? 'debug' : 'warn']({ err: messageOf(error), attempt: failures }, 'task poll failed; backing off');
      await sleep(refusalAwareDelayMs(deps, failures, error), signal);
      continue;
    }
    if (task) await deps.execute(task, signal);
    // A hub that answers "nothing" at once (pollWait under 1 s, or a control plane that does
    // not hold the call) is not asked again in a tight loop.
    else await sleep(MIN_POLL_INTERVAL_MS - (monotonicMs() - asked), signal);
  }
}

async function nextTask({ link, pollWaitMs }: TaskPollDeps, signal: AbortSignal): Promise<TaskReply | undefined> {
  const reply = await link.get(`${API_PREFIX}/tasks/next?waitSeconds=${Math.floor(pollWaitMs / 1000)}`, TaskReply, pollWaitMs, signal);
  if (reply.status === 200 && 'body' in reply) return reply.body;
  if (reply.status !== 204) throw HubReplyError.of(reply);
  return undefined;
}

/**
 * The wait before the next poll after `failures` failures: the backoff, but at most a heartbeat
 * period while the hub refuses this instance, so an operator's `hub infra release` is taken
 * up within one heartbeat period (the heartbeat retries the exchange as often).
 */
function refusalAwareDelayMs({ heartbeatMs }: TaskPollDeps, failures: number, error: unknown): number {
  const delay = retryDelayMs(failures, error);
  return error instanceof AgentRefusedByHub ? Math.min(delay, heartbeatMs) : delay;
}
