// SPDX-License-Identifier: Apache-2.0
/**
 * HubStore in SQL, once for SQLite and PostgreSQL: every query is written here with `?`
 * placeholders and runs on either driver (sql-driver.ts); the few places the dialects differ
 * take their fragment from SQL_DIALECTS. The schema is migrations.ts. Opening a database is the
 * job of sqlite-store.ts and postgres-store.ts, which also provide `watchRuns` and `close`.
 *
 * To add a method: declare it in store.ts, write it here on `this.#db` (inside a transaction
 * when it reads and then writes: `this.#db.transaction(async (tx) => …)`, with
 * `${this.#sql.forUpdate}` on the rows it read), and cover it in test/unit/hub/store.test.ts,
 * which runs on both databases.
 */
import { type AgentIdentity, LogEntry, ResultRequest, type StatusRequest } from '../protocol/messages.js';
import { SQL_DIALECTS, type DialectSql, type SqlDriver, type SqlValue, type TransactionOptions } from './sql-driver.js';
import type { AgentBinding, HeartbeatInfo, HubStore, InfraRecord, PendingKey, RunRecord, RunsListener, RunState, StoredStatus, TokenRecord } from './store.js';
import type { OperatorStore } from './operators/operator-store.js';
import { SqlOperatorStore } from './operators/sql-operator-store.js';

/** The PostgreSQL NOTIFY channel of run changes (postgres-store.ts listens on it). */
export const RUNS_CHANNEL = 'faultd_hub_runs';

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

/** The columns of `runs` a RunRecord is made of (PostgreSQL's have an extra one). */
const RUN_COLUMNS = 'id, infra_id, experiment, state, queued_at, dispatched_at, finished_at, abort_requested, result';

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

/** A heartbeat's write (heartbeatParams), to which recordAdmittedHeartbeat adds its binding test. */
const RECORD_HEARTBEAT = 'UPDATE infras SET last_seen = ?, agent_version = ?, hostname = ?, capabilities = ? WHERE id = ?';

function heartbeatParams(infraId: string, at: number, info: HeartbeatInfo): SqlValue[] {
  return [at, info.version, info.hostname, JSON.stringify(info.capabilities), infraId];
}

/** The ids of an infrastructure's runs out with its agent that the hub wants aborted. */
const RUNS_TO_ABORT = "SELECT id FROM runs WHERE infra_id = ? AND abort_requested = 1 AND state IN ('dispatched', 'running')";

/** What a database-specific store gives the SQL one: watching for run changes, and closing. */
export interface StoreLifecycle {
  watchRuns(listener: RunsListener): () => void;
  close(): Promise<void>;
}

export class SqlHubStore implements HubStore {
  readonly #db: SqlDriver;
  readonly #sql: DialectSql;
  readonly #lifecycle: StoreLifecycle;

  constructor(db: SqlDriver, lifecycle: StoreLifecycle) {
    this.#db = db;
    this.#sql = SQL_DIALECTS[db.dialect];
    this.#lifecycle = lifecycle;
  }

