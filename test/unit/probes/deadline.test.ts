// SPDX-License-Identifier: Apache-2.0
// An attempt's deadline: its timeout, the caller's abort, and what it leaves on the caller's
// long-lived signal (the probe loop's and the run's, shared by every attempt of a run).
import { getEventListeners } from 'node:events';

import test from 'ava';

import { attemptDeadline } from '../../../src/probes/checks/deadline.js';
import { MAX_PROBES } from '../../../src/probes/schema.js';

/**
 * Composite signals Node keeps on `signal` for AbortSignal.any (its internal kDependantSignals
 * set; 0 when it has none). On Node 20 an entry stays until `signal` aborts, even after the
 * composite is disposed of and collected.
 */
function dependants(signal: AbortSignal): number {
  const key = Object.getOwnPropertySymbols(signal).find((s) => s.description === 'kDependantSignals');
  const set = key === undefined ? undefined : (signal as unknown as Record<symbol, { size?: number } | undefined>)[key];
  return set?.size ?? 0;
}

test('times out with its message, or ends as aborted with the caller; dispose clears the timer', async (t) => {
  const timed = attemptDeadline(20, new AbortController().signal);
  t.is(timed.reason(), undefined);
  await new Promise((resolve) => setTimeout(resolve, 60));
  t.true(timed.signal.aborted);
  t.is(timed.reason(), 'timed out after 20 ms');
  timed.dispose();

  const caller = new AbortController();
  const cut = attemptDeadline(5000, caller.signal);
  caller.abort();
  t.true(cut.signal.aborted);
  t.is(cut.reason(), 'aborted');
  cut.dispose();

  const already = attemptDeadline(5000, caller.signal);
  t.true(already.signal.aborted, 'a caller aborted before the attempt aborts it at once');
  t.is(already.reason(), 'aborted');
  already.dispose();

  const disposed = attemptDeadline(20, new AbortController().signal);
  disposed.dispose();
  await new Promise((resolve) => setTimeout(resolve, 60));
  t.false(disposed.signal.aborted, 'no timeout after dispose');
});

test('many attempts on one long-lived signal leave nothing on it', (t) => {
  const run = new AbortController();
  for (let i = 0; i < 1000; i += 1) attemptDeadline(5000, run.signal).dispose();
  t.is(getEventListeners(run.signal, 'abort').length, 0);
  t.is(dependants(run.signal), 0, 'no AbortSignal.any composite kept per attempt');
});

test('as many attempts in flight on one signal as an experiment has probes: no MaxListeners warning, each aborted with it', async (t) => {
  const warnings: Error[] = [];
  const onWarning = (warning: Error): void => {
    warnings.push(warning);
  };
  process.on('warning', onWarning);
  t.teardown(() => process.off('warning', onWarning));
  const run = new AbortController();
  const deadlines = Array.from({ length: MAX_PROBES }, () => attemptDeadline(5000, run.signal));
  run.abort();
  t.true(deadlines.every((d) => d.signal.aborted && d.reason() === 'aborted'));
  for (const d of deadlines) d.dispose();
  await new Promise((resolve) => setImmediate(resolve));
  t.deepEqual(
    warnings.filter((w) => w.name === 'MaxListenersExceededWarning').map((w) => w.message),
    [],
  );
});
