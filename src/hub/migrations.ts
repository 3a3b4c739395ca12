// SPDX-License-Identifier: Apache-2.0
/**
 * The hub's schema as ordered migrations, each in SQLite's SQL (`sql`) and PostgreSQL's
 * (`postgres`). SQLite numbers them by `PRAGMA user_version` (hub.db), PostgreSQL by the one row
 * of `faultd_hub_schema` (postgres-store.ts). At open, every migration newer than the database's
 * version runs, all of them in one transaction that also sets the version, so a failure leaves
 * the database as it was. A database newer than this code is refused before anything is written.
 *
 * Rules for the next migration (a new table of a new feature goes here too): append it (never
 * edit or reorder one that shipped, migration 1 above all: it is faultd 0.1.0's schema, and
 * databases made by that release have user_version 0 with its tables present); plain SQL that
 * runs inside a transaction (ALTER TABLE … ADD COLUMN, CREATE TABLE, CREATE INDEX, UPDATE). A
 * change SQLite cannot ALTER needs the table rebuilt (create new, copy, drop, rename) within the
 * same migration. Types: SQLite INTEGER is BIGINT on PostgreSQL (times are ms since the epoch;
 * postgres-driver.ts reads BIGINT as a number), BLOB is BYTEA, an AUTOINCREMENT key is
 * `BIGINT GENERATED ALWAYS AS IDENTITY`; flags stay INTEGER 0/1 on both.
 * test/unit/hub/migrations.test.ts checks that both dialects end with the same tables and columns.
 */
import type Database from 'better-sqlite3';

import { FaultdError, messageOf } from '../errors.js';

export interface Migration {
  /** The user_version the database has once this migration ran: 1, 2, … in order. */
  readonly version: number;
  /** What it changes, for humans (and the error naming a failed migration). */
  readonly summary: string;
  /** SQLite. */
  readonly sql: string;
  /** PostgreSQL. */
  readonly postgres: string;
}

