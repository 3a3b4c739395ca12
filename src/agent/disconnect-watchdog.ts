// SPDX-License-Identifier: Apache-2.0
/**
 * While a run executes: once no exchange with the hub has succeeded for `disconnectTimeout`,
 * the run is aborted and reverted on the agent's own. It runs on its own short timer, so a call
 * that hangs until its own timeout cannot delay it. Silence is measured on CLOCK_MONOTONIC
 * (src/monotonic.ts): a step of the system clock (linux-time-chaos, NTP) is not silence.
 */
import { monotonicMs, type MonotonicClock } from '../monotonic.js';

/** How often a running experiment checks for a lost control plane. */
export const DISCONNECT_CHECK_MS = 250;

export interface DisconnectWatch {
  /** When the hub last answered (CLOCK_MONOTONIC ms, as `now`). */
  readonly lastContactAt: () => number;
  readonly timeoutMs: number;
  /** Called once, with how long the hub has been silent. */
  readonly onLost: (silentMs: number) => void;
  /** The monotonic clock (tests inject one). */
  readonly now?: MonotonicClock;
}

/** Starts watching; returns the stop function. */
export function watchForDisconnect(watch: DisconnectWatch): () => void {
  const timer = setInterval(() => {
    const silentMs = (watch.now ?? monotonicMs)() - watch.lastContactAt();
    if (silentMs <= watch.timeoutMs) return;
    clearInterval(timer);
    watch.onLost(silentMs);
  }, DISCONNECT_CHECK_MS);
  return () => clearInterval(timer);
}
