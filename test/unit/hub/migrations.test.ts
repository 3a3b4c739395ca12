// SPDX-License-Identifier: Apache-2.0
// hub.db migrations: a database made by faultd 0.1.0 (its DDL in test/fixtures/hub/release-0.1.0)
// is adopted with its data, a fresh one gets every migration, a newer one is refused untouched.
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import test from 'ava';
import Database from 'better-sqlite3';

import { hashKey } from '../../../src/hub/credentials.js';
import { HUB_MIGRATIONS, latestVersion, migrate } from '../../../src/hub/migrations.js';
import { HubService } from '../../../src/hub/service.js';
import { SqliteHubStore } from '../../../src/hub/sqlite-store.js';
import { REPO_ROOT, runCli } from '../../helpers/cli.js';

const RELEASE_0_1_0_SCHEMA = readFileSync(path.join(REPO_ROOT, 'test', 'fixtures', 'hub', 'release-0.1.0', 'schema.sql'), 'utf8');

function tempDir(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'faultd-hubdb-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** What a database holds apart from its rows: every table, index and column definition. */
function schemaOf(db: Database.Database): string[] {
  return (db.prepare("SELECT type || ' ' || name || ': ' || COALESCE(sql, '') FROM sqlite_master ORDER BY type, name").pluck().all() as string[]);
}

function userVersion(file: string): number {
  const db = new Database(file, { readonly: true });
  try {
    return Number(db.pragma('user_version', { simple: true }));
  } finally {
    db.close();
  }
}

/** A hub.db as faultd 0.1.0 left it: its schema, user_version 0, a row in every table. */
function release010Database(file: string, accessKey: string): void {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.exec(RELEASE_0_1_0_SCHEMA);
  const key = hashKey(accessKey);
  db.prepare("INSERT INTO infras (id, name, created_at, key_salt, key_hash, rotation_requested, last_seen, agent_version, hostname, capabilities) VALUES ('inf_a', 'edge-1', 1000, ?, ?, 0, 5000, '0.1.0', 'edge-1.example', '[\"linux-cpu-stress\"]')").run(key.salt, key.hash);
  db.prepare("INSERT INTO tokens (hash, infra_id, expires_at) VALUES ('tokhash', 'inf_a', 99999999999999)").run();
  const experiment = JSON.stringify({ apiVersion: 'faultd/v1', kind: 'Experiment', metadata: { name: 'x' }, spec: { steps: [] } });
  const result = JSON.stringify({ verdict: 'completed', faults: [] });
  db.prepare("INSERT INTO runs (id, infra_id, experiment, state, queued_at, dispatched_at, finished_at, result, logs_acked) VALUES ('run_a', 'inf_a', ?, 'finished', 2000, 2100, 3000, ?, 3)").run(experiment, result);
  db.prepare("INSERT INTO run_status (run_id, at, fault_id, phase, detail) VALUES ('run_a', '2026-11-01T00:00:00.000Z', 'f1', 'running', 'cpu 50%')").run();
  const line = (seq: number, span?: number) => JSON.stringify({ seq, at: '2026-11-01T00:00:00.000Z', level: 'info', message: `line ${seq}`, ...(span ? { span } : {}) });
  db.prepare("INSERT INTO run_logs (run_id, seq, entry) VALUES ('run_a', 1, ?), ('run_a', 2, ?)").run(line(1), line(2, 2));
  db.prepare("INSERT INTO run_log_spans (run_id, first_seq, last_seq) VALUES ('run_a', 2, 3)").run();
  db.close();
}

test('migration 1 is exactly the schema of faultd 0.1.0', (t) => {
  const release = new Database(':memory:');
  release.exec(RELEASE_0_1_0_SCHEMA);
  const migrated = new Database(':memory:');
  t.deepEqual(migrate(migrated, ':memory:', HUB_MIGRATIONS.slice(0, 1)), { from: 0, to: 1 });
  t.deepEqual(schemaOf(migrated), schemaOf(release));
  release.close();
  migrated.close();
});

test('a hub.db made by faultd 0.1.0 (user_version 0, tables present) is adopted with every row; its key still works', async (t) => {
  const file = path.join(tempDir(t), 'hub.db');
  const accessKey = `fdk_${'k'.repeat(43)}`;
  release010Database(file, accessKey);
  t.is(userVersion(file), 0);
  const store = new SqliteHubStore(file);
  t.teardown(() => store.close());
  t.is(userVersion(file), latestVersion());
  t.like(await store.infraById('inf_a'), { name: 'edge-1', createdAt: 1000, lastSeen: 5000, agentVersion: '0.1.0', hostname: 'edge-1.example', capabilities: ['linux-cpu-stress'], rotationRequested: false });
  t.is((await store.infraById('inf_a'))?.pendingKey, undefined);
  t.deepEqual(await store.token('tokhash'), { infraId: 'inf_a', expiresAt: 99999999999999 });
  t.like(await store.run('run_a'), { infraId: 'inf_a', state: 'finished', queuedAt: 2000, dispatchedAt: 2100, finishedAt: 3000, result: { verdict: 'completed', faults: [] } });
  t.deepEqual(await store.statusHistory('run_a'), [{ at: '2026-11-01T00:00:00.000Z', faultId: 'f1', phase: 'running', detail: 'cpu 50%' }]);
  t.deepEqual((await store.logs('run_a', 0, 10)).map((e) => e.message), ['line 1', 'line 2']);
  t.is(await store.addLogs('run_a', []), 3, 'the acknowledged prefix (and the span behind it) kept');
  const service = new HubService(store);
  t.truthy(await service.exchangeToken({ infraId: 'inf_a', accessKey }), 'the infrastructure\'s key hash kept');
  // The columns later migrations added are there and work: a rotation records its sealed key.
  await service.rotateKey('edge-1');
  const rotated = await service.exchangeToken({ infraId: 'inf_a', accessKey });
  t.truthy((await store.infraById('inf_a'))?.pendingKey?.sealed);
  t.deepEqual((await service.exchangeToken({ infraId: 'inf_a', accessKey }))?.rotation, rotated?.rotation);
  await store.close();
  // Opening again changes nothing more.
  const again = new SqliteHubStore(file);
  t.is((await again.infraByName('edge-1'))?.id, 'inf_a');
  again.close();
  t.is(userVersion(file), latestVersion());
});

test('two processes opening a 0.1.0 hub.db at once: one migrates, the other waits and finds it done', async (t) => {
  const dir = tempDir(t);
  release010Database(path.join(dir, 'hub.db'), `fdk_${'k'.repeat(43)}`);
  const list = () => runCli(['hub', '--hub-dir', dir, 'infra', 'list'], path.join(dir, 'state'));
  const results = await Promise.all([list(), list(), list()]);
  for (const r of results) {
    t.is(r.code, 0, r.stderr);
    t.regex(r.stdout, /^edge-1\s/m);
  }
  t.is(userVersion(path.join(dir, 'hub.db')), latestVersion());
});

test('a fresh hub.db gets every migration, in one go', (t) => {
  const file = path.join(tempDir(t), 'hub.db');
  new SqliteHubStore(file).close();
  t.is(userVersion(file), HUB_MIGRATIONS.length);
  t.is(latestVersion(), HUB_MIGRATIONS.length);
  const db = new Database(file, { readonly: true });
  t.teardown(() => db.close());
  const columns = (db.prepare("SELECT name FROM pragma_table_info('infras')").pluck().all() as string[]);
  t.true(columns.includes('pending_key_sealed'));
  const fromScratch = new Database(':memory:');
  migrate(fromScratch, ':memory:');
  t.deepEqual(schemaOf(db), schemaOf(fromScratch), 'the same schema as migrating step by step from 0.1.0 gives');
  fromScratch.close();
});

test('a hub.db newer than this faultd is refused untouched, with FAULTD_ERR_HUB_DB_SCHEMA; the CLI exits 1 saying so', async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'hub.db');
  new SqliteHubStore(file).close();
  const newer = latestVersion() + 1;
  const db = new Database(file);
  db.pragma(`user_version = ${newer}`);
  db.exec('CREATE TABLE from_the_future (x INTEGER)');
  db.close();
  t.throws(() => new SqliteHubStore(file), {
    code: 'FAULTD_ERR_HUB_DB_SCHEMA',
    message: `${file} has schema version ${newer}, newer than this faultd's ${latestVersion()}: it was written by a newer faultd. Run that version (or newer), or restore a backup of hub.db made before the upgrade; nothing was changed`,
  });
  t.is(userVersion(file), newer);
  const cli = await runCli(['hub', '--hub-dir', dir, 'infra', 'list'], path.join(dir, 'state'));
  t.is(cli.code, 1, cli.stderr);
  t.regex(cli.stderr, /has schema version \d+, newer than this faultd's \d+/);
});

