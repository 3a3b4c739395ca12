// SPDX-License-Identifier: Apache-2.0
// hub.db and its WAL files are private to the hub's user (0600), new or made 0644 by faultd 0.1.0;
// numbered status events are acknowledged through notes that span them.
import { chmodSync, existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import test from 'ava';
import Database from 'better-sqlite3';

import { hashKey } from '../../../src/hub/credentials.js';
import { SqliteHubStore } from '../../../src/hub/sqlite-store.js';

const FILES = ['hub.db', 'hub.db-wal', 'hub.db-shm'];

function mode(file: string): number {
  return statSync(file).mode & 0o777;
}

function tempDir(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'faultd-hubdb-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('a new hub.db and its -wal/-shm files are created 0600, whatever the umask lets through', async (t) => {
  const dir = tempDir(t);
  const umask = process.umask(0o000);
  t.teardown(() => process.umask(umask));
  const store = new SqliteHubStore(path.join(dir, 'hub.db'));
  t.teardown(() => store.close());
  await store.addInfra({ id: 'inf_a', name: 'edge-1', createdAt: 1, key: hashKey('fdk_x') });
  for (const name of FILES) {
    const file = path.join(dir, name);
    t.true(existsSync(file), `${name} exists while the store is open (WAL)`);
    t.is(mode(file), 0o600, name);
  }
});

test('a hub.db made 0644 (by faultd 0.1.0), with its -wal and -shm, is made 0600 when opened', (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'hub.db');
  const old = new Database(file);
  old.pragma('journal_mode = WAL');
  old.exec('CREATE TABLE IF NOT EXISTS t (x INTEGER); INSERT INTO t VALUES (1)');
  old.close();
  // A hub killed while open leaves its -wal and -shm behind (empty ones stand in here).
  writeFileSync(`${file}-wal`, '');
  writeFileSync(`${file}-shm`, '');
  for (const name of FILES) chmodSync(path.join(dir, name), 0o644);
  const store = new SqliteHubStore(file);
  t.teardown(() => store.close());
  for (const name of FILES) t.is(mode(path.join(dir, name)), 0o600, name);
  const reader = new Database(file, { readonly: true });
  t.teardown(() => reader.close());
  t.is(reader.prepare('SELECT x FROM t').pluck().get(), 1, 'its data kept');
});

test('a note spanning status events moves the acknowledgement past them, also when it starts below what is already acknowledged', async (t) => {
  const store = new SqliteHubStore(':memory:');
  t.teardown(() => store.close());
  await store.addInfra({ id: 'inf_a', name: 'edge-1', createdAt: 1, key: hashKey(`fdk_${'k'.repeat(43)}`) });
  await store.addRun({ id: 'run_a', infraId: 'inf_a', experiment: '{}', queuedAt: 1 });
  await store.dispatchNext('inf_a', 2);
  const at = '2026-12-01T00:00:00.000Z';
  const event = (seq: number, span?: number) => ({ seq, at, phase: span ? 'dropped' : `p${seq}`, ...(span ? { span } : {}) });
  t.is(await store.addStatus('run_a', [1, 2, 3, 4, 5].map((seq) => event(seq))), 5);
  // The agent never saw the acknowledgement of 3–5 and dropped 3–7 into one note.
  t.is(await store.addStatus('run_a', [event(3, 5)]), 7);
  t.is(await store.addStatus('run_a', [event(9)]), 7, 'a gap holds the acknowledgement');
  t.is(await store.addStatus('run_a', [event(8)]), 9);
  t.deepEqual((await store.statusHistory('run_a')).map((s) => `${s.seq}:${s.phase}`), ['1:p1', '2:p2', '3:p3', '4:p4', '5:p5', '8:p8', '9:p9'], 'the event stored first keeps its place');
  t.like(await store.run('run_a'), { state: 'running' });
});
