// SPDX-License-Identifier: Apache-2.0
/**
 * When a periodic call (the heartbeat) is due: on a fixed phase of its own, not a period after
 * the last answer. A hub that answers slowly for a while (a token storm, a failover) would
 * otherwise leave every agent whose call it held beating at the same moment from then on, and
 * the fleet would hit the hub in waves. The phase is random per agent (its first period is a
 * random part of one), so agents started together (a fleet-wide upgrade) spread out too. Pure:
 * the clock readings and the random source are parameters.
 */
import type { Random } from './backoff.js';

/** When the beat after the first is due: a random part of one period after `now`. */
export function firstBeatAt(now: number, periodMs: number, random: Random = Math.random): number {
  return now + random() * periodMs;
}

/**
 * When the beat after the one due at `due` is: the first `due + k·period` (k ≥ 1) not before
 * `now`. A beat that took longer than a period skips the slots it missed instead of making them
 * up at once.
 */
export function nextBeatAt(due: number, periodMs: number, now: number): number {
  const next = due + periodMs;
  return next >= now ? next : next + Math.ceil((now - next) / periodMs) * periodMs;
}
