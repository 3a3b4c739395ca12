// SPDX-License-Identifier: Apache-2.0
/**
 * One attempt's bound: an AbortSignal that fires at the attempt's timeout or when the caller's
 * signal does, and which of the two it was, in the words an outcome reports.
 */

export interface AttemptDeadline {
  /** Aborts at the timeout or with the caller's signal. */
  readonly signal: AbortSignal;
  /** `timed out after N ms`, `aborted`, or undefined while neither happened. */
  reason(): string | undefined;
  /** Clears the timer. */
  dispose(): void;
}

export function attemptDeadline(timeoutMs: number, outer: AbortSignal): AttemptDeadline {
  const timeout = new AbortController();
  const timedOut = new Error(`timed out after ${timeoutMs} ms`);
  const timer = setTimeout(() => timeout.abort(timedOut), timeoutMs);
  // AbortSignal.any holds the caller's signal without an event listener on it: many probes can
  // share one run signal without a MaxListeners warning or a listener left per attempt.
  const signal = AbortSignal.any([timeout.signal, outer]);
  return {
    signal,
    // The combined signal's reason is the one of whichever source aborted first.
    reason: () => (!signal.aborted ? undefined : signal.reason === timedOut ? timedOut.message : 'aborted'),
    dispose: () => clearTimeout(timer),
  };
}

/** A thrown value in one line: its message, with its code (ECONNREFUSED, CERT_…) when the message lacks it. */
export function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as { code?: unknown }).code;
  let text = error.message || error.name;
  if (typeof code === 'string' && !text.includes(code)) text = `${text} (${code})`;
  const cause = error.cause;
  if (cause instanceof Error && cause.message && !text.includes(cause.message)) text = `${text}: ${describeError(cause)}`;
  return text;
}
