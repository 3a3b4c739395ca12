// SPDX-License-Identifier: Apache-2.0
import test from 'ava';

import { newAccessKey, openPendingKey, sealPendingKey } from '../../../src/hub/credentials.js';

test('a pending key sealed with the current key opens with that key only', (t) => {
  const current = newAccessKey();
  const pending = newAccessKey();
  const sealed = sealPendingKey(pending, current);
  t.false(sealed.toString('latin1').includes(pending.slice(4)), 'not in clear');
  t.is(openPendingKey(sealed, current), pending);
  t.is(openPendingKey(sealed, newAccessKey()), undefined, 'another key');
  t.is(openPendingKey(sealed, pending), undefined, 'not with itself');
  t.not(sealPendingKey(pending, current).toString('hex'), sealed.toString('hex'), 'a fresh salt and IV each time');
});

test('a damaged or truncated seal opens to nothing', (t) => {
  const current = newAccessKey();
  const sealed = sealPendingKey(newAccessKey(), current);
  for (const at of [0, 1, 20, 35, sealed.length - 1]) {
    const damaged = Buffer.from(sealed);
    damaged[at] = (damaged[at] ?? 0) ^ 0x01;
    t.is(openPendingKey(damaged, current), undefined, `byte ${at} flipped`);
  }
  t.is(openPendingKey(sealed.subarray(0, 30), current), undefined);
  t.is(openPendingKey(Buffer.alloc(0), current), undefined);
});
