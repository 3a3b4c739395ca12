// SPDX-License-Identifier: Apache-2.0
// The OperatorStore on SQLite and on a real PostgreSQL: the same SQL, the same answers; the
// audit log refuses UPDATE and DELETE on both.
import Database from 'better-sqlite3';
import test from 'ava';
import pg from 'pg';

import { STORE_BACKENDS, stopTestPostgres } from '../../../helpers/hub-stores.js';

test.after.always(stopTestPostgres);

for (const backend of STORE_BACKENDS) {
  const run = backend.missing ? test.skip : test.serial;
  run(`${backend.name}: users, sessions, API tokens, audit and library${backend.missing ? ` (skipped: ${backend.missing})` : ''}`, async (t) => {
    const db = await backend.database(t);
    const store = (await db.connect()).operators();
    t.true(await store.addUser({ name: 'ann', role: 'admin', passwordHash: 'scrypt$x', createdAt: 1_700_000_000_000 }));
    t.false(await store.addUser({ name: 'ann', role: 'viewer', passwordHash: 'y', createdAt: 2 }), 'names are unique');
    await store.recordLogin('ann', 1_700_000_000_500);
    t.deepEqual(await store.user('ann'), { name: 'ann', role: 'admin', passwordHash: 'scrypt$x', createdAt: 1_700_000_000_000, lastLogin: 1_700_000_000_500 });
    t.true(await store.setRole('ann', 'operator'));
    t.false(await store.setRole('nobody', 'operator'));
    await store.addSession({ idHash: 'h1', userName: 'ann', csrfToken: 'c', createdAt: 10, expiresAt: 100, lastSeenAt: 10 });
    await store.addSession({ idHash: 'h2', userName: 'ann', csrfToken: 'c', createdAt: 10, expiresAt: 1000, lastSeenAt: 10 });
    await store.touchSession('h2', 60);
    t.is((await store.session('h2'))?.lastSeenAt, 60);
    t.is(await store.pruneSessions(100, 50), 1, 'h1 expired; h2 was seen after 50');
    t.truthy(await store.session('h2'));
    t.true(await store.setPassword('ann', 'scrypt$new'));
    t.is(await store.session('h2'), undefined, 'a new password ends the sessions');
    await store.addApiToken({ id: 'tok_1', hash: 'th1', userName: 'ann', createdAt: 5, expiresAt: 500 });
    await store.addApiToken({ id: 'tok_2', hash: 'th2', userName: 'ann', createdAt: 6 });
    await store.touchApiToken('th2', 7);
    t.deepEqual(await store.apiToken('th2'), { id: 'tok_2', hash: 'th2', userName: 'ann', createdAt: 6, lastUsed: 7 });
    t.deepEqual((await store.listApiTokens('ann')).map((x) => x.id), ['tok_1', 'tok_2']);
    t.true(await store.revokeApiToken('tok_1'));
    t.false(await store.revokeApiToken('tok_1'));
    t.true(await store.putExperiment({ name: 'e', text: 'a', updatedAt: 1, updatedBy: 'ann', faults: 2 }));
    t.false(await store.putExperiment({ name: 'e', text: 'b', updatedAt: 2, updatedBy: 'bob', faults: 3 }));
    t.deepEqual(await store.experiment('e'), { name: 'e', text: 'b', updatedAt: 2, updatedBy: 'bob', faults: 3 });
    t.deepEqual((await store.listExperiments()).map((e) => e.name), ['e']);
    t.true(await store.deleteExperiment('e'));
    t.false(await store.deleteExperiment('e'));
    const first = await store.appendAudit({ at: 1, actor: 'ann', role: 'admin', action: 'a', remote: 'r' });
    const second = await store.appendAudit({ at: 2, actor: 'ann', role: 'admin', action: 'b', target: 't', remote: 'r', detail: 'd' });
    t.true(second > first);
    t.deepEqual(await store.listAudit({ limit: 10 }), [
      { id: second, at: 2, actor: 'ann', role: 'admin', action: 'b', target: 't', remote: 'r', detail: 'd' },
      { id: first, at: 1, actor: 'ann', role: 'admin', action: 'a', remote: 'r' },
    ]);
    t.deepEqual((await store.listAudit({ limit: 10, before: second })).map((e) => e.id), [first]);
    t.true(await store.removeUser('ann'));
    t.deepEqual(await store.listApiTokens(), [], 'tokens go with their user');
    t.false(await store.removeUser('ann'));
    // Behind the store's back, the database itself refuses to change the audit log.
    if (backend.name === 'postgres') {
      const client = new pg.Client({ connectionString: db.url });
      await client.connect();
      t.teardown(() => client.end());
      await t.throwsAsync(client.query("UPDATE operator_audit SET actor = 'mallory'"), { message: /append-only/ });
      await t.throwsAsync(client.query('DELETE FROM operator_audit'), { message: /append-only/ });
      await t.throwsAsync(client.query('TRUNCATE operator_audit'), { message: /append-only/ });
      t.is(Number((await client.query<{ n: string }>('SELECT COUNT(*) AS n FROM operator_audit')).rows[0]?.n), 2);
    } else {
      const raw = new Database(db.url.slice('sqlite:'.length));
      t.teardown(() => raw.close());
      t.throws(() => raw.prepare("UPDATE operator_audit SET actor = 'mallory'").run(), { any: true, message: /append-only/ });
      t.throws(() => raw.prepare('DELETE FROM operator_audit').run(), { any: true, message: /append-only/ });
      t.is(raw.prepare('SELECT COUNT(*) FROM operator_audit').pluck().get(), 2);
    }
  });
}
