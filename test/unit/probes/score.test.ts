// SPDX-License-Identifier: Apache-2.0
/** The resilience score: which evaluations apply to which fault, weights, and no score without any. */
import test from 'ava';

import type { Evaluation, EvaluationPhase } from '../../../src/probes/evaluation.js';
import { parseProbe } from '../../../src/probes/schema.js';
import { resilienceScore, ScoreBook } from '../../../src/probes/score.js';
import type { ProbeScope, ProbeSpec } from '../../../src/probes/types.js';

function probe(name: string, mode: string, scope: ProbeScope): ProbeSpec {
  const parsed = parseProbe({ name, type: 'http', mode, url: 'http://127.0.0.1/', criteria: { responseCode: 200 } });
  if (!parsed.ok) throw new Error('bad probe');
  return { ...parsed.probe, scope, cutBy: [] };
}

function evaluation(phase: EvaluationPhase, startedAt: number, endedAt: number, passed: boolean): Evaluation {
  return { probe: 'p', phase, at: '', startedAt, endedAt, passed, attempts: 1, observed: '', criterion: '', latencyMs: 1 };
}

test('Σ(weight × success %) / Σ weights over the faults that have evaluations', (t) => {
  const book = new ScoreBook();
  const web = probe('web', 'Continuous', { level: 'experiment' });
  book.faultStarted(0, 'a', 10, 0);
  book.record(web, evaluation('Continuous', 10, 20, true));
  book.record(web, evaluation('Continuous', 30, 40, false));
  book.faultEnded('a', 100);
  book.faultStarted(1, 'b', 5, 200);
  book.record(web, evaluation('Continuous', 150, 190, false)); // between the faults: neither
  book.record(web, evaluation('Continuous', 190, 210, true)); // overlaps b's start
  book.faultEnded('b', 300);
  book.faultStarted(2, 'c', 10, 400); // no evaluation applies: left out
  book.faultEnded('c', 500);
  const scores = book.scores();
  t.deepEqual(
    scores.map((s) => [s.faultId, s.evaluations, s.successPercent]),
    [
      ['a', 2, 50],
      ['b', 1, 100],
      ['c', 0, undefined],
    ],
  );
  t.is(resilienceScore(scores), Math.round(((10 * 50 + 5 * 100) / 15) * 10) / 10);
});

test('SOT/EOT of the experiment bracket every fault; of a step only its own; fault probes count for their fault only', (t) => {
  const book = new ScoreBook();
  const pre = probe('pre', 'SOT', { level: 'experiment' });
  const step2 = probe('step2', 'EOT', { level: 'step', step: 1 });
  const own = probe('own', 'OnChaos', { level: 'fault', step: 0, faultId: 'a' });
  book.record(pre, evaluation('SOT', 0, 1, false));
  book.faultStarted(0, 'a', 10, 10);
  book.record(own, evaluation('OnChaos', 20, 30, true));
  book.faultEnded('a', 50);
  book.faultStarted(1, 'b', 10, 60);
  book.faultEnded('b', 90);
  book.record(step2, evaluation('EOT', 95, 96, true));
  t.deepEqual(
    book.scores().map((s) => [s.faultId, s.passed, s.evaluations]),
    [
      ['a', 1, 2],
      ['b', 1, 2],
    ],
  );
});

test('no evaluation anywhere means no score, not 100', (t) => {
  const book = new ScoreBook();
  book.faultStarted(0, 'a', 10, 0);
  book.faultEnded('a', 10);
  t.is(resilienceScore(book.scores()), undefined);
  t.is(resilienceScore([]), undefined);
});
