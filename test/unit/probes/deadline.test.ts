// SPDX-License-Identifier: Apache-2.0
import { getEventListeners } from 'node:events';

import test from 'ava';

import { attemptDeadline, describeError } from '../../../src/probes/checks/deadline.js';

test('the timeout aborts the attempt\'s signal and says "timed out after N ms"', async (t) => {
  const deadline = attemptDeadline(50, new AbortController().signal);
  t.is(deadline.reason(), undefined);
  const started = performance.now();
  await new Promise((resolve) => deadline.signal.addEventListener('abort', resolve));
  t.true(performance.now() - started >= 45);
  t.is(deadline.reason(), 'timed out after 50 ms');
  deadline.dispose();
});

test('the caller\'s signal aborts it ("aborted"), also when already aborted; dispose stops both', async (t) => {
  const caller = new AbortController();
  const deadline = attemptDeadline(10_000, caller.signal);
  caller.abort();
  t.true(deadline.signal.aborted);
  t.is(deadline.reason(), 'aborted');
  deadline.dispose();
  const late = attemptDeadline(10_000, caller.signal);
  t.true(late.signal.aborted);
  t.is(late.reason(), 'aborted');
  late.dispose();
  const other = new AbortController();
  const disposed = attemptDeadline(30, other.signal);
  disposed.dispose();
  other.abort();
  await new Promise((resolve) => setTimeout(resolve, 60));
  t.false(disposed.signal.aborted, 'neither the timer nor the caller reaches a disposed deadline');
});

test('many attempts on one caller signal: all aborted with it, no MaxListeners warning', async (t) => {
  const warnings: Error[] = [];
  const onWarning = (warning: Error): void => void warnings.push(warning);
  process.on('warning', onWarning);
  t.teardown(() => process.off('warning', onWarning));
  const caller = new AbortController();
  const deadlines = Array.from({ length: 50 }, () => attemptDeadline(10_000, caller.signal));
  for (const d of deadlines.slice(0, 10)) d.dispose();
  caller.abort();
  await new Promise((resolve) => setImmediate(resolve));
  t.deepEqual(deadlines.slice(10).map((d) => d.reason()), Array<string>(40).fill('aborted'));
  t.true(deadlines.slice(0, 10).every((d) => !d.signal.aborted), 'disposed ones were not called');
  for (const d of deadlines) d.dispose();
  t.deepEqual(warnings.map((w) => w.name), []);
});

/**
 * Composite signals Node keeps on `signal` for AbortSignal.any (its internal kDependantSignals
 * set; 0 when it has none). On Node 20 an entry stays until `signal` aborts.
 */
function dependants(signal: AbortSignal): number {
  const key = Object.getOwnPropertySymbols(signal).find((s) => s.description === 'kDependantSignals');
  const set = key === undefined ? undefined : (signal as unknown as Record<symbol, { size?: number } | undefined>)[key];
  return set?.size ?? 0;
}

test('many attempts on one long-lived signal (a run\'s) leave at most one listener on it and no composite signal', (t) => {
  const run = new AbortController();
  for (let i = 0; i < 1000; i += 1) attemptDeadline(5000, run.signal).dispose();
  t.true(getEventListeners(run.signal, 'abort').length <= 1);
  t.is(dependants(run.signal), 0, 'no AbortSignal.any composite kept per attempt');
});

test('describeError adds the code when the message lacks it, and the cause', (t) => {
  t.is(describeError(Object.assign(new Error('connect failed'), { code: 'ECONNREFUSED' })), 'connect failed (ECONNREFUSED)');
  t.is(describeError(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' })), 'connect ECONNREFUSED 127.0.0.1:1');
  t.is(describeError(new Error('fetch failed', { cause: new Error('other side closed') })), 'fetch failed: other side closed');
  t.is(describeError('plain'), 'plain');
});
