// SPDX-License-Identifier: Apache-2.0
import test from 'ava';

import { formatBytes, formatDurationMs, parseByteAmount, parseDurationMs } from '../../src/units.js';

test('Harness durations parse to milliseconds', (t) => {
  t.is(parseDurationMs('1m25s'), 85_000);
  t.is(parseDurationMs('1h3m2s'), 3_782_000);
  t.is(parseDurationMs('1h3s'), 3_603_000);
  t.is(parseDurationMs('30s'), 30_000);
  t.is(parseDurationMs('250ms'), 250);
  t.is(parseDurationMs('90'), 90_000);
  t.is(parseDurationMs(2), 2000);
});

test('malformed durations are rejected', (t) => {
  for (const bad of ['', 'abc', '10x', '1m 5s', '-5s', '5s10', 'ms']) t.is(parseDurationMs(bad), undefined, bad);
  t.is(parseDurationMs(-1), undefined);
});

test('durations format back the Harness way', (t) => {
  t.is(formatDurationMs(85_000), '1m25s');
  t.is(formatDurationMs(250), '250ms');
  t.is(formatDurationMs(0), '0s');
  t.is(formatDurationMs(3_600_000), '1h');
});

test('byte sizes accept Kubernetes, Harness and percent forms', (t) => {
  t.deepEqual(parseByteAmount('512Mi'), { bytes: 512 * 1024 ** 2 });
  t.deepEqual(parseByteAmount('2Gi'), { bytes: 2 * 1024 ** 3 });
  t.deepEqual(parseByteAmount('30m'), { bytes: 30 * 1024 ** 2 });
  t.deepEqual(parseByteAmount('1G'), { bytes: 1024 ** 3 });
  t.deepEqual(parseByteAmount(4096), { bytes: 4096 });
  t.deepEqual(parseByteAmount('35%'), { percent: 35 });
  for (const bad of ['lots', '5 parsecs', '-1Gi', '120%', '']) t.is(parseByteAmount(bad), undefined, bad);
  t.is(formatBytes(1536 * 1024 ** 2), '1.50 GiB');
});
