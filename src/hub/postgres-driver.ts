// SPDX-License-Identifier: Apache-2.0
/**
 * SqlDriver over a node-postgres pool: `?` placeholders become `$1`, `$2`, …; BIGINT columns
 * (times in ms, sequence numbers) are read as numbers (exact below 2^53); U+0000 in a text
 * parameter is sent as U+FFFD (textParameter). A transaction holds one pooled connection from
 * BEGIN to COMMIT.
 */
import { createHash } from 'node:crypto';

import pg from 'pg';

import type { SqlDriver, SqlValue, TransactionOptions } from './sql-driver.js';

/** How this pool's connections read a value of type `id`: BIGINT as a number, the rest as node-postgres does. */
const getTypeParser: pg.CustomTypesConfig['getTypeParser'] = (id, format) => (id === pg.types.builtins.INT8 ? Number : (pg.types.getTypeParser(id, format) as unknown));

/** Type parsers of this pool's connections. */
export const HUB_PG_TYPES: pg.CustomTypesConfig = { getTypeParser };

/** `?` placeholders as PostgreSQL's numbered ones (the store's SQL has no `?` in literals). */
export function numberedPlaceholders(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${(n += 1)}`);
}

/**
 * A text parameter as PostgreSQL can take it. Its text types cannot hold U+0000: a parameter
 * with one fails the whole statement (22021 "invalid byte sequence for encoding UTF8: 0x00"),
 * which SQLite stores as it is. An agent's hostname or status detail, or a name an operator
 * looked up, with U+0000 in it would fail the call with 500 instead of being stored, or not
 * found. Sent as U+FFFD (the replacement character) instead, it is stored with that one
 * character changed, and a lookup by it finds nothing (names, ids and hashes hold neither).
 */
export function textParameter(value: SqlValue): SqlValue {
  return typeof value === 'string' && value.includes('\u0000') ? value.replaceAll('\u0000', '\uFFFD') : value;
}

type Queryable = Pick<pg.Pool | pg.PoolClient, 'query'>;

const prepared = new Map<string, { readonly name: string; readonly text: string }>();

/**
 * The store's SQL as a named prepared statement: each connection parses and plans it once, then
 * only binds and executes it. Unnamed, PostgreSQL planned every call again, which was most of
 * its CPU under a fleet's heartbeats (bench/fleet.ts). The store's statements are a fixed set
 * of texts, so the map is bounded.
 */
function preparedStatement(sql: string): { readonly name: string; readonly text: string } {
  let statement = prepared.get(sql);
  if (!statement) {
    statement = { name: `faultd_${createHash('sha256').update(sql).digest('hex').slice(0, 24)}`, text: numberedPlaceholders(sql) };
    prepared.set(sql, statement);
  }
  return statement;
}

export class PostgresDriver implements SqlDriver {
  readonly dialect = 'postgres' as const;
  readonly #pool: pg.Pool;
  /** The connection of the open transaction, if this driver is one. */
  readonly #client: pg.PoolClient | undefined;

  constructor(pool: pg.Pool, client?: pg.PoolClient) {
    this.#pool = pool;
    this.#client = client;
  }

  async #query<T>(sql: string, params: readonly SqlValue[]): Promise<pg.QueryResult<T & pg.QueryResultRow>> {
    const target: Queryable = this.#client ?? this.#pool;
    return target.query<T & pg.QueryResultRow>({ ...preparedStatement(sql), values: params.map(textParameter) });
  }

  async all<T>(sql: string, params: readonly SqlValue[] = []): Promise<T[]> {
    return (await this.#query<T>(sql, params)).rows;
  }

  async get<T>(sql: string, params: readonly SqlValue[] = []): Promise<T | undefined> {
    return (await this.#query<T>(sql, params)).rows[0];
  }

  async run(sql: string, params: readonly SqlValue[] = []): Promise<number> {
    return (await this.#query(sql, params)).rowCount ?? 0;
  }

  async transaction<T>(fn: (tx: SqlDriver) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
    if (this.#client) return fn(this);
    const client = await this.#pool.connect();
    // A connection whose ROLLBACK failed is broken: the pool closes it instead of reusing it.
    let broken: Error | undefined;
    try {
      // One round trip: the simple query protocol takes both statements.
      await client.query(options.durable === false ? 'BEGIN; SET LOCAL synchronous_commit TO OFF' : 'BEGIN');
      const value = await fn(new PostgresDriver(this.#pool, client));
      await client.query('COMMIT');
      return value;
    } catch (error) {
      await client.query('ROLLBACK').catch((rollbackError: unknown) => {
        broken = rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError));
      });
      throw error;
    } finally {
      client.release(broken);
    }
  }
}
