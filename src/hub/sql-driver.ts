// SPDX-License-Identifier: Apache-2.0
/**
 * The few calls the hub's SQL store makes of a database, asynchronous, with the same `?`
 * placeholders on SQLite (sqlite-driver.ts) and PostgreSQL (postgres-driver.ts), so that one
 * store (sql-store.ts) holds every query for both. Where the two dialects differ, the store
 * takes the fragment from `SQL_DIALECTS`.
 */

export type SqlDialect = 'sqlite' | 'postgres';

export type SqlValue = string | number | Buffer | null;

export interface SqlDriver {
  readonly dialect: SqlDialect;
  /** Every row of `sql`. */
  all<T>(sql: string, params?: readonly SqlValue[]): Promise<T[]>;
  /** The first row of `sql`, undefined if none. */
  get<T>(sql: string, params?: readonly SqlValue[]): Promise<T | undefined>;
  /** Runs a statement; returns how many rows it changed. */
  run(sql: string, params?: readonly SqlValue[]): Promise<number>;
  /**
   * Runs `fn` in one transaction: committed when it resolves, rolled back when it throws. On
   * SQLite it holds the write lock from its start (BEGIN IMMEDIATE), so it is serialised with
   * every other writer; on PostgreSQL it is READ COMMITTED, and rows it must not see change are
   * locked with `FOR UPDATE` (see SQL_DIALECTS.forUpdate). Called on a transaction's driver, it
   * runs `fn` in that same transaction (its options are the outer one's).
   */
  transaction<T>(fn: (tx: SqlDriver) => Promise<T>, options?: TransactionOptions): Promise<T>;
}

export interface TransactionOptions {
  /**
   * False for a transaction whose loss in a power cut or OS crash costs nothing (a heartbeat: the
   * next one replaces it): its commit does not wait for the disk (SQLite: synchronous=NORMAL for
   * it, the WAL is synced by the next durable commit or checkpoint; PostgreSQL: synchronous_commit
   * off for it). A crash of the hub process loses nothing either way. Default true.
   */
  readonly durable?: boolean;
}

/** What differs between the dialects in the store's SQL. */
export interface DialectSql {
  /** Appended to a SELECT in a transaction whose rows it then updates (empty on SQLite: the write lock covers it). */
  readonly forUpdate: string;
  /** The larger of two values (SQLite's two-argument MAX). */
  readonly greatest: string;
  /** The column that orders rows of `runs` inserted in the same millisecond. */
  readonly runInsertOrder: string;
}

export const SQL_DIALECTS: Record<SqlDialect, DialectSql> = {
  sqlite: { forUpdate: '', greatest: 'MAX', runInsertOrder: 'rowid' },
  postgres: { forUpdate: ' FOR UPDATE', greatest: 'GREATEST', runInsertOrder: 'insert_order' },
};
