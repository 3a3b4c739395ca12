// SPDX-License-Identifier: Apache-2.0
import test from 'ava';

import { BACKOFF_CAP_MS, backoffMs, periodicDelayMs, RETRY_AFTER_CAP_MS, retryAfterOf, retryDelayMs } from '../../../src/agent/backoff.js';

const top = () => 0.999_999;
const bottom = () => 0;

test('full jitter: a wait in [0, min(cap, 500 ms · 2^attempt))', (t) => {
  t.is(backoffMs(0, bottom), 0);
  t.true(Math.abs(backoffMs(0, top) - 500) < 0.01);
  t.true(Math.abs(backoffMs(3, top) - 4000) < 0.01);
  t.true(Math.abs(backoffMs(20, top) - BACKOFF_CAP_MS) < 0.1, 'capped at 30 s');
  t.is(backoffMs(2, () => 0.5), 1000);
});

test("Retry-After wins over a shorter backoff, up to its cap; errors without it count as 0", (t) => {
  t.is(retryAfterOf({ retryAfterMs: 7000 }), 7000);
  t.is(retryAfterOf({ retryAfterMs: 10 * RETRY_AFTER_CAP_MS }), RETRY_AFTER_CAP_MS);
  t.is(retryAfterOf(new Error('x')), 0);
  t.is(retryAfterOf(undefined), 0);
  t.is(retryDelayMs(1, { retryAfterMs: 7000 }, top), 7000);
  t.is(retryDelayMs(10, { retryAfterMs: 100 }, () => 0.5), 15_000, 'the backoff when it is longer');
});

test('a periodic call keeps its period when healthy and never backs off past it unless asked', (t) => {
  t.is(periodicDelayMs(2000, 0, undefined, top), 2000);
  t.true(periodicDelayMs(2000, 10, new Error('down'), top) <= 2000, 'liveness does not lapse');
  t.is(periodicDelayMs(2000, 1, new Error('down'), () => 0.5), 500);
  t.is(periodicDelayMs(2000, 1, { retryAfterMs: 9000 }, top), 9000, "the hub's Retry-After is honoured");
});