test('migrations run in one transaction: a failing one leaves the database as it was', (t) => {
  const file = path.join(tempDir(t), 'hub.db');
  const db = new Database(file);
  t.teardown(() => db.close());
  const broken = [...HUB_MIGRATIONS, { version: HUB_MIGRATIONS.length + 1, summary: 'broken on purpose', sql: 'CREATE TABLE ok_so_far (x INTEGER); ALTER TABLE nowhere ADD COLUMN y INTEGER;', postgres: '' }];
  t.throws(() => migrate(db, file, broken), { code: 'FAULTD_ERR_HUB_DB_SCHEMA', message: new RegExp(`migration ${broken.length} \\(broken on purpose\\) failed, so nothing was changed: no such table: nowhere`) });
  t.is(Number(db.pragma('user_version', { simple: true })), 0);
  t.deepEqual(schemaOf(db), [], 'not even migration 1 was kept');
  t.throws(() => migrate(db, file, [HUB_MIGRATIONS[1] ?? HUB_MIGRATIONS[0]!]), { message: /hub migration 1 is numbered 2/ });
});

test('numbered status (migration 4): a 0.1.0 run keeps its unnumbered events, numbered ones are stored once, the acknowledgement starts at 0', async (t) => {
  const file = path.join(tempDir(t), 'hub.db');
  release010Database(file, `fdk_${'k'.repeat(43)}`);
  const store = new SqliteHubStore(file);
  t.teardown(() => store.close());
  const db = new Database(file, { readonly: true });
  t.teardown(() => db.close());
  const columns = (table: string) => db.prepare(`SELECT name FROM pragma_table_info('${table}')`).pluck().all() as string[];
  t.true(columns('run_status').includes('seq') && columns('run_status').includes('span'));
  t.true(columns('runs').includes('status_acked'));
  const late = { at: '2026-11-01T00:00:01.000Z', faultId: 'f1', phase: 'done' };
  t.is(await store.addStatus('run_a', [{ seq: 1, ...late }, { seq: 1, ...late }]), 1);
  t.is(await store.addStatus('run_a', [{ seq: 1, ...late }]), 1);
  t.deepEqual(await store.statusHistory('run_a'), [
    { at: '2026-11-01T00:00:00.000Z', faultId: 'f1', phase: 'running', detail: 'cpu 50%' },
    { seq: 1, ...late },
  ]);
});

