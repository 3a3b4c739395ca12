// SPDX-License-Identifier: Apache-2.0
/**
 * While a run executes, the agent keeps one call open that the hub answers the moment the run
 * is aborted (GET /v1/runs/{id}/abort, held up to `waitMs`), so an abort does not wait for the
 * next heartbeat. A control plane without the call answers 404: the channel then stops and the
 * heartbeat (heartbeat.ts) carries aborts alone, as it always also does.
 */
import type { Logger } from 'pino';

import { messageOf } from '../errors.js';
import { AbortResponse, API_PREFIX, MAX_TASK_WAIT_SECONDS } from '../protocol/messages.js';
import { retryDelayMs } from './backoff.js';
import { HubReplyError } from './hub-client.js';
import type { HubLink } from './hub-link.js';
import { sleep } from './sleep.js';
import { monotonicMs } from '../monotonic.js';

/** A control plane that answers 204 at once (it does not hold the call) is not asked again sooner. */
const MIN_CALL_INTERVAL_MS = 1_000;

export interface AbortChannelDeps {
  readonly link: HubLink;
  readonly logger: Logger;
  /** How long the hub may hold one call (≤ 30 s; shorter calls cost more round trips). */
  readonly waitMs: number;
}

/**
 * Watches run `runId` until `signal` aborts (the run ended) or the hub wants it aborted, which
 * calls `onAbort` once with the hub's reason. Never throws: failures back off and retry.
 */
export async function watchForAbort(deps: AbortChannelDeps, runId: string, signal: AbortSignal, onAbort: (reason: string) => void): Promise<void> {
  const waitSeconds = Math.min(MAX_TASK_WAIT_SECONDS, Math.max(1, Math.floor(deps.waitMs / 1000)));
  const route = `${API_PREFIX}/runs/${runId}/abort?waitSeconds=${waitSeconds}`;
  let failures = 0;
  while (!signal.aborted) {
    const asked = monotonicMs();
    try {
      const reply = await deps.link.get(route, AbortResponse, waitSeconds * 1000, signal);
      failures = 0;
      if (reply.status === 200 && 'body' in reply) {
        if (!signal.aborted) onAbort(reply.body.reason);
        return;
      }
      if (reply.status === 404) {
        deps.logger.info({ runId }, 'the hub has no abort call for this run: aborts come with heartbeats');
        return;
      }
      if (reply.status !== 204) throw HubReplyError.of(reply);
      await sleep(MIN_CALL_INTERVAL_MS - (monotonicMs() - asked), signal);
    } catch (error) {
      if (signal.aborted) return;
      failures += 1;
      deps.logger.debug({ runId, err: messageOf(error), attempt: failures }, 'abort call failed; retrying');
      await sleep(retryDelayMs(failures, error), signal);
    }
  }
}
