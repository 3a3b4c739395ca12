// SPDX-License-Identifier: Apache-2.0
// The PostgreSQL driver on a real server (test/helpers/postgres.ts).
import test from 'ava';
import pg from 'pg';

import { PostgresDriver } from '../../../src/hub/postgres-driver.js';
import type { SqlDriver } from '../../../src/hub/sql-driver.js';
import { stopTestPostgres, testPostgres } from '../../helpers/hub-stores.js';
import { postgresMissing } from '../../helpers/postgres.js';

test.after.always(stopTestPostgres);
const missing = postgresMissing();

(missing ? test.skip : test)(`a transaction that is not durable runs with synchronous_commit off, for itself only${missing ? ` (skipped: ${missing})` : ''}`, async (t) => {
  const pool = new pg.Pool({ connectionString: await (await testPostgres()).createDatabase(), max: 1 });
  t.teardown(() => pool.end());
  const driver = new PostgresDriver(pool);
  const setting = async (tx: SqlDriver) => (await tx.get<{ synchronous_commit: string }>('SHOW synchronous_commit'))?.synchronous_commit;
  const server = await setting(driver);
  t.is(await driver.transaction(setting, { durable: false }), 'off');
  t.is(await setting(driver), server, "the pooled connection keeps the server's setting after it (SET LOCAL)");
  t.is(await driver.transaction(setting), server, 'a durable transaction has the server setting');
});
