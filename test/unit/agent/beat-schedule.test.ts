// SPDX-License-Identifier: Apache-2.0
import test from 'ava';

import { firstBeatAt, nextBeatAt } from '../../../src/agent/beat-schedule.js';

test('the first period is a random part of one, so agents started together beat at spread phases', (t) => {
  t.is(firstBeatAt(1000, 10_000, () => 0), 1000);
  t.is(firstBeatAt(1000, 10_000, () => 0.5), 6000);
  t.true(firstBeatAt(1000, 10_000, () => 0.999_999) < 11_000);
});

test('a beat keeps its phase: the next is a period after it was due, however late its answer came', (t) => {
  t.is(nextBeatAt(5000, 10_000, 5003), 15_000, 'a quick answer');
  t.is(nextBeatAt(5000, 10_000, 9000), 15_000, 'a 4 s answer does not push the next beat back');
  t.is(nextBeatAt(5000, 10_000, 15_000), 15_000, 'an answer exactly at the next slot: beat at once');
});

test('a beat answered after more than a period skips the slots it missed, on the same phase', (t) => {
  t.is(nextBeatAt(5000, 10_000, 15_001), 25_000);
  t.is(nextBeatAt(5000, 10_000, 38_000), 45_000);
  t.is(nextBeatAt(5000, 10_000, 45_000), 45_000);
});

test('a slow spell does not herd agents: two phases 3 s apart are 3 s apart again once answers are quick', (t) => {
  // Both beats were held by the hub until 40 s; each resumes on its own phase.
  const a = nextBeatAt(31_000, 10_000, 40_000);
  const b = nextBeatAt(34_000, 10_000, 40_000);
  t.is(b - a, 3000);
});
