// SPDX-License-Identifier: Apache-2.0
// The audit log is append-only: the store has no call and no SQL that changes or removes an
// entry, and the database refuses one made behind its back.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import Database from 'better-sqlite3';
import test from 'ava';

import { SqliteHubStore } from '../../../../src/hub/sqlite-store.js';
import { REPO_ROOT } from '../../../helpers/cli.js';

const STORE_SOURCES = ['src/hub/operators/operator-store.ts', 'src/hub/operators/sql-operator-store.ts'];

test('no UPDATE or DELETE of operator_audit in the store code, and the interface has only append and list', (t) => {
  for (const file of STORE_SOURCES) {
    const source = readFileSync(path.join(REPO_ROOT, file), 'utf8');
    t.notRegex(source, /(UPDATE|DELETE\s+FROM)\s+operator_audit/i, file);
    t.notRegex(source, /(INSERT\s+OR\s+REPLACE|REPLACE\s+INTO)\s+operator_audit/i, file);
  }
  const iface = readFileSync(path.join(REPO_ROOT, STORE_SOURCES[0] ?? ''), 'utf8');
  const auditMethods = [...iface.matchAll(/^\s+(\w*[Aa]udit\w*)\(/gm)].map((m) => m[1]);
  t.deepEqual(auditMethods, ['appendAudit', 'listAudit']);
});

test('entries are appended with increasing ids and listed newest first with paging; the database refuses UPDATE and DELETE', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'faultd-audit-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'hub.db');
  const store = new SqliteHubStore(file);
  const operators = store.operators();
  const ids: number[] = [];
  for (let i = 0; i < 5; i += 1) ids.push(await operators.appendAudit({ at: 1000 + i, actor: 'ann', role: 'admin', action: `a${i}`, remote: '10.0.0.1', ...(i === 2 ? { target: 't', detail: 'd' } : {}) }));
  t.deepEqual(ids, [...ids].sort((a, b) => a - b));
  const newest = await operators.listAudit({ limit: 2 });
  t.deepEqual(newest.map((e) => e.action), ['a4', 'a3']);
  const older = await operators.listAudit({ limit: 10, before: newest[1]?.id ?? 0 });
  t.deepEqual(older.map((e) => e.action), ['a2', 'a1', 'a0']);
  t.deepEqual(older[0], { id: ids[2], at: 1002, actor: 'ann', role: 'admin', action: 'a2', target: 't', remote: '10.0.0.1', detail: 'd' });
  await store.close();
  const raw = new Database(file);
  t.teardown(() => raw.close());
  t.throws(() => raw.prepare("UPDATE operator_audit SET actor = 'mallory'").run(), { any: true, message: /append-only/ });
  t.throws(() => raw.prepare('DELETE FROM operator_audit').run(), { any: true, message: /append-only/ });
  t.is((raw.prepare('SELECT COUNT(*) FROM operator_audit').pluck().get() as number), 5);
});
