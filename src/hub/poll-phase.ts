// SPDX-License-Identifier: Apache-2.0
/**
 * When the hub answers a held task poll that found nothing: on a phase of the infrastructure's
 * own, not a fixed wait after the poll arrived. Polls that arrive together (a token storm, a hub
 * restart, a failover) would otherwise come back together every round, a wave of thousands of
 * renewals each time. Each infrastructure's answers fall on a grid with the wait's period,
 * offset by a hash of its id: the first poll after such an event is cut short to its slot, and
 * every renewal after it (asked at once) is held the full wait to the next one, so after one
 * round the fleet's renewals are spread evenly over the period, whenever they started. Pure: the
 * clock reading is a parameter.
 */

/** Waits shorter than this are held in full (an agent asking for a quick answer gets it). */
export const PHASED_WAIT_MIN_MS = 10_000;

/** A fraction in [0, 1) fixed for `id` (FNV-1a of its UTF-16 code units). */
export function phaseOf(id: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < id.length; i += 1) {
    hash ^= id.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash / 2 ** 32;
}

/**
 * How long to hold a poll that asked for `askedMs`, arriving at `now` (ms, the same clock on
 * every replica): until the first slot after `now` on the grid of period `askedMs` offset by
 * `phase` of it. In (0, askedMs]; a wait under PHASED_WAIT_MIN_MS is `askedMs` itself.
 */
export function phasedWaitMs(askedMs: number, phase: number, now: number): number {
  if (askedMs < PHASED_WAIT_MIN_MS) return askedMs;
  const intoPeriod = (((now - phase * askedMs) % askedMs) + askedMs) % askedMs;
  return askedMs - intoPeriod;
}