  /**
   * Tells other hub replicas that the runs of run `runId`'s infrastructure changed (PostgreSQL;
   * delivered at commit): the notification's payload is the infrastructure id, so a replica
   * wakes only the long-polls of that infrastructure.
   */
  async #announceRuns(db: SqlDriver, runId: string): Promise<void> {
    if (db.dialect === 'postgres') await db.get('SELECT pg_notify(?, (SELECT infra_id FROM runs WHERE id = ?))', [RUNS_CHANNEL, runId]);
  }

  async addInfra(infra: Pick<InfraRecord, 'id' | 'name' | 'createdAt' | 'key'>): Promise<boolean> {
    // ON CONFLICT: on PostgreSQL a transaction that found no infrastructure of this name may
    // meet one committed meanwhile (READ COMMITTED); the unique index decides, without an error.
    const added = await this.#db.run('INSERT INTO infras (id, name, created_at, key_salt, key_hash) VALUES (?, ?, ?, ?, ?) ON CONFLICT (name) DO NOTHING', [
      infra.id,
      infra.name,
      infra.createdAt,
      infra.key.salt,
      infra.key.hash,
    ]);
    return added === 1;
  }

  async infraById(id: string): Promise<InfraRecord | undefined> {
    const row = await this.#db.get<InfraRow>('SELECT * FROM infras WHERE id = ?', [id]);
    return row && toRecord(row);
  }

  async infraByName(name: string): Promise<InfraRecord | undefined> {
    const row = await this.#db.get<InfraRow>('SELECT * FROM infras WHERE name = ?', [name]);
    return row && toRecord(row);
  }

  async listInfras(): Promise<InfraRecord[]> {
    return (await this.#db.all<InfraRow>('SELECT * FROM infras ORDER BY name')).map(toRecord);
  }

  async lockInfra(infraId: string): Promise<void> {
    if (this.#sql.forUpdate) await this.#db.get(`SELECT id FROM infras WHERE id = ?${this.#sql.forUpdate}`, [infraId]);
  }

  async requestRotation(infraId: string): Promise<void> {
    await this.#db.run('UPDATE infras SET rotation_requested = 1 WHERE id = ?', [infraId]);
  }

  async setPendingKey(infraId: string, pending: PendingKey, replaces?: string): Promise<boolean> {
    const changed = await this.#db.run(
      'UPDATE infras SET pending_salt = ?, pending_hash = ?, pending_rotation_id = ?, pending_key_sealed = ? WHERE id = ? AND pending_rotation_id IS NOT DISTINCT FROM ?',
      [pending.salt, pending.hash, pending.rotationId, pending.sealed ?? null, infraId, replaces ?? null],
    );
    return changed === 1;
  }

  async confirmPendingKey(infraId: string, rotationId: string): Promise<boolean> {
    const changed = await this.#db.run(
      `UPDATE infras SET key_salt = pending_salt, key_hash = pending_hash, pending_salt = NULL, pending_hash = NULL,
       pending_rotation_id = NULL, pending_key_sealed = NULL, rotation_requested = 0,
       bound_agent_id = NULL, bound_machine_id = NULL, bound_hostname = NULL, bound_since = NULL WHERE id = ? AND pending_rotation_id = ?`,
      [infraId, rotationId],
    );
    return changed === 1;
  }

  async bindAgent(infraId: string, binding: AgentBinding): Promise<boolean> {
    const changed = await this.#db.run(
      'UPDATE infras SET bound_agent_id = ?, bound_machine_id = ?, bound_hostname = ?, bound_since = ? WHERE id = ? AND bound_agent_id IS NULL',
      [binding.agentId, binding.machineId ?? null, binding.hostname, binding.since, infraId],
    );
    return changed === 1;
  }

  async releaseAgent(infraId: string): Promise<boolean> {
    const changed = await this.#db.run(
      'UPDATE infras SET bound_agent_id = NULL, bound_machine_id = NULL, bound_hostname = NULL, bound_since = NULL WHERE id = ? AND bound_agent_id IS NOT NULL',
      [infraId],
    );
    return changed === 1;
  }

  async recordHeartbeat(infraId: string, at: number, agent: HeartbeatInfo): Promise<void> {
    await this.#db.run(RECORD_HEARTBEAT, heartbeatParams(infraId, at, agent));
  }

  async recordAdmittedHeartbeat(infraId: string, agent: Pick<AgentIdentity, 'id' | 'machineId'> | undefined, at: number, info: HeartbeatInfo): Promise<string[] | undefined> {
    // The binding test of isBoundAgent (agent-binding.ts), in SQL.
    const [admits, admitParams]: [string, SqlValue[]] = !agent
      ? ['bound_agent_id IS NULL', []]
      : agent.machineId === undefined
        ? ['bound_agent_id = ?', [agent.id]]
        : ['bound_agent_id = ? AND (bound_machine_id IS NULL OR bound_machine_id = ?)', [agent.id, agent.machineId]];
    const update = `${RECORD_HEARTBEAT} AND ${admits}`;
    const updateParams: SqlValue[] = [...heartbeatParams(infraId, at, info), ...admitParams];
    if (this.#db.dialect === 'postgres') {
      // One round trip: every replica call waits for its round trips, not for the server.
      const row = await this.#db.get<{ admitted: boolean; aborts: string | null }>(
        `WITH beat AS (${update} RETURNING id) SELECT EXISTS (SELECT 1 FROM beat) AS admitted, (SELECT string_agg(id, ' ') FROM (${RUNS_TO_ABORT}) AS a) AS aborts`,
        [...updateParams, infraId],
      );
      if (!row?.admitted) return undefined;
      return row.aborts ? row.aborts.split(' ') : [];
    }
    return this.#db.transaction(
      async (tx) => ((await tx.run(update, updateParams)) === 1 ? (await tx.all<{ id: string }>(RUNS_TO_ABORT, [infraId])).map((r) => r.id) : undefined),
      { durable: false },
    );
  }

  async addToken(hash: string, token: TokenRecord): Promise<void> {
    await this.#db.run('INSERT INTO tokens (hash, infra_id, expires_at, agent_id) VALUES (?, ?, ?, ?)', [hash, token.infraId, token.expiresAt, token.agentId ?? null]);
  }

  async token(hash: string): Promise<(TokenRecord & { readonly boundAgentId?: string }) | undefined> {
    const row = await this.#db.get<{ infra_id: string; expires_at: number; agent_id: string | null; bound_agent_id: string | null }>(
      'SELECT t.infra_id, t.expires_at, t.agent_id, i.bound_agent_id FROM tokens t JOIN infras i ON i.id = t.infra_id WHERE t.hash = ?',
      [hash],
    );
    return row && { infraId: row.infra_id, expiresAt: row.expires_at, ...(row.agent_id === null ? {} : { agentId: row.agent_id }), ...(row.bound_agent_id === null ? {} : { boundAgentId: row.bound_agent_id }) };
  }

  async pruneTokens(now: number): Promise<number> {
    return this.#db.run('DELETE FROM tokens WHERE expires_at <= ?', [now]);
  }

  async addRun(run: Pick<RunRecord, 'id' | 'infraId' | 'experiment' | 'queuedAt'>): Promise<void> {
    await this.#db.transaction(async (tx) => {
      await tx.run("INSERT INTO runs (id, infra_id, experiment, state, queued_at) VALUES (?, ?, ?, 'queued', ?)", [run.id, run.infraId, run.experiment, run.queuedAt]);
      await this.#announceRuns(tx, run.id);
    });
  }

  async run(id: string): Promise<RunRecord | undefined> {
    const row = await this.#db.get<RunRow>(`SELECT ${RUN_COLUMNS} FROM runs WHERE id = ?`, [id]);
    return row && toRun(row);
  }

  async listRuns(infraId?: string, limit = 100): Promise<RunRecord[]> {
    const rows = infraId
      ? await this.#db.all<RunRow>(`SELECT ${RUN_COLUMNS} FROM runs WHERE infra_id = ? ORDER BY queued_at DESC, ${this.#sql.runInsertOrder} DESC LIMIT ?`, [infraId, limit])
      : await this.#db.all<RunRow>(`SELECT ${RUN_COLUMNS} FROM runs ORDER BY queued_at DESC, ${this.#sql.runInsertOrder} DESC LIMIT ?`, [limit]);
    return rows.map(toRun);
  }

  async dispatchNext(infraId: string, at: number): Promise<RunRecord | undefined> {
    return this.#db.transaction(async (tx) => {
      // The infrastructure's row lock serialises its dispatches across hub replicas: the
      // second one finds the first one's run dispatched (busy) once the first commits.
      if (this.#sql.forUpdate) await tx.get(`SELECT id FROM infras WHERE id = ?${this.#sql.forUpdate}`, [infraId]);
      const busy = await tx.get("SELECT 1 AS busy FROM runs WHERE infra_id = ? AND state IN ('dispatched', 'running') LIMIT 1", [infraId]);
      if (busy) return undefined;
      const next = await tx.get<RunRow>(`SELECT ${RUN_COLUMNS} FROM runs WHERE infra_id = ? AND state = 'queued' ORDER BY queued_at, ${this.#sql.runInsertOrder} LIMIT 1`, [infraId]);
      if (!next) return undefined;
      await tx.run("UPDATE runs SET state = 'dispatched', dispatched_at = ? WHERE id = ? AND state = 'queued'", [at, next.id]);
      return toRun({ ...next, state: 'dispatched', dispatched_at: at });
    });
  }

  async hasQueued(infraId: string): Promise<boolean> {
    return (await this.#db.get("SELECT 1 AS queued FROM runs WHERE infra_id = ? AND state = 'queued' LIMIT 1", [infraId])) !== undefined;
  }

  async unfinishedRuns(): Promise<RunRecord[]> {
    return (await this.#db.all<RunRow>(`SELECT ${RUN_COLUMNS} FROM runs WHERE state IN ('dispatched', 'running')`)).map(toRun);
  }

  async unreportedDispatches(infraId: string, cutoff: number): Promise<RunRecord[]> {
    const rows = await this.#db.all<RunRow>(`SELECT ${RUN_COLUMNS} FROM runs WHERE infra_id = ? AND state = 'dispatched' AND dispatched_at <= ?`, [infraId, cutoff]);
    return rows.map(toRun);
  }

  async requestAbort(runId: string, at: number): Promise<'cancelled' | 'requested' | 'finished'> {
    return this.#db.transaction(async (tx): Promise<'cancelled' | 'requested' | 'finished'> => {
      const row = await tx.get<{ state: string }>(`SELECT state FROM runs WHERE id = ?${this.#sql.forUpdate}`, [runId]);
      if (!row || row.state === 'finished' || row.state === 'cancelled') return 'finished';
      if (row.state === 'queued') {
        await tx.run("UPDATE runs SET state = 'cancelled', finished_at = ?, abort_requested = 1 WHERE id = ?", [at, runId]);
      } else {
        await tx.run('UPDATE runs SET abort_requested = 1 WHERE id = ?', [runId]);
      }
      await this.#announceRuns(tx, runId);
      return row.state === 'queued' ? 'cancelled' : 'requested';
    });
  }

  async abortRequested(infraId: string): Promise<string[]> {
    const rows = await this.#db.all<{ id: string }>(RUNS_TO_ABORT, [infraId]);
    return rows.map((r) => r.id);
  }

  async addStatus(runId: string, events: StatusRequest['events']): Promise<number> {
    return this.#db.transaction(async (tx) => {
      // The run's row first: concurrent deliveries for one run advance its prefix one at a time.
      const run = await tx.get<{ status_acked: number }>(`SELECT status_acked FROM runs WHERE id = ?${this.#sql.forUpdate}`, [runId]);
      for (const e of events) {
        const row: SqlValue[] = [runId, e.seq ?? null, e.span ?? null, e.at, e.faultId ?? null, e.phase, e.detail ?? null];
        if (e.seq === undefined) {
          await tx.run('INSERT INTO run_status (run_id, seq, span, at, fault_id, phase, detail) VALUES (?, ?, ?, ?, ?, ?, ?)', row);
        } else {
          // A note spanning dropped events keeps its span even where an earlier delivery stored
          // the first of them (the row stays, its span grows).
          await tx.run(
            `INSERT INTO run_status (run_id, seq, span, at, fault_id, phase, detail) VALUES (?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT (run_id, seq) DO UPDATE SET span = ${this.#sql.greatest}(COALESCE(run_status.span, 1), COALESCE(excluded.span, 1))`,
            row,
          );
        }
      }
      await tx.run("UPDATE runs SET state = 'running' WHERE id = ? AND state = 'dispatched'", [runId]);
      // Advance the contiguous prefix from where it stood, as for log lines.
      let acked = run?.status_acked ?? 0;
      for (;;) {
        const has = await tx.get('SELECT 1 AS found FROM run_status WHERE run_id = ? AND seq = ?', [runId, acked + 1]);
        const end = has
          ? acked + 1
          : ((await tx.get<{ last: number | null }>('SELECT MAX(seq + span - 1) AS last FROM run_status WHERE run_id = ? AND span > 1 AND seq <= ? AND seq + span - 1 >= ?', [runId, acked + 1, acked + 1]))?.last ?? null);
        if (end === null) break;
        acked = Math.max(acked + 1, end);
      }
      await tx.run('UPDATE runs SET status_acked = ? WHERE id = ?', [acked, runId]);
      return acked;
    });
  }

  async statusHistory(runId: string): Promise<StoredStatus[]> {
    // Unnumbered events (older agents) first, in arrival order, then by seq.
    const rows = await this.#db.all<{ seq: number | null; at: string; fault_id: string | null; phase: string; detail: string | null }>(
      'SELECT seq, at, fault_id, phase, detail FROM run_status WHERE run_id = ? ORDER BY seq NULLS FIRST, n',
      [runId],
    );
    return rows.map((r) => ({ ...(r.seq === null ? {} : { seq: r.seq }), at: r.at, phase: r.phase, ...(r.fault_id === null ? {} : { faultId: r.fault_id }), ...(r.detail === null ? {} : { detail: r.detail }) }));
  }

  async addLogs(runId: string, entries: readonly LogEntry[]): Promise<number> {
    return this.#db.transaction(async (tx) => {
      const run = await tx.get<{ logs_acked: number }>(`SELECT logs_acked FROM runs WHERE id = ?${this.#sql.forUpdate}`, [runId]);
      for (const e of entries) {
        await tx.run('INSERT INTO run_logs (run_id, seq, entry) VALUES (?, ?, ?) ON CONFLICT DO NOTHING', [runId, e.seq, JSON.stringify(e)]);
        // A note for lines the agent dropped covers their numbers, even where an earlier
        // delivery already stored the first of them.
        if (e.span !== undefined && e.span > 1) await tx.run('INSERT INTO run_log_spans (run_id, first_seq, last_seq) VALUES (?, ?, ?) ON CONFLICT DO NOTHING', [runId, e.seq, e.seq + e.span - 1]);
      }
      // Advance the contiguous prefix from where it stood: each entry is looked at once.
      let acked = run?.logs_acked ?? 0;
      for (;;) {
        if (await tx.get('SELECT 1 AS found FROM run_logs WHERE run_id = ? AND seq = ?', [runId, acked + 1])) {
          acked += 1;
          continue;
        }
        const end = (await tx.get<{ last: number | null }>('SELECT MAX(last_seq) AS last FROM run_log_spans WHERE run_id = ? AND first_seq <= ? AND last_seq >= ?', [runId, acked + 1, acked + 1]))?.last ?? null;
        if (end === null) break;
        acked = end;
      }
      await tx.run('UPDATE runs SET logs_acked = ? WHERE id = ?', [acked, runId]);
      return acked;
    });
  }

  async logs(runId: string, afterSeq: number, limit: number): Promise<LogEntry[]> {
    const rows = await this.#db.all<{ entry: string }>('SELECT entry FROM run_logs WHERE run_id = ? AND seq > ? ORDER BY seq LIMIT ?', [runId, afterSeq, limit]);
    return rows.flatMap(({ entry }) => {
      const parsed = LogEntry.safeParse(JSON.parse(entry));
      return parsed.success ? [parsed.data] : [];
    });
  }

  async setResult(runId: string, result: ResultRequest, at: number): Promise<boolean> {
    return this.#db.transaction(async (tx) => {
      // Conditional: a run closed meanwhile (hub abort --force from another process, or another
      // delivery of the result through another connection) keeps its verdict.
      const changed = await tx.run("UPDATE runs SET state = 'finished', finished_at = ?, result = ? WHERE id = ? AND state IN ('dispatched', 'running')", [at, JSON.stringify(result), runId]);
      if (changed === 1) await this.#announceRuns(tx, runId);
      return changed === 1;
    });
  }

  async closeRun(runId: string, result: ResultRequest, at: number, options: { unreportedOnly?: boolean } = {}): Promise<boolean> {
    const states = options.unreportedOnly === true ? "state = 'dispatched'" : "state IN ('dispatched', 'running')";
    return this.#db.transaction(async (tx) => {
      const changed = await tx.run(`UPDATE runs SET state = 'finished', finished_at = ?, result = ?, abort_requested = 1 WHERE id = ? AND ${states}`, [at, JSON.stringify(result), runId]);
      if (changed === 1) await this.#announceRuns(tx, runId);
      return changed === 1;
    });
  }

  /** The operator side (accounts, sessions, tokens, audit, library) on the same database and connection. */
  operators(): OperatorStore {
    return new SqlOperatorStore(this.#db);
  }

  async transaction<T>(fn: (store: HubStore) => Promise<T>, options?: TransactionOptions): Promise<T> {
    return this.#db.transaction((tx) => fn(tx === this.#db ? this : new SqlHubStore(tx, this.#lifecycle)), options);
  }

  watchRuns(listener: RunsListener): () => void {
    return this.#lifecycle.watchRuns(listener);
  }

  close(): Promise<void> {
    return this.#lifecycle.close();
  }
}
