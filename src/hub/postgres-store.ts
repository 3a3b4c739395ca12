// SPDX-License-Identifier: Apache-2.0
/**
 * HubStore on PostgreSQL, for several `faultd hub serve` replicas on one database: the queries
 * are sql-store.ts's (dispatch takes the infrastructure's row lock, so a run is handed out once
 * whichever replica is asked); this opens the pool, migrates the schema (migrations.ts, version in
 * `faultd_hub_schema`, under an advisory lock so that replicas starting together migrate once), and
 * watches run changes with LISTEN/NOTIFY: a run queued or aborted through one replica wakes the
 * long-polls held by every other one.
 */
import pg from 'pg';

import { FaultdError, messageOf } from '../errors.js';
import { HUB_MIGRATIONS, latestVersion, refuseNewer } from './migrations.js';
import { describeHubDatabase } from './open-store.js';
import { HUB_PG_TYPES, PostgresDriver } from './postgres-driver.js';
import { RUNS_CHANNEL, SqlHubStore } from './sql-store.js';
import type { RunsListener } from './store.js';

/** The advisory lock key migrations hold (any constant other applications are unlikely to use). */
const MIGRATION_LOCK = 0x66_61_75_6c_74_64; // "faultd"
/**
 * Connections per hub replica. Calls are short but each waits for a few round trips: on the
 * 2-core bench machine 10 were all busy with hundreds of calls queued at 2500 agents per
 * replica while PostgreSQL used a quarter of a CPU (bench/fleet.ts).
 */
const DEFAULT_POOL_SIZE = 20;
/** How long a lost LISTEN connection waits before it connects again. */
const RELISTEN_MS = 1000;

async function migratePostgres(pool: pg.Pool, name: string): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    // Replicas starting together: one migrates, the others wait here, then find it done.
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await client.query('CREATE TABLE IF NOT EXISTS faultd_hub_schema (version INTEGER NOT NULL)');
    const row = (await client.query<{ version: number }>('SELECT version FROM faultd_hub_schema')).rows[0];
    const from = row?.version ?? 0;
    const latest = latestVersion();
    refuseNewer(name, from, latest, 'the database');
    for (const m of HUB_MIGRATIONS.slice(from)) {
      try {
        await client.query(m.postgres);
      } catch (error) {
        throw new FaultdError('FAULTD_ERR_HUB_DB_SCHEMA', `${name}: migration ${m.version} (${m.summary}) failed, so nothing was changed: ${messageOf(error)}`, { cause: error });
      }
    }
    if (!row) await client.query('INSERT INTO faultd_hub_schema (version) VALUES ($1)', [latest]);
    else if (from !== latest) await client.query('UPDATE faultd_hub_schema SET version = $1', [latest]);
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

/**
 * One connection LISTENing on RUNS_CHANNEL; calls its listeners on every notification. A lost
 * connection is made again after RELISTEN_MS, and the listeners are called then (changes may
 * have been missed meanwhile).
 */
class NotifyWatch {
  readonly #url: string;
  readonly #listeners = new Set<RunsListener>();
  #client: pg.Client | undefined;
  #closed = false;
  #retry: NodeJS.Timeout | undefined;

  constructor(url: string) {
    this.#url = url;
  }

  /** Connects and LISTENs; resolves once notifications are delivered. */
  async start(): Promise<void> {
    const client = new pg.Client({ connectionString: this.#url });
    // The payload names the run's infrastructure (sql-store.ts announces it).
    client.on('notification', (message) => this.#notify(message.payload || undefined));
    client.on('error', () => this.#lost(client));
    client.on('end', () => this.#lost(client));
    await client.connect();
    await client.query(`LISTEN ${RUNS_CHANNEL}`);
    if (this.#closed) {
      await client.end();
      return;
    }
    this.#client = client;
  }

  #notify(infraId: string | undefined): void {
    for (const listener of [...this.#listeners]) listener(infraId);
  }

  #lost(client: pg.Client): void {
    if (this.#closed || this.#client !== client) return;
    this.#client = undefined;
    client.end().catch(() => undefined);
    const again = (): void => {
      this.#retry = undefined;
      if (this.#closed) return;
      this.start().then(
        () => this.#notify(undefined), // whatever was announced meanwhile is lost: wake everyone
        () => (this.#retry = setTimeout(again, RELISTEN_MS).unref()),
      );
    };
    this.#retry = setTimeout(again, RELISTEN_MS).unref();
  }

  add(listener: RunsListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#retry);
    const client = this.#client;
    this.#client = undefined;
    await client?.end().catch(() => undefined);
  }
}

export class PostgresHubStore extends SqlHubStore {
  private constructor(pool: pg.Pool, watch: NotifyWatch) {
    super(new PostgresDriver(pool), {
      watchRuns: (listener) => watch.add(listener),
      close: async () => {
        await watch.close();
        await pool.end();
      },
    });
  }

  /**
   * Connects to `url` (`postgres://user:password@host:port/db`, or `?host=/socket/dir`),
   * migrates the schema, and LISTENs for run changes. Throws FAULTD_ERR_HUB_DB when the server
   * cannot be reached, FAULTD_ERR_HUB_DB_SCHEMA for a schema newer than this code.
   */
  static async open(url: string, options: { maxConnections?: number } = {}): Promise<PostgresHubStore> {
    const name = describeHubDatabase({ kind: 'postgres', url });
    const pool = new pg.Pool({ connectionString: url, types: HUB_PG_TYPES, max: options.maxConnections ?? DEFAULT_POOL_SIZE, connectionTimeoutMillis: 10_000 });
    // An idle connection the server dropped (restart, failover): the pool replaces it; the
    // error must not end the hub.
    pool.on('error', () => undefined);
    const watch = new NotifyWatch(url);
    try {
      try {
        await pool.query('SELECT 1');
      } catch (error) {
        throw new FaultdError('FAULTD_ERR_HUB_DB', `cannot connect to ${name}: ${messageOf(error)}`, { cause: error });
      }
      await migratePostgres(pool, name);
      await watch.start();
    } catch (error) {
      await watch.close();
      await pool.end().catch(() => undefined);
      throw error;
    }
    return new PostgresHubStore(pool, watch);
  }
}
