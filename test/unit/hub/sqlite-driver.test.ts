// SPDX-License-Identifier: Apache-2.0
// The SQLite driver shares one synchronous connection between callers whose transactions span
// awaits: they must queue, and a plain call must never land inside another caller's transaction.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import test from 'ava';
import Database from 'better-sqlite3';

import { betterSqliteOptions } from '../../../src/prebuilds.js';
import type { SqlDriver } from '../../../src/hub/sql-driver.js';
import { SqliteDriver } from '../../../src/hub/sqlite-driver.js';

const tick = () => new Promise((resolve) => setImmediate(resolve));

test('transactions started together run one after another; plain calls wait for them and never see a rolled-back write', async (t) => {
  const db = new Database(':memory:', betterSqliteOptions());
  t.teardown(() => db.close());
  const driver = new SqliteDriver(db);
  await driver.run('CREATE TABLE n (v INTEGER)');
  let inside = 0;
  let most = 0;
  const transaction = (v: number, fail: boolean) =>
    driver.transaction(async (tx) => {
      inside += 1;
      most = Math.max(most, inside);
      await tx.run('INSERT INTO n (v) VALUES (?)', [v]);
      await tick();
      inside -= 1;
      if (fail) throw new Error('rolled back');
    });
  const reads: number[] = [];
  // Started in the same tick, as two token exchanges arriving together: no await in between.
  const outcomes = await Promise.allSettled([
    ...Array.from({ length: 20 }, (_, i) => transaction(i, i % 2 === 1)),
    ...Array.from({ length: 20 }, async () => reads.push(...(await driver.all<{ v: number }>('SELECT v FROM n')).map((r) => r.v))),
  ]);
  t.is(most, 1, 'one transaction at a time');
  const failures = outcomes.flatMap((o) => (o.status === 'rejected' ? [String(o.reason)] : []));
  t.deepEqual(failures, Array.from({ length: 10 }, () => 'Error: rolled back'), 'only the transactions that threw failed');
  t.false(reads.some((v) => v % 2 === 1), 'no read saw a write that was rolled back');
  t.deepEqual((await driver.all<{ v: number }>('SELECT v FROM n ORDER BY v')).map((r) => r.v), [0, 2, 4, 6, 8, 10, 12, 14, 16, 18]);
});

test('a transaction that is not durable commits with synchronous=NORMAL, and the connection is back at FULL after it', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'faultd-sqlite-driver-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const db = new Database(path.join(dir, 'hub.db'), betterSqliteOptions());
  t.teardown(() => db.close());
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  const driver = new SqliteDriver(db);
  const level = async (tx: SqlDriver) => (await tx.get<{ synchronous: number }>('PRAGMA synchronous'))?.synchronous;
  t.is(await driver.transaction(level, { durable: false }), 1, 'NORMAL inside');
  t.is(await level(driver), 2, 'FULL after');
  t.is(await driver.transaction(level), 2, 'a durable transaction stays FULL');
  await t.throwsAsync(driver.transaction(() => Promise.reject(new Error('no')), { durable: false }));
  t.is(await level(driver), 2, 'FULL after a rollback too');
});