const SCHEMA_4 = path.join(REPO_ROOT, 'test', 'fixtures', 'hub', 'schema-4');

test('a hub.db made by the synchronous store (schema 4, test/fixtures/hub/schema-4) opens in place with its data, and keeps working', async (t) => {
  const facts = JSON.parse(readFileSync(path.join(SCHEMA_4, 'facts.json'), 'utf8')) as { infraId: string; accessKey: string; agentId: string; finishedRun: string; queuedRun: string };
  const file = path.join(tempDir(t), 'hub.db');
  copyFileSync(path.join(SCHEMA_4, 'hub.db'), file);
  const store = new SqliteHubStore(file);
  t.teardown(() => store.close());
  const service = new HubService(store);
  t.is(userVersion(file), latestVersion());
  const [infra] = await service.listInfras();
  t.like(infra, { id: facts.infraId, name: 'edge-1', hostname: 'edge-1.example', capabilities: ['linux-cpu-stress'], keyRotation: 'requested', binding: { agentId: facts.agentId, machineId: 'm1' } });
  t.like(await service.run(facts.finishedRun), { state: 'finished', result: { verdict: 'completed' } });
  t.deepEqual((await service.runStatus(facts.finishedRun)).map((s) => [s.seq, s.phase]), [[1, 'running'], [2, 'applied']]);
  t.deepEqual((await service.runLogs(facts.finishedRun, 0)).map((l) => l.message), ['line 1', 'dropped']);
  // Its key still works for its bound agent, the rotation asked for is handed out, its queued run is next.
  const token = await service.exchangeToken({ infraId: facts.infraId, accessKey: facts.accessKey, agent: { id: facts.agentId, machineId: 'm1', hostname: 'edge-1.example' } });
  t.truthy(token?.rotation, 'the requested rotation comes with the token');
  t.is(await service.authenticate(token?.accessToken ?? ''), facts.infraId);
  t.is((await service.nextTask(facts.infraId))?.task.runId, facts.queuedRun);
  t.is((await service.reportLogs(facts.infraId, facts.queuedRun, { entries: [{ seq: 1, at: '2026-12-01T00:00:03.000Z', level: 'info', message: 'new' }] })), 1);
});
