// SPDX-License-Identifier: Apache-2.0
// The restore arithmetic of linux-time-chaos on a fake clock: anchor + elapsed BOOTTIME, one
// relative step, the tolerance that makes a second restore a no-op.
import test from 'ava';

import { anchorOf, clockErrorNs, restoreFromAnchor } from '../../../../src/faults/time/clock-anchor.js';
import { FakeClock } from '../../../helpers/fake-clock.js';

const MS = 1_000_000n;

test('after a step and time passing, the restore steps back by exactly the offset and leaves no error', (t) => {
  const clock = new FakeClock();
  const anchor = anchorOf(clock.clockRead());
  clock.advance(250);
  clock.clockStep(-5_400_000n * MS);
  clock.advance(30_000);
  t.is(clockErrorNs(anchor, clock.clockRead()), -5_400_000n * MS, 'the error is the offset, whatever time passed');
  const restore = restoreFromAnchor(anchor, clock, MS);
  t.is(restore.stepNs, 5_400_000n * MS);
  t.is(restore.residualNs, 0n);
  t.is(clock.realtimeNs - BigInt(anchor.realtimeNs), clock.boottimeNs - BigInt(anchor.boottimeNs), 'realtime advanced exactly as boottime');
});

test('a second restore finds the clock in place and steps nothing (idempotent)', (t) => {
  const clock = new FakeClock();
  const anchor = anchorOf(clock.clockRead());
  clock.clockStep(600_000n * MS);
  restoreFromAnchor(anchor, clock, MS);
  clock.advance(1000);
  const again = restoreFromAnchor(anchor, clock, MS);
  t.is(again.stepNs, 0n);
  t.deepEqual(clock.steps, [600_000n * MS, -600_000n * MS]);
});

test('an error within the tolerance is left; one just beyond it is stepped', (t) => {
  const clock = new FakeClock();
  const anchor = anchorOf(clock.clockRead());
  clock.realtimeNs += MS;
  t.is(restoreFromAnchor(anchor, clock, MS).stepNs, 0n, '1 ms: within');
  clock.realtimeNs += 1n;
  t.is(restoreFromAnchor(anchor, clock, MS).stepNs, -(MS + 1n), '1 ms + 1 ns: stepped');
});

test('time suspended during the fault counts as elapsed (BOOTTIME), not as skew', (t) => {
  const clock = new FakeClock();
  const anchor = anchorOf(clock.clockRead());
  clock.clockStep(3_600_000n * MS);
  clock.suspend(60_000);
  const restore = restoreFromAnchor(anchor, clock, MS);
  t.is(restore.stepNs, -3_600_000n * MS, 'only the offset is undone; the minute asleep stays');
});
