// SPDX-License-Identifier: Apache-2.0
/**
 * HubStore on SQLite (better-sqlite3) in the hub's state directory; survives hub restarts. The
 * schema comes from migrations.ts, brought up to date at open. The database and its WAL files
 * are private to the hub's user (0600): they hold key hashes and every run's logs.
 */
import { chmodSync, closeSync, existsSync, openSync, statSync } from 'node:fs';

import Database from 'better-sqlite3';

import { LogEntry, ResultRequest, type StatusRequest } from '../protocol/messages.js';
import { FaultdError, messageOf } from '../errors.js';
import { migrate } from './migrations.js';
import type { OperatorStore } from './operators/operator-store.js';
import { SqlOperatorStore } from './operators/sql-operator-store.js';
import { sqliteRunner } from './operators/sqlite-runner.js';
import type { AgentBinding, HubStore, InfraRecord, PendingKey, RunRecord, RunState, StoredStatus, TokenRecord } from './store.js';

interface RunRow {
  id: string;
  infra_id: string;
  experiment: string;
  state: string;
  queued_at: number;
  dispatched_at: number | null;
  finished_at: number | null;
  abort_requested: number;
  result: string | null;
}

const RUN_STATES = new Set<RunState>(['queued', 'dispatched', 'running', 'finished', 'cancelled']);

function toRun(row: RunRow): RunRecord {
  const state = RUN_STATES.has(row.state as RunState) ? (row.state as RunState) : 'finished';
  const result = row.result === null ? undefined : ResultRequest.safeParse(JSON.parse(row.result));
  return {
    id: row.id,
    infraId: row.infra_id,
    experiment: row.experiment,
    state,
    queuedAt: row.queued_at,
    ...(row.dispatched_at === null ? {} : { dispatchedAt: row.dispatched_at }),
    ...(row.finished_at === null ? {} : { finishedAt: row.finished_at }),
    abortRequested: row.abort_requested !== 0,
    ...(result?.success ? { result: result.data } : {}),
  };
}

interface InfraRow {
  id: string;
  name: string;
  created_at: number;
  key_salt: Buffer;
  key_hash: Buffer;
  pending_salt: Buffer | null;
  pending_hash: Buffer | null;
  pending_rotation_id: string | null;
  pending_key_sealed: Buffer | null;
  rotation_requested: number;
  last_seen: number | null;
  agent_version: string | null;
  hostname: string | null;
  capabilities: string;
  bound_agent_id: string | null;
  bound_machine_id: string | null;
  bound_hostname: string | null;
  bound_since: number | null;
}

function toBinding(row: InfraRow): AgentBinding | undefined {
  if (row.bound_agent_id === null || row.bound_since === null) return undefined;
  return {
    agentId: row.bound_agent_id,
    ...(row.bound_machine_id === null ? {} : { machineId: row.bound_machine_id }),
    hostname: row.bound_hostname ?? '?',
    since: row.bound_since,
  };
}

function toRecord(row: InfraRow): InfraRecord {
  const capabilities: unknown = JSON.parse(row.capabilities);
  const binding = toBinding(row);
  return {
    id: row.id,
    name: row.name,
    createdAt: row.created_at,
    key: { salt: row.key_salt, hash: row.key_hash },
    ...(row.pending_salt && row.pending_hash && row.pending_rotation_id
      ? { pendingKey: { salt: row.pending_salt, hash: row.pending_hash, rotationId: row.pending_rotation_id, ...(row.pending_key_sealed ? { sealed: row.pending_key_sealed } : {}) } }
      : {}),
    rotationRequested: row.rotation_requested !== 0,
    ...(row.last_seen === null ? {} : { lastSeen: row.last_seen }),
    ...(row.agent_version === null ? {} : { agentVersion: row.agent_version }),
    ...(row.hostname === null ? {} : { hostname: row.hostname }),
    capabilities: Array.isArray(capabilities) ? capabilities.filter((c): c is string => typeof c === 'string') : [],
    ...(binding ? { binding } : {}),
  };
}

