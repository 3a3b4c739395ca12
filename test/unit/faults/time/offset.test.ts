// SPDX-License-Identifier: Apache-2.0
// The offset notation of linux-time-chaos (Harness's (+/-)XhYmZs) and its bounds.
import test from 'ava';

import { formatOffsetMs, MAX_OFFSET_MS, parseOffsetMs } from '../../../../src/faults/time/offset.js';

test("Harness's examples parse to signed milliseconds", (t) => {
  t.is(parseOffsetMs('+24h'), 24 * 3_600_000);
  t.is(parseOffsetMs('-13h12m'), -(13 * 3_600_000 + 12 * 60_000));
  t.is(parseOffsetMs('-3h12m16s'), -(3 * 3_600_000 + 12 * 60_000 + 16_000));
  t.is(parseOffsetMs('10m'), 600_000, 'no sign: forward');
  t.is(parseOffsetMs(' -1h30m '), -5_400_000);
});

test('anything else is not an offset', (t) => {
  for (const bad of ['abc', '', '+', '-', '1d', '1h-30m', '30m1h', '1.5h', '+-1h', '1h 30m', '90']) t.is(parseOffsetMs(bad), undefined, bad);
});

test('formatting gives Harness notation back', (t) => {
  t.is(formatOffsetMs(-5_400_000), '-1h30m');
  t.is(formatOffsetMs(600_000), '+10m');
  t.is(formatOffsetMs(MAX_OFFSET_MS), '+168h');
  t.is(formatOffsetMs(-16_000), '-16s');
});
