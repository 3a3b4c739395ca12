// SPDX-License-Identifier: Apache-2.0
import test from 'ava';

import { fitResult } from '../../../src/agent/result-fit.js';
import { ResultRequest } from '../../../src/protocol/messages.js';

const LIMIT = 192 * 1024;

function fault(i: number, failedRevert = false) {
  const revert = JSON.stringify({ ok: !failedRevert, detail: 'x'.repeat(3900) });
  return { faultId: `f${i}`, kind: 'linux-cpu-stress', status: failedRevert ? 'revert-failed' : 'completed', revert, error: 'e'.repeat(4000) };
}

test('a result that fits is sent as it is', (t) => {
  const result = { verdict: 'completed' as const, faults: [fault(1), fault(2)] };
  t.is(fitResult(result, LIMIT), result);
});

test('long texts are shortened first, and the list is kept whole when that is enough', (t) => {
  const result = { verdict: 'completed' as const, faults: Array.from({ length: 100 }, (_, i) => fault(i)) };
  const fitted = fitResult(result, LIMIT);
  t.is(fitted.faults.length, 100);
  t.true(Buffer.byteLength(JSON.stringify(fitted)) <= LIMIT);
  t.is(fitted.faults[0]?.error?.length, 500);
});

test('the largest experiment (3200 faults) fits: failed reverts are kept first, and the reason says how many are listed', (t) => {
  const faults = Array.from({ length: 3200 }, (_, i) => fault(i, i === 3100 || i === 7));
  const fitted = fitResult({ verdict: 'revert-failed', reason: 'two reverts failed', faults }, LIMIT);
  t.true(Buffer.byteLength(JSON.stringify(fitted)) <= LIMIT);
  t.true(ResultRequest.safeParse(fitted).success);
  const ids = fitted.faults.map((f) => f.faultId);
  t.true(ids.includes('f3100') && ids.includes('f7'), 'both failed reverts are listed');
  t.deepEqual(ids, [...ids].sort((a, b) => Number(a.slice(1)) - Number(b.slice(1))), 'in their original order');
  t.regex(fitted.reason ?? '', new RegExp(`^two reverts failed; the result lists ${fitted.faults.length} of 3200 faults \\(the hub's body limit\\)`));
  t.true(fitted.faults.length > 100 && fitted.faults.length < 3200);
});