export const HUB_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    summary: 'the schema of faultd 0.1.0 (IF NOT EXISTS: adopts a database that release made)',
    sql: `
CREATE TABLE IF NOT EXISTS infras (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  created_at INTEGER NOT NULL,
  key_salt BLOB NOT NULL,
  key_hash BLOB NOT NULL,
  pending_salt BLOB,
  pending_hash BLOB,
  pending_rotation_id TEXT,
  rotation_requested INTEGER NOT NULL DEFAULT 0,
  last_seen INTEGER,
  agent_version TEXT,
  hostname TEXT,
  capabilities TEXT NOT NULL DEFAULT '[]'
);
CREATE TABLE IF NOT EXISTS tokens (
  hash TEXT PRIMARY KEY,
  infra_id TEXT NOT NULL REFERENCES infras(id) ON DELETE CASCADE,
  expires_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS tokens_expiry ON tokens(expires_at);
CREATE TABLE IF NOT EXISTS runs (
  id TEXT PRIMARY KEY,
  infra_id TEXT NOT NULL REFERENCES infras(id) ON DELETE CASCADE,
  experiment TEXT NOT NULL,
  state TEXT NOT NULL,
  queued_at INTEGER NOT NULL,
  dispatched_at INTEGER,
  finished_at INTEGER,
  abort_requested INTEGER NOT NULL DEFAULT 0,
  result TEXT,
  logs_acked INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS runs_queue ON runs(infra_id, state, queued_at);
CREATE TABLE IF NOT EXISTS run_status (
  run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  n INTEGER PRIMARY KEY AUTOINCREMENT,
  at TEXT NOT NULL,
  fault_id TEXT,
  phase TEXT NOT NULL,
  detail TEXT
);
CREATE TABLE IF NOT EXISTS run_logs (
  run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  seq INTEGER NOT NULL,
  entry TEXT NOT NULL,
  PRIMARY KEY (run_id, seq)
) WITHOUT ROWID;
-- Sequence numbers covered by an agent's note for lines it dropped (LogEntry.span).
CREATE TABLE IF NOT EXISTS run_log_spans (
  run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  first_seq INTEGER NOT NULL,
  last_seq INTEGER NOT NULL,
  PRIMARY KEY (run_id, first_seq, last_seq)
) WITHOUT ROWID;
`,
    // runs.insert_order: SQLite's rowid, which orders runs queued in the same millisecond.
    postgres: `
CREATE TABLE infras (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  created_at BIGINT NOT NULL,
  key_salt BYTEA NOT NULL,
  key_hash BYTEA NOT NULL,
  pending_salt BYTEA,
  pending_hash BYTEA,
  pending_rotation_id TEXT,
  rotation_requested INTEGER NOT NULL DEFAULT 0,
  last_seen BIGINT,
  agent_version TEXT,
  hostname TEXT,
  capabilities TEXT NOT NULL DEFAULT '[]'
);
CREATE TABLE tokens (
  hash TEXT PRIMARY KEY,
  infra_id TEXT NOT NULL REFERENCES infras(id) ON DELETE CASCADE,
  expires_at BIGINT NOT NULL
);
CREATE INDEX tokens_expiry ON tokens(expires_at);
CREATE TABLE runs (
  id TEXT PRIMARY KEY,
  infra_id TEXT NOT NULL REFERENCES infras(id) ON DELETE CASCADE,
  experiment TEXT NOT NULL,
  state TEXT NOT NULL,
  queued_at BIGINT NOT NULL,
  dispatched_at BIGINT,
  finished_at BIGINT,
  abort_requested INTEGER NOT NULL DEFAULT 0,
  result TEXT,
  logs_acked BIGINT NOT NULL DEFAULT 0,
  insert_order BIGINT GENERATED ALWAYS AS IDENTITY
);
CREATE INDEX runs_queue ON runs(infra_id, state, queued_at);
CREATE TABLE run_status (
  run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  n BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at TEXT NOT NULL,
  fault_id TEXT,
  phase TEXT NOT NULL,
  detail TEXT
);
CREATE INDEX run_status_run ON run_status(run_id);
CREATE TABLE run_logs (
  run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  seq BIGINT NOT NULL,
  entry TEXT NOT NULL,
  PRIMARY KEY (run_id, seq)
);
CREATE TABLE run_log_spans (
  run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  first_seq BIGINT NOT NULL,
  last_seq BIGINT NOT NULL,
  PRIMARY KEY (run_id, first_seq, last_seq)
);
`,
  },
  {
    version: 2,
    summary: 'infras.pending_key_sealed: the handed-out rotated key, sealed with the current key, so overlapping exchanges get the same one',
    sql: 'ALTER TABLE infras ADD COLUMN pending_key_sealed BLOB;',
    postgres: 'ALTER TABLE infras ADD COLUMN pending_key_sealed BYTEA;',
  },
  {
    version: 3,
    summary: 'infras.bound_*: the agent instance an infrastructure is bound to; tokens.agent_id: the instance a token was handed to',
    sql: `
ALTER TABLE infras ADD COLUMN bound_agent_id TEXT;
ALTER TABLE infras ADD COLUMN bound_machine_id TEXT;
ALTER TABLE infras ADD COLUMN bound_hostname TEXT;
ALTER TABLE infras ADD COLUMN bound_since INTEGER;
ALTER TABLE tokens ADD COLUMN agent_id TEXT;
`,
    postgres: `
ALTER TABLE infras ADD COLUMN bound_agent_id TEXT;
ALTER TABLE infras ADD COLUMN bound_machine_id TEXT;
ALTER TABLE infras ADD COLUMN bound_hostname TEXT;
ALTER TABLE infras ADD COLUMN bound_since BIGINT;
ALTER TABLE tokens ADD COLUMN agent_id TEXT;
`,
  },
  {
    version: 4,
    summary: 'run_status.seq/span and runs.status_acked: numbered status events, stored once, acknowledged like log lines',
    sql: `
ALTER TABLE run_status ADD COLUMN seq INTEGER;
ALTER TABLE run_status ADD COLUMN span INTEGER;
-- NULLs are distinct: events of agents that send no seq are stored as they come.
CREATE UNIQUE INDEX run_status_seq ON run_status(run_id, seq);
ALTER TABLE runs ADD COLUMN status_acked INTEGER NOT NULL DEFAULT 0;
`,
    postgres: `
ALTER TABLE run_status ADD COLUMN seq BIGINT;
ALTER TABLE run_status ADD COLUMN span BIGINT;
CREATE UNIQUE INDEX run_status_seq ON run_status(run_id, seq);
ALTER TABLE runs ADD COLUMN status_acked BIGINT NOT NULL DEFAULT 0;
`,
  },
  {
    version: 5,
    summary: 'operator_*: operator accounts, console sessions, API tokens, the append-only audit log and the experiment library',
    sql: `
CREATE TABLE operator_users (
  name TEXT PRIMARY KEY,
  role TEXT NOT NULL,
  password_hash TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  last_login INTEGER
);
CREATE TABLE operator_sessions (
  id_hash TEXT PRIMARY KEY,
  user_name TEXT NOT NULL REFERENCES operator_users(name) ON DELETE CASCADE,
  csrf_token TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  last_seen_at INTEGER NOT NULL
);
CREATE INDEX operator_sessions_user ON operator_sessions(user_name);
CREATE TABLE operator_tokens (
  id TEXT PRIMARY KEY,
  hash TEXT NOT NULL UNIQUE,
  user_name TEXT NOT NULL REFERENCES operator_users(name) ON DELETE CASCADE,
  created_at INTEGER NOT NULL,
  expires_at INTEGER,
  last_used INTEGER
);
CREATE INDEX operator_tokens_user ON operator_tokens(user_name);
-- Append-only: no code path updates or deletes a row, and these triggers refuse it anyway.
CREATE TABLE operator_audit (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  at INTEGER NOT NULL,
  actor TEXT NOT NULL,
  role TEXT NOT NULL,
  action TEXT NOT NULL,
  target TEXT,
  remote TEXT NOT NULL,
  detail TEXT
);
CREATE TRIGGER operator_audit_no_update BEFORE UPDATE ON operator_audit BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER operator_audit_no_delete BEFORE DELETE ON operator_audit BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TABLE operator_experiments (
  name TEXT PRIMARY KEY,
  text TEXT NOT NULL,
  updated_at INTEGER NOT NULL,
  updated_by TEXT NOT NULL,
  faults INTEGER NOT NULL
);
`,
    postgres: `
CREATE TABLE operator_users (
  name TEXT PRIMARY KEY,
  role TEXT NOT NULL,
  password_hash TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  last_login BIGINT
);
CREATE TABLE operator_sessions (
  id_hash TEXT PRIMARY KEY,
  user_name TEXT NOT NULL REFERENCES operator_users(name) ON DELETE CASCADE,
  csrf_token TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  last_seen_at BIGINT NOT NULL
);
CREATE INDEX operator_sessions_user ON operator_sessions(user_name);
CREATE TABLE operator_tokens (
  id TEXT PRIMARY KEY,
  hash TEXT NOT NULL UNIQUE,
  user_name TEXT NOT NULL REFERENCES operator_users(name) ON DELETE CASCADE,
  created_at BIGINT NOT NULL,
  expires_at BIGINT,
  last_used BIGINT
);
CREATE INDEX operator_tokens_user ON operator_tokens(user_name);
-- Append-only: no code path updates, deletes or truncates it, and these triggers refuse it anyway.
CREATE TABLE operator_audit (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at BIGINT NOT NULL,
  actor TEXT NOT NULL,
  role TEXT NOT NULL,
  action TEXT NOT NULL,
  target TEXT,
  remote TEXT NOT NULL,
  detail TEXT
);
CREATE FUNCTION operator_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'the audit log is append-only';
END
$$;
CREATE TRIGGER operator_audit_no_change BEFORE UPDATE OR DELETE ON operator_audit FOR EACH ROW EXECUTE FUNCTION operator_audit_append_only();
CREATE TRIGGER operator_audit_no_truncate BEFORE TRUNCATE ON operator_audit FOR EACH STATEMENT EXECUTE FUNCTION operator_audit_append_only();
CREATE TABLE operator_experiments (
  name TEXT PRIMARY KEY,
  text TEXT NOT NULL,
  updated_at BIGINT NOT NULL,
  updated_by TEXT NOT NULL,
  faults INTEGER NOT NULL
);
`,
  },
  {
    version: 6,
    summary: 'operator_login_failures: failed-login counters per operator name and per address, shared by every hub replica on the database; operator_users.disabled_at: disabled accounts',
    sql: `
ALTER TABLE operator_users ADD COLUMN disabled_at INTEGER;
CREATE TABLE operator_login_failures (
  subject TEXT PRIMARY KEY,
  window_start INTEGER NOT NULL,
  failures INTEGER NOT NULL
);
CREATE INDEX operator_login_failures_window ON operator_login_failures(window_start);
`,
    postgres: `
ALTER TABLE operator_users ADD COLUMN disabled_at BIGINT;
CREATE TABLE operator_login_failures (
  subject TEXT PRIMARY KEY,
  window_start BIGINT NOT NULL,
  failures BIGINT NOT NULL
);
CREATE INDEX operator_login_failures_window ON operator_login_failures(window_start);
`,
  },
];

