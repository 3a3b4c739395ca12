// SPDX-License-Identifier: Apache-2.0
import test from 'ava';

import { PHASED_WAIT_MIN_MS, phasedWaitMs, phaseOf } from '../../../src/hub/poll-phase.js';

const ASKED = 25_000;

test("a poll is held to its infrastructure's next slot: a grid with the wait's period, offset by the phase", (t) => {
  // Phase 0.5 of 25 s: slots at 12.5 s, 37.5 s, 62.5 s, …
  t.is(phasedWaitMs(ASKED, 0.5, 0), 12_500);
  t.is(phasedWaitMs(ASKED, 0.5, 12_499), 1);
  t.is(phasedWaitMs(ASKED, 0.5, 12_500), ASKED, 'arriving on the slot: held to the next one, the full wait');
  t.is(phasedWaitMs(ASKED, 0.5, 12_503), ASKED - 3, 'a renewal asked just after its answer: (almost) the full wait');
  for (let now = 0; now < 60_000; now += 333) {
    const wait = phasedWaitMs(ASKED, 0.37, now);
    t.true(wait > 0 && wait <= ASKED, `wait ${wait} at ${now}`);
    const off = (now + wait - 0.37 * ASKED) / ASKED;
    t.true(Math.abs(off - Math.round(off)) < 1e-9, `answered on a slot: ${now} + ${wait}`);
  }
});

test('short waits are held in full', (t) => {
  t.is(phasedWaitMs(0, 0.9, 12_345), 0);
  t.is(phasedWaitMs(PHASED_WAIT_MIN_MS - 1000, 0.9, 12_345), PHASED_WAIT_MIN_MS - 1000);
});

test('polls that arrived together (a storm) are renewed evenly over the whole period from the first answer on, and stay so', (t) => {
  const infras = Array.from({ length: 5000 }, (_, i) => `inf_${i.toString(36)}x${(i * 7919).toString(36)}`);
  const RTT = 3;
  // Every agent polls at 1 s; each renews 3 ms after each answer, for three rounds.
  let at = infras.map(() => 1000);
  for (let round = 0; round < 3; round += 1) {
    at = at.map((polled, i) => polled + phasedWaitMs(ASKED, phaseOf(infras[i]!), polled) + RTT);
    // Ten buckets of 2.5 s over the 25 s period: each holds about a tenth (500 ± 100).
    const buckets = new Array<number>(10).fill(0);
    for (const renewed of at) buckets[Math.floor((renewed % ASKED) / (ASKED / 10))]! += 1;
    for (const [i, n] of buckets.entries()) t.true(n > 400 && n < 600, `round ${round}, bucket ${i}: ${n} of 5000 (${buckets.join(' ')})`);
  }
  // After the first answer every hold is the full wait (less the round trip).
  const id = infras[0]!;
  const first = 1000 + phasedWaitMs(ASKED, phaseOf(id), 1000) + RTT;
  t.is(phasedWaitMs(ASKED, phaseOf(id), first), ASKED - RTT);
});

test('the phase is a fixed fraction in [0, 1) per id', (t) => {
  t.is(phaseOf('inf_abc'), phaseOf('inf_abc'));
  t.not(phaseOf('inf_abc'), phaseOf('inf_abd'));
  for (const id of ['', 'a', 'inf_' + 'z'.repeat(64)]) t.true(phaseOf(id) >= 0 && phaseOf(id) < 1);
});
