// SPDX-License-Identifier: Apache-2.0
/**
 * While a run executes: once no exchange with the hub has succeeded for `disconnectTimeout`,
 * the run is aborted and reverted on the agent's own. It runs on its own short timer, so a call
 * that hangs until its own timeout cannot delay it.
 */

/** How often a running experiment checks for a lost control plane. */
export const DISCONNECT_CHECK_MS = 250;

export interface DisconnectWatch {
  /** When the hub last answered (ms since epoch). */
  readonly lastContactAt: () => number;
  readonly timeoutMs: number;
  /** Called once, with how long the hub has been silent. */
  readonly onLost: (silentMs: number) => void;
}

/** Starts watching; returns the stop function. */
export function watchForDisconnect(watch: DisconnectWatch): () => void {
  const timer = setInterval(() => {
    const silentMs = Date.now() - watch.lastContactAt();
    if (silentMs <= watch.timeoutMs) return;
    clearInterval(timer);
    watch.onLost(silentMs);
  }, DISCONNECT_CHECK_MS);
  return () => clearInterval(timer);
}
