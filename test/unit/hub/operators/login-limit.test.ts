// SPDX-License-Identifier: Apache-2.0
// Failed-login limits live in the hub's database: two hub processes (two stores, two
// OperatorAuth) on one SQLite file or one PostgreSQL database share them, so N replicas behind a
// load balancer do not give an attacker N times the attempts. The in-memory per-address limit
// stays per process (a flood guard in front of the database).
import test from 'ava';

import { OperatorAuth } from '../../../../src/hub/operators/auth.js';
import { OperatorError } from '../../../../src/hub/operators/operator-error.js';
import { localActor, OperatorService } from '../../../../src/hub/operators/operator-service.js';
import { STORE_BACKENDS, stopTestPostgres } from '../../../helpers/hub-stores.js';
import { PASSWORD } from '../../../helpers/operator-api.js';

test.after.always(stopTestPostgres);

const WINDOW_MS = 5 * 60_000;

/** The refusal code of a login, or 'ok'. */
async function attempt(auth: OperatorAuth, name: string, password: string, remote: string): Promise<string> {
  try {
    await auth.login(name, password, remote);
    return 'ok';
  } catch (error) {
    if (error instanceof OperatorError) return error.apiCode;
    throw error;
  }
}

for (const backend of STORE_BACKENDS) {
  const run = backend.missing ? test.skip : test.serial;
  run(`${backend.name}: two hubs on one database share the failed-login limits per name and per address; a lapsed window and a good login reset them${backend.missing ? ` (skipped: ${backend.missing})` : ''}`, async (t) => {
    const db = await backend.database(t);
    const [storeA, storeB] = [await db.connect(), await db.connect()];
    let now = 1_800_000_000_000;
    const clock = () => now;
    await new OperatorService(storeA.operators(), { now: clock }).addUser(localActor(), 'ann', 'viewer', PASSWORD);
    await new OperatorService(storeA.operators(), { now: clock }).addUser(localActor(), 'bob', 'viewer', PASSWORD);
    const options = { now: clock, failuresPerName: 4, failuresPerAddress: 6, attemptsPerAddress: 1000, windowMs: WINDOW_MS };
    const hubA = new OperatorAuth(storeA.operators(), options);
    const hubB = new OperatorAuth(storeB.operators(), options);

    // Per name: 4 failures in all, alternating between the hubs (each alone would allow 4).
    const answers: string[] = [];
    for (let i = 0; i < 4; i += 1) answers.push(await attempt(i % 2 === 0 ? hubA : hubB, 'ann', 'wrong password!', `10.0.0.${i}`));
    t.deepEqual(answers, ['UNAUTHENTICATED', 'UNAUTHENTICATED', 'UNAUTHENTICATED', 'UNAUTHENTICATED']);
    t.is(await attempt(hubA, 'ann', PASSWORD, '10.0.1.1'), 'RATE_LIMITED', 'even the right password waits, on either hub');
    t.is(await attempt(hubB, 'ann', PASSWORD, '10.0.1.2'), 'RATE_LIMITED');
    t.is(await attempt(hubB, 'bob', PASSWORD, '10.0.1.3'), 'ok', 'another name is not limited');
    // The window lapses: allowed again, and a good login on one hub clears the name for both.
    now += WINDOW_MS;
    t.is(await attempt(hubB, 'ann', 'wrong password!', '10.0.2.1'), 'UNAUTHENTICATED');
    t.is(await attempt(hubA, 'ann', PASSWORD, '10.0.2.2'), 'ok');
    for (let i = 0; i < 3; i += 1) t.is(await attempt(hubB, 'ann', 'wrong password!', '10.0.2.3'), 'UNAUTHENTICATED', `failure ${i + 1} after the reset`);
    t.is(await attempt(hubA, 'ann', PASSWORD, '10.0.2.4'), 'ok', 'three failures since the good login: under the limit of 4');

    // Per address: 6 failures from one address over many names and both hubs, then that address waits.
    now += WINDOW_MS;
    for (let i = 0; i < 6; i += 1) t.is(await attempt(i % 2 === 0 ? hubA : hubB, `guess-${i}`, 'wrong password!', '192.0.2.7'), 'UNAUTHENTICATED');
    t.is(await attempt(hubB, 'bob', PASSWORD, '192.0.2.7'), 'RATE_LIMITED', 'the address has used its failures on both hubs');
    t.is(await attempt(hubA, 'bob', PASSWORD, '192.0.2.8'), 'ok', 'another address is not');
    // Lapsed windows are dropped: only the live ones are kept, whatever names were tried.
    now += WINDOW_MS;
    t.is(await attempt(hubA, 'nobody', 'wrong password!', '192.0.2.9'), 'UNAUTHENTICATED');
    const operators = storeB.operators();
    t.is(await operators.loginFailures('name:guess-0', now - WINDOW_MS), undefined);
    t.like(await operators.loginFailures('name:nobody', now - WINDOW_MS), { failures: 1, windowStart: now });
  });

  run(`${backend.name}: concurrent failures on two hubs are each counted (the upsert is atomic)${backend.missing ? ` (skipped: ${backend.missing})` : ''}`, async (t) => {
    const db = await backend.database(t);
    const [storeA, storeB] = [await db.connect(), await db.connect()];
    const now = 1_800_000_000_000;
    const a = storeA.operators();
    const b = storeB.operators();
    await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? a : b).recordLoginFailure('name:ann', now, now - WINDOW_MS)));
    t.deepEqual(await a.loginFailures('name:ann', now - WINDOW_MS), { failures: 40, windowStart: now });
    await b.clearLoginFailures('name:ann');
    t.is(await a.loginFailures('name:ann', now - WINDOW_MS), undefined);
  });
}

test('the in-memory flood limit per address is per process and refuses before the database is asked', async (t) => {
  const backend = STORE_BACKENDS[0];
  if (!backend) throw new Error('no store backend');
  const db = await backend.database(t);
  const store = await db.connect();
  const clock = () => 1_800_000_000_000;
  await new OperatorService(store.operators(), { now: clock }).addUser(localActor(), 'ann', 'viewer', PASSWORD);
  const operators = store.operators();
  let reads = 0;
  const counted = new Proxy(operators, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (property === 'loginFailures' && typeof value === 'function') {
        return (...args: Parameters<typeof operators.loginFailures>) => {
          reads += 1;
          return operators.loginFailures(...args);
        };
      }
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
  const auth = new OperatorAuth(counted, { now: clock, attemptsPerAddress: 3 });
  for (let i = 0; i < 3; i += 1) t.is(await attempt(auth, 'ann', PASSWORD, '198.51.100.1'), 'ok');
  const before = reads;
  t.is(await attempt(auth, 'ann', PASSWORD, '198.51.100.1'), 'RATE_LIMITED');
  t.is(reads, before, 'no database read for a refused flood');
});
