// SPDX-License-Identifier: Apache-2.0
/**
 * One attempt's bound: an AbortSignal that fires at the attempt's timeout or when the caller's
 * signal does, and which of the two it was, in the words an outcome reports.
 */
import { getMaxListeners, setMaxListeners } from 'node:events';

import { MAX_PROBES } from '../schema.js';

export interface AttemptDeadline {
  /** Aborts at the timeout or with the caller's signal. */
  readonly signal: AbortSignal;
  /** `timed out after N ms`, `aborted`, or undefined while neither happened. */
  reason(): string | undefined;
  /** Clears the timer and the listener on the caller's signal. */
  dispose(): void;
}

export function attemptDeadline(timeoutMs: number, outer: AbortSignal): AttemptDeadline {
  const timeout = new AbortController();
  const timedOut = new Error(`timed out after ${timeoutMs} ms`);
  const timer = setTimeout(() => timeout.abort(timedOut), timeoutMs);
  // Not AbortSignal.any: on Node 20 each call leaves an entry on the caller's signal until it
  // aborts, and that signal (the probe loop's, the run's) lives for the whole run, so every
  // attempt would grow it. A listener removed at dispose leaves nothing; attempts in flight on one
  // signal hold one each, up to one per probe (SOT and EOT share the run's), which is no leak.
  const onOuter = (): void => timeout.abort(outer.reason);
  if (outer.aborted) onOuter();
  else {
    const max = getMaxListeners(outer);
    if (max !== 0 && max < MAX_PROBES) setMaxListeners(MAX_PROBES, outer);
    outer.addEventListener('abort', onOuter, { once: true });
  }
  const signal = timeout.signal;
  return {
    signal,
    // The signal's reason is the one of whichever source aborted first.
    reason: () => (!signal.aborted ? undefined : signal.reason === timedOut ? timedOut.message : 'aborted'),
    dispose: () => {
      clearTimeout(timer);
      outer.removeEventListener('abort', onOuter);
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
