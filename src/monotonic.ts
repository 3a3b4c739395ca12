// SPDX-License-Identifier: Apache-2.0
/**
 * faultd's clock for durations, deadlines and timeouts: CLOCK_MONOTONIC (performance.now is
 * libuv's hrtime), which a step of the system clock does not move. Wall time (Date.now) is for
 * labels only (log and ledger timestamps); nothing faultd decides compares two of them, so a
 * linux-time-chaos offset of ±24 h can neither end a wait early nor make one last a day.
 */

/** Milliseconds on CLOCK_MONOTONIC (fractional; only differences mean anything). */
export function monotonicMs(): number {
  return performance.now();
}

/** A clock for code that takes one injected (tests pass a fake). */
export type MonotonicClock = () => number;
