// SPDX-License-Identifier: Apache-2.0
import { getEventListeners } from 'node:events';

import test from 'ava';

import { sleep } from '../../../src/agent/sleep.js';

test('waits its time, or less when any signal aborts, and leaves no listener behind', async (t) => {
  let started = Date.now();
  await sleep(50);
  t.true(Date.now() - started >= 45);
  const a = new AbortController();
  const b = new AbortController();
  started = Date.now();
  setTimeout(() => b.abort(), 20);
  await sleep(5000, a.signal, b.signal);
  t.true(Date.now() - started < 1000);
  // Many sleeps on one long-lived signal do not pile up listeners on it (the Node 20 leak).
  for (let i = 0; i < 100; i += 1) await sleep(0, a.signal);
  t.is(getEventListeners(a.signal, 'abort').length, 0);
  started = Date.now();
  await sleep(5000, b.signal);
  t.true(Date.now() - started < 50, 'an aborted signal returns at once');
  await sleep(-10);
  t.pass();
});
