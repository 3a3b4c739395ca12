// SPDX-License-Identifier: Apache-2.0
/** The agent's one way to wait: a timer that any of several signals cuts short. */

/**
 * Waits `ms` (at once when `ms` ≤ 0), or less when one of `signals` aborts; never rejects.
 * (Not AbortSignal.any: on Node 20 each call leaves an entry on the long-lived signal, so a
 * heartbeat loop would grow without bound.)
 */
export function sleep(ms: number, ...signals: AbortSignal[]): Promise<void> {
  return new Promise((resolve) => {
    if (signals.some((s) => s.aborted)) {
      resolve();
      return;
    }
    const timer = setTimeout(done, Math.max(0, ms));
    function done(): void {
      clearTimeout(timer);
      for (const s of signals) s.removeEventListener('abort', done);
      resolve();
    }
    for (const s of signals) s.addEventListener('abort', done, { once: true });
  });
}
