// SPDX-License-Identifier: Apache-2.0
import test from 'ava';

import { DISCONNECT_CHECK_MS, watchForDisconnect } from '../../../src/agent/disconnect-watchdog.js';
import { monotonicMs } from '../../../src/monotonic.js';

test('fires once, within one check of the timeout, and not while contact is fresh', async (t) => {
  let contact = monotonicMs();
  const lost: number[] = [];
  const stop = watchForDisconnect({ lastContactAt: () => contact, timeoutMs: 400, onLost: (ms) => lost.push(ms) });
  t.teardown(stop);
  const fresh = setInterval(() => (contact = monotonicMs()), 50);
  await new Promise((resolve) => setTimeout(resolve, 900));
  t.deepEqual(lost, [], 'contact every 50 ms keeps the run');
  clearInterval(fresh);
  const silentFrom = monotonicMs();
  while (lost.length === 0) await new Promise((resolve) => setTimeout(resolve, 10));
  const after = monotonicMs() - silentFrom;
  t.true(after >= 350 && after <= 400 + DISCONNECT_CHECK_MS + 100, `fired ${after} ms after the last contact`);
  t.true((lost[0] ?? 0) > 400);
  await new Promise((resolve) => setTimeout(resolve, 2 * DISCONNECT_CHECK_MS));
  t.is(lost.length, 1, 'once');
});

test('stop ends the watch before it fires', async (t) => {
  const lost: number[] = [];
  const stop = watchForDisconnect({ lastContactAt: () => monotonicMs(), timeoutMs: 5_000, onLost: (ms) => lost.push(ms) });
  stop();
  await new Promise((resolve) => setTimeout(resolve, 2 * DISCONNECT_CHECK_MS));
  t.deepEqual(lost, []);
});
