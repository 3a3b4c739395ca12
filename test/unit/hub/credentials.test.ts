// SPDX-License-Identifier: Apache-2.0
import { createHmac, randomBytes, scryptSync } from 'node:crypto';

import test from 'ava';

import { hashKey, keyMatches, newAccessKey, openPendingKey, sealPendingKey } from '../../../src/hub/credentials.js';

test('a key is stored as HMAC-SHA256 under a fresh 32-byte salt, and only that key matches it', async (t) => {
  const key = newAccessKey();
  const stored = hashKey(key);
  t.is(stored.salt.length, 32);
  t.deepEqual(stored.hash, createHmac('sha256', stored.salt).update(key).digest(), 'HMAC-SHA256 keyed by the salt');
  t.notDeepEqual(hashKey(key).salt, stored.salt, 'a fresh salt each time');
  t.true(await keyMatches(key, stored));
  t.false(await keyMatches(newAccessKey(), stored));
  t.false(await keyMatches(key.slice(0, -1), stored));
});

test('a key stored by an earlier faultd (scrypt, 16-byte salt) still matches, and only that key', async (t) => {
  const key = newAccessKey();
  const salt = randomBytes(16);
  const legacy = { salt, hash: scryptSync(key, salt, 32) }; // what hashKey stored before 2026-12-07
  t.true(await keyMatches(key, legacy));
  t.false(await keyMatches(newAccessKey(), legacy));
  t.false(await keyMatches(key, { salt, hash: createHmac('sha256', salt).update(key).digest() }), 'a 16-byte salt means scrypt, never HMAC');
});

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
