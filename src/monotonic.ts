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

/**
 * A wall clock that steps do not move: the system clock when it is made, advanced by
 * CLOCK_MONOTONIC since (which NTP slews with the system clock, so the two only part at a
 * step). For a process that compares timestamps it made itself (the hub's token expiry, a
 * silent run's age), so a host whose clock is skewed by ±24 h neither expires every token nor
 * declares every run lost; a new process takes the system clock again.
 */
export function steadyWallClock(): () => number {
  const wallAtStart = Date.now();
  const monoAtStart = monotonicMs();
  return () => Math.round(wallAtStart + (monotonicMs() - monoAtStart));
}
