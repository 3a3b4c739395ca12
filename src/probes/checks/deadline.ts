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
  /** Clears the timer and the listener on the caller's signal. */
  dispose(): void;
}

export function attemptDeadline(timeoutMs: number, outer: AbortSignal): AttemptDeadline {
  const controller = new AbortController();
  let reason: string | undefined;
  const stop = (why: string): void => {
    if (reason === undefined) {
      reason = why;
      controller.abort(new Error(why));
    }
  };
  const onOuterAbort = (): void => stop('aborted');
  const timer = setTimeout(() => stop(`timed out after ${timeoutMs} ms`), timeoutMs);
  if (outer.aborted) onOuterAbort();
  else outer.addEventListener('abort', onOuterAbort, { once: true });
  return {
    signal: controller.signal,
    reason: () => reason,
    dispose: () => {
      clearTimeout(timer);
      outer.removeEventListener('abort', onOuterAbort);
    },
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