/** The schema version this code writes. */
export function latestVersion(migrations: readonly Migration[] = HUB_MIGRATIONS): number {
  return migrations.at(-1)?.version ?? 0;
}

function userVersion(db: Database.Database): number {
  return Number(db.pragma('user_version', { simple: true }));
}

export function refuseNewer(file: string, found: number, latest: number, backupOf = 'hub.db'): void {
  if (found <= latest) return;
  throw new FaultdError(
    'FAULTD_ERR_HUB_DB_SCHEMA',
    `${file} has schema version ${found}, newer than this faultd's ${latest}: it was written by a newer faultd. ` +
      `Run that version (or newer), or restore a backup of ${backupOf} made before the upgrade; nothing was changed`,
  );
}

/**
 * Brings `db` to the latest schema version; returns the versions before and after. `file`
 * names the database in errors. Throws FAULTD_ERR_HUB_DB_SCHEMA, without writing, for a
 * database newer than `migrations`, and when a migration fails (after rolling all back).
 */
export function migrate(db: Database.Database, file: string, migrations: readonly Migration[] = HUB_MIGRATIONS): { from: number; to: number } {
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) throw new Error(`hub migration ${i + 1} is numbered ${m.version}`);
  });
  const latest = latestVersion(migrations);
  const before = userVersion(db);
  refuseNewer(file, before, latest);
  if (before === latest) return { from: before, to: latest };
  // IMMEDIATE: of two processes opening an old database at once, one migrates; the other waits
  // for the write lock (busy timeout), then finds the work done.
  return db
    .transaction(() => {
      const from = userVersion(db);
      refuseNewer(file, from, latest);
      for (const m of migrations.slice(from)) {
        try {
          db.exec(m.sql);
        } catch (error) {
          throw new FaultdError('FAULTD_ERR_HUB_DB_SCHEMA', `${file}: migration ${m.version} (${m.summary}) failed, so nothing was changed: ${messageOf(error)}`, { cause: error });
        }
      }
      db.pragma(`user_version = ${latest}`);
      return { from, to: latest };
    })
    .immediate();
}
