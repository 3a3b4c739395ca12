// SPDX-License-Identifier: Apache-2.0
/**
 * How long the agent waits before it asks the hub again after a failure: capped exponential
 * backoff with full jitter (a random wait in [0, min(cap, base·2^attempt)), so a fleet that lost
 * its hub does not come back in lockstep), never shorter than the hub's `Retry-After`, which is
 * honoured up to a cap. Pure: the random source is a parameter.
 */

export const BACKOFF_BASE_MS = 500;
export const BACKOFF_CAP_MS = 30_000;
/** The longest `Retry-After` honoured (a larger one is taken as this). */
export const RETRY_AFTER_CAP_MS = 300_000;

export type Random = () => number;

/** Capped exponential backoff with full jitter for retry `attempt` (0 = the first retry). */
export function backoffMs(attempt: number, random: Random = Math.random): number {
  return random() * Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** attempt);
}

/** The `Retry-After` an error carries (a HubReplyError, or a token exchange's error), capped; 0 when none. */
export function retryAfterOf(error: unknown): number {
  const retryAfter = (error as { retryAfterMs?: unknown } | undefined)?.retryAfterMs;
  return typeof retryAfter === 'number' && retryAfter > 0 ? Math.min(retryAfter, RETRY_AFTER_CAP_MS) : 0;
}

/** The wait before retry `attempt`: the backoff, or longer when the hub said `Retry-After`. */
export function retryDelayMs(attempt: number, error: unknown, random: Random = Math.random): number {
  return Math.max(backoffMs(attempt, random), retryAfterOf(error));
}

/**
 * The wait of a periodic call (the heartbeat) after `failures` failures in a row: its period
 * when it succeeds; after a failure the jittered backoff, but never longer than the period
 * (liveness must not lapse), unless the hub asked for more with `Retry-After`.
 */
export function periodicDelayMs(periodMs: number, failures: number, lastError: unknown, random: Random = Math.random): number {
  if (failures === 0) return periodMs;
  return Math.max(Math.min(periodMs, backoffMs(failures, random)), retryDelayMs(0, lastError, random));
}
