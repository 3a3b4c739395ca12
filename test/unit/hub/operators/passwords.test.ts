// SPDX-License-Identifier: Apache-2.0
// Password hashes and the login rate limiter, on their own.
import test from 'ava';

import { hashPassword, passwordProblem, verifyPassword } from '../../../../src/hub/operators/passwords.js';
import { RateLimiter } from '../../../../src/hub/operators/rate-limit.js';

test('scrypt hashes: a salt per hash, the parameters stored, only the right password verifies', async (t) => {
  const a = await hashPassword('correct horse battery');
  const b = await hashPassword('correct horse battery');
  t.regex(a, /^scrypt\$32768\$8\$1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
  t.not(a, b, 'salted');
  t.true(await verifyPassword('correct horse battery', a));
  t.true(await verifyPassword('correct horse battery', b));
  t.false(await verifyPassword('correct horse batterz', a));
  t.false(await verifyPassword('', a));
  t.false(await verifyPassword('correct horse battery', undefined), 'no user: false, after a dummy check');
  t.false(await verifyPassword('x', 'md5$abc'), 'an unknown scheme never verifies');
  t.false(a.includes('correct'));
});

test('password rules: 12–1024 characters', (t) => {
  t.regex(passwordProblem('short') ?? '', /at least 12/);
  t.is(passwordProblem('twelve chars'), undefined);
  t.regex(passwordProblem('x'.repeat(1025)) ?? '', /at most 1024/);
});

test('the rate limiter allows `limit` per window and key, says how long to wait, and tracks at most maxKeys keys', (t) => {
  let now = 0;
  const limiter = new RateLimiter({ limit: 3, windowMs: 1000, maxKeys: 100, now: () => now });
  for (let i = 0; i < 3; i += 1) {
    t.is(limiter.retryAfterMs('a'), 0);
    limiter.record('a');
  }
  t.is(limiter.retryAfterMs('a'), 1000);
  now = 400;
  t.is(limiter.retryAfterMs('a'), 600);
  t.is(limiter.retryAfterMs('b'), 0, 'keys are separate');
  now = 1000;
  t.is(limiter.retryAfterMs('a'), 0, 'a new window');
  limiter.record('a');
  limiter.clear('a');
  t.is(limiter.size, 0);
  for (let i = 0; i < 10_000; i += 1) limiter.record(`10.0.${i >> 8}.${i & 255}`);
  t.is(limiter.size, 100, 'bounded');
});