/** SQLite's files for the database `file`: itself, its write-ahead log and its shared memory. */
function databaseFiles(file: string): string[] {
  return [file, `${file}-wal`, `${file}-shm`];
}

/**
 * Creates `file` 0600 if missing and takes group and other access away from it and its WAL
 * files otherwise (faultd 0.1.0 made them 0644). SQLite creates the WAL files
 * with the database's mode, so they are private from then on too.
 */
function makePrivate(file: string): void {
  try {
    closeSync(openSync(file, 'a', 0o600));
    for (const f of databaseFiles(file)) {
      if (existsSync(f) && (statSync(f).mode & 0o077) !== 0) chmodSync(f, 0o600);
    }
  } catch (error) {
    throw new FaultdError('FAULTD_ERR_STATE_DIR', `cannot create ${file} private to its owner (mode 0600): ${messageOf(error)}`, { cause: error });
  }
}

export class SqliteHubStore implements HubStore {
  readonly #db: Database.Database;

  /**
   * Opens (and creates, mode 0600) the database and migrates it to the latest schema;
   * `:memory:` for tests. Throws FAULTD_ERR_HUB_DB_SCHEMA for a database newer than this code.
   */
  constructor(file: string) {
    if (file !== ':memory:') makePrivate(file);
    this.#db = new Database(file);
    try {
      this.#db.pragma('journal_mode = WAL');
      this.#db.pragma('synchronous = FULL');
      this.#db.pragma('foreign_keys = ON');
      migrate(this.#db, file);
    } catch (error) {
      this.#db.close();
      throw error;
    }
  }

  addInfra(infra: Pick<InfraRecord, 'id' | 'name' | 'createdAt' | 'key'>): void {
    this.#db
      .prepare('INSERT INTO infras (id, name, created_at, key_salt, key_hash) VALUES (?, ?, ?, ?, ?)')
      .run(infra.id, infra.name, infra.createdAt, infra.key.salt, infra.key.hash);
  }

  infraById(id: string): InfraRecord | undefined {
    const row = this.#db.prepare('SELECT * FROM infras WHERE id = ?').get(id) as InfraRow | undefined;
    return row && toRecord(row);
  }

  infraByName(name: string): InfraRecord | undefined {
    const row = this.#db.prepare('SELECT * FROM infras WHERE name = ?').get(name) as InfraRow | undefined;
    return row && toRecord(row);
  }

  listInfras(): InfraRecord[] {
    return (this.#db.prepare('SELECT * FROM infras ORDER BY name').all() as InfraRow[]).map(toRecord);
  }

  requestRotation(infraId: string): void {
    this.#db.prepare('UPDATE infras SET rotation_requested = 1 WHERE id = ?').run(infraId);
  }

  setPendingKey(infraId: string, pending: PendingKey, replaces?: string): boolean {
    const result = this.#db
      .prepare('UPDATE infras SET pending_salt = ?, pending_hash = ?, pending_rotation_id = ?, pending_key_sealed = ? WHERE id = ? AND pending_rotation_id IS ?')
      .run(pending.salt, pending.hash, pending.rotationId, pending.sealed ?? null, infraId, replaces ?? null);
    return result.changes === 1;
  }

  confirmPendingKey(infraId: string, rotationId: string): boolean {
    const result = this.#db
      .prepare(
        `UPDATE infras SET key_salt = pending_salt, key_hash = pending_hash, pending_salt = NULL, pending_hash = NULL,
         pending_rotation_id = NULL, pending_key_sealed = NULL, rotation_requested = 0,
         bound_agent_id = NULL, bound_machine_id = NULL, bound_hostname = NULL, bound_since = NULL WHERE id = ? AND pending_rotation_id = ?`,
      )
      .run(infraId, rotationId);
    return result.changes === 1;
  }

  bindAgent(infraId: string, binding: AgentBinding): boolean {
    const result = this.#db
      .prepare('UPDATE infras SET bound_agent_id = ?, bound_machine_id = ?, bound_hostname = ?, bound_since = ? WHERE id = ? AND bound_agent_id IS NULL')
      .run(binding.agentId, binding.machineId ?? null, binding.hostname, binding.since, infraId);
    return result.changes === 1;
  }

  releaseAgent(infraId: string): boolean {
    const result = this.#db
      .prepare('UPDATE infras SET bound_agent_id = NULL, bound_machine_id = NULL, bound_hostname = NULL, bound_since = NULL WHERE id = ? AND bound_agent_id IS NOT NULL')
      .run(infraId);
    return result.changes === 1;
  }

  recordHeartbeat(infraId: string, at: number, agent: { version: string; hostname: string; capabilities: readonly string[] }): void {
    this.#db
      .prepare('UPDATE infras SET last_seen = ?, agent_version = ?, hostname = ?, capabilities = ? WHERE id = ?')
      .run(at, agent.version, agent.hostname, JSON.stringify(agent.capabilities), infraId);
  }

  addToken(hash: string, token: TokenRecord): void {
    this.#db.prepare('INSERT INTO tokens (hash, infra_id, expires_at, agent_id) VALUES (?, ?, ?, ?)').run(hash, token.infraId, token.expiresAt, token.agentId ?? null);
  }

  token(hash: string): TokenRecord | undefined {
    const row = this.#db.prepare('SELECT infra_id, expires_at, agent_id FROM tokens WHERE hash = ?').get(hash) as { infra_id: string; expires_at: number; agent_id: string | null } | undefined;
    return row && { infraId: row.infra_id, expiresAt: row.expires_at, ...(row.agent_id === null ? {} : { agentId: row.agent_id }) };
  }

  pruneTokens(now: number): number {
    return this.#db.prepare('DELETE FROM tokens WHERE expires_at <= ?').run(now).changes;
  }

  addRun(run: Pick<RunRecord, 'id' | 'infraId' | 'experiment' | 'queuedAt'>): void {
    this.#db.prepare("INSERT INTO runs (id, infra_id, experiment, state, queued_at) VALUES (?, ?, ?, 'queued', ?)").run(run.id, run.infraId, run.experiment, run.queuedAt);
  }

  run(id: string): RunRecord | undefined {
    const row = this.#db.prepare('SELECT * FROM runs WHERE id = ?').get(id) as RunRow | undefined;
    return row && toRun(row);
  }

  listRuns(infraId?: string, limit = 100): RunRecord[] {
    const rows = infraId
      ? (this.#db.prepare('SELECT * FROM runs WHERE infra_id = ? ORDER BY queued_at DESC LIMIT ?').all(infraId, limit) as RunRow[])
      : (this.#db.prepare('SELECT * FROM runs ORDER BY queued_at DESC LIMIT ?').all(limit) as RunRow[]);
    return rows.map(toRun);
  }

  dispatchNext(infraId: string, at: number): RunRecord | undefined {
    return this.#db.transaction(() => {
      const busy = this.#db.prepare("SELECT 1 FROM runs WHERE infra_id = ? AND state IN ('dispatched', 'running') LIMIT 1").get(infraId);
      if (busy) return undefined;
      const next = this.#db.prepare("SELECT * FROM runs WHERE infra_id = ? AND state = 'queued' ORDER BY queued_at, rowid LIMIT 1").get(infraId) as RunRow | undefined;
      if (!next) return undefined;
      this.#db.prepare("UPDATE runs SET state = 'dispatched', dispatched_at = ? WHERE id = ?").run(at, next.id);
      return toRun({ ...next, state: 'dispatched', dispatched_at: at });
    }).immediate();
  }

  hasQueued(infraId: string): boolean {
    return this.#db.prepare("SELECT 1 FROM runs WHERE infra_id = ? AND state = 'queued' LIMIT 1").get(infraId) !== undefined;
  }

  unfinishedRuns(): RunRecord[] {
    return (this.#db.prepare("SELECT * FROM runs WHERE state IN ('dispatched', 'running')").all() as RunRow[]).map(toRun);
  }

  unreportedDispatches(infraId: string, cutoff: number): RunRecord[] {
    const rows = this.#db.prepare("SELECT * FROM runs WHERE infra_id = ? AND state = 'dispatched' AND dispatched_at <= ?").all(infraId, cutoff) as RunRow[];
    return rows.map(toRun);
  }

  requestAbort(runId: string, at: number): 'cancelled' | 'requested' | 'finished' {
    return this.#db.transaction((): 'cancelled' | 'requested' | 'finished' => {
      const row = this.#db.prepare('SELECT state FROM runs WHERE id = ?').get(runId) as { state: string } | undefined;
      if (!row || row.state === 'finished' || row.state === 'cancelled') return 'finished';
      if (row.state === 'queued') {
        this.#db.prepare("UPDATE runs SET state = 'cancelled', finished_at = ?, abort_requested = 1 WHERE id = ?").run(at, runId);
        return 'cancelled';
      }
      this.#db.prepare('UPDATE runs SET abort_requested = 1 WHERE id = ?').run(runId);
      return 'requested';
    }).immediate();
  }

  abortRequested(infraId: string): string[] {
    const rows = this.#db.prepare("SELECT id FROM runs WHERE infra_id = ? AND abort_requested = 1 AND state IN ('dispatched', 'running')").all(infraId) as { id: string }[];
    return rows.map((r) => r.id);
  }

  addStatus(runId: string, events: StatusRequest['events']): number {
    const insert = this.#db.prepare('INSERT INTO run_status (run_id, seq, span, at, fault_id, phase, detail) VALUES (?, ?, ?, ?, ?, ?, ?)');
    // A note spanning dropped events keeps its span even where an earlier delivery stored the
    // first of them (the row stays, its span grows).
    const insertNumbered = this.#db.prepare(
      `INSERT INTO run_status (run_id, seq, span, at, fault_id, phase, detail) VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (run_id, seq) DO UPDATE SET span = MAX(COALESCE(span, 1), COALESCE(excluded.span, 1))`,
    );
    const has = this.#db.prepare('SELECT 1 FROM run_status WHERE run_id = ? AND seq = ?');
    const spanEnd = this.#db.prepare('SELECT MAX(seq + span - 1) FROM run_status WHERE run_id = ? AND span > 1 AND seq <= ? AND seq + span - 1 >= ?').pluck();
    return this.#db.transaction(() => {
      for (const e of events) {
        const row = [runId, e.seq ?? null, e.span ?? null, e.at, e.faultId ?? null, e.phase, e.detail ?? null] as const;
        if (e.seq === undefined) insert.run(...row);
        else insertNumbered.run(...row);
      }
      this.#db.prepare("UPDATE runs SET state = 'running' WHERE id = ? AND state = 'dispatched'").run(runId);
      // Advance the contiguous prefix from where it stood, as for log lines.
      let acked = (this.#db.prepare('SELECT status_acked FROM runs WHERE id = ?').pluck().get(runId) as number | undefined) ?? 0;
      for (;;) {
        const end = has.get(runId, acked + 1) ? acked + 1 : (spanEnd.get(runId, acked + 1, acked + 1) as number | null);
        if (end === null) break;
        acked = Math.max(acked + 1, end);
      }
      this.#db.prepare('UPDATE runs SET status_acked = ? WHERE id = ?').run(acked, runId);
      return acked;
    }).immediate();
  }

  statusHistory(runId: string): StoredStatus[] {
    // SQLite sorts NULL first: unnumbered events (older agents) in arrival order, then by seq.
    const rows = this.#db.prepare('SELECT seq, at, fault_id, phase, detail FROM run_status WHERE run_id = ? ORDER BY seq, n').all(runId) as { seq: number | null; at: string; fault_id: string | null; phase: string; detail: string | null }[];
    return rows.map((r) => ({ ...(r.seq === null ? {} : { seq: r.seq }), at: r.at, phase: r.phase, ...(r.fault_id === null ? {} : { faultId: r.fault_id }), ...(r.detail === null ? {} : { detail: r.detail }) }));
  }

  addLogs(runId: string, entries: readonly LogEntry[]): number {
    const insert = this.#db.prepare('INSERT OR IGNORE INTO run_logs (run_id, seq, entry) VALUES (?, ?, ?)');
    const has = this.#db.prepare('SELECT 1 FROM run_logs WHERE run_id = ? AND seq = ?');
    const addSpan = this.#db.prepare('INSERT OR IGNORE INTO run_log_spans (run_id, first_seq, last_seq) VALUES (?, ?, ?)');
    const spanEnd = this.#db.prepare('SELECT MAX(last_seq) FROM run_log_spans WHERE run_id = ? AND first_seq <= ? AND last_seq >= ?').pluck();
    return this.#db.transaction(() => {
      for (const e of entries) {
        insert.run(runId, e.seq, JSON.stringify(e));
        // A note for lines the agent dropped covers their numbers, even where an earlier
        // delivery already stored the first of them.
        if (e.span !== undefined && e.span > 1) addSpan.run(runId, e.seq, e.seq + e.span - 1);
      }
      // Advance the contiguous prefix from where it stood: each entry is looked at once.
      let acked = (this.#db.prepare('SELECT logs_acked FROM runs WHERE id = ?').pluck().get(runId) as number | undefined) ?? 0;
      for (;;) {
        if (has.get(runId, acked + 1)) {
          acked += 1;
          continue;
        }
        const end = spanEnd.get(runId, acked + 1, acked + 1) as number | null;
        if (end === null) break;
        acked = end;
      }
      this.#db.prepare('UPDATE runs SET logs_acked = ? WHERE id = ?').run(acked, runId);
      return acked;
    }).immediate();
  }

  logs(runId: string, afterSeq: number, limit: number): LogEntry[] {
    const rows = this.#db.prepare('SELECT entry FROM run_logs WHERE run_id = ? AND seq > ? ORDER BY seq LIMIT ?').pluck().all(runId, afterSeq, limit) as string[];
    return rows.flatMap((text) => {
      const parsed = LogEntry.safeParse(JSON.parse(text));
      return parsed.success ? [parsed.data] : [];
    });
  }

  setResult(runId: string, result: ResultRequest, at: number): void {
    // Conditional: a run closed meanwhile (hub abort --force from another process) keeps its verdict.
    this.#db.prepare("UPDATE runs SET state = 'finished', finished_at = ?, result = ? WHERE id = ? AND state IN ('dispatched', 'running')").run(at, JSON.stringify(result), runId);
  }

  closeRun(runId: string, result: ResultRequest, at: number, options: { unreportedOnly?: boolean } = {}): boolean {
    const states = options.unreportedOnly === true ? "state = 'dispatched'" : "state IN ('dispatched', 'running')";
    const changed = this.#db
      .prepare(`UPDATE runs SET state = 'finished', finished_at = ?, result = ?, abort_requested = 1 WHERE id = ? AND ${states}`)
      .run(at, JSON.stringify(result), runId).changes;
    return changed === 1;
  }

  externalVersion(): number {
    // SQLite's data_version moves only on commits by other connections.
    return Number(this.#db.pragma('data_version', { simple: true }));
  }

  /** The operator side (accounts, sessions, tokens, audit, library) on the same database. */
  operators(): OperatorStore {
    return new SqlOperatorStore(sqliteRunner(this.#db));
  }

  close(): void {
    this.#db.close();
  }
}
