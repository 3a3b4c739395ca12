// SPDX-License-Identifier: Apache-2.0
// The PostgreSQL test server (test/helpers/postgres.ts): it runs, answers on its socket only, and is gone after teardown.
import { existsSync } from 'node:fs';

import test from 'ava';
import pg from 'pg';

import { postgresMissing, startPostgres } from '../../helpers/postgres.js';

const missing = postgresMissing();

(missing ? test.skip : test)(`a private PostgreSQL server starts on a Unix socket and is removed at teardown${missing ? ` (skipped: ${missing})` : ''}`, async (t) => {
  let socketDir = '';
  await t.try(async (tt) => {
    const server = await startPostgres(tt);
    socketDir = server.socketDir;
    const url = await server.createDatabase();
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    const { rows } = await client.query<{ version: string; big: number | string }>("SELECT current_setting('server_version') AS version, 5000000000::bigint AS big");
    await client.end();
    tt.regex(rows[0]?.version ?? '', /^15\./);
    tt.true(existsSync(socketDir));
  }).then((result) => result.commit());
  t.false(existsSync(socketDir), 'its directory is removed at teardown');
});
