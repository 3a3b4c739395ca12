// SPDX-License-Identifier: Apache-2.0
/**
 * SqlDriver over one better-sqlite3 connection. better-sqlite3 is synchronous, and a
 * transaction spans awaits: while one is open, every other call on the connection waits for its
 * end (else it would run inside it, and be committed or rolled back with it).
 */
import type Database from 'better-sqlite3';

import type { SqlDriver, SqlValue, TransactionOptions } from './sql-driver.js';

export class SqliteDriver implements SqlDriver {
  readonly dialect = 'sqlite' as const;
  readonly #db: Database.Database;
  readonly #statements = new Map<string, Database.Statement>();
  /** Settles when the open transaction ends; undefined while none is open. */
  #open: Promise<void> | undefined;
  /** The connection's synchronous level (FULL), restored after a transaction that is not durable. */
  readonly #synchronous: number;
  /** Calls inside the open transaction: they must not wait for it. */
  readonly #inside: SqlDriver;

  constructor(db: Database.Database) {
    this.#db = db;
    this.#synchronous = Number(db.pragma('synchronous', { simple: true }));
    // A throw becomes a rejection, as from a database client that answers later.
    const now = <T>(fn: () => T): Promise<T> => new Promise<T>((resolve) => resolve(fn()));
    this.#inside = {
      dialect: 'sqlite',
      all: <T>(sql: string, params: readonly SqlValue[] = []) => now(() => this.#statement(sql).all(...params) as T[]),
      get: <T>(sql: string, params: readonly SqlValue[] = []) => now(() => this.#statement(sql).get(...params) as T | undefined),
      run: (sql: string, params: readonly SqlValue[] = []) => now(() => this.#statement(sql).run(...params).changes),
      transaction: <T>(fn: (tx: SqlDriver) => Promise<T>) => fn(this.#inside),
    };
  }

  #statement(sql: string): Database.Statement {
    let statement = this.#statements.get(sql);
    if (!statement) {
      statement = this.#db.prepare(sql);
      this.#statements.set(sql, statement);
    }
    return statement;
  }

  // Each call waits for the open transaction with the loop inline, then runs (or claims the
  // connection) in the same synchronous step: behind a helper's `await`, another caller could
  // begin a transaction in between, and a plain call would then run inside it, or a second
  // BEGIN fail ("cannot start a transaction within a transaction").

  async all<T>(sql: string, params: readonly SqlValue[] = []): Promise<T[]> {
    while (this.#open) await this.#open;
    return this.#inside.all<T>(sql, params);
  }

  async get<T>(sql: string, params: readonly SqlValue[] = []): Promise<T | undefined> {
    while (this.#open) await this.#open;
    return this.#inside.get<T>(sql, params);
  }

  async run(sql: string, params: readonly SqlValue[] = []): Promise<number> {
    while (this.#open) await this.#open;
    return this.#inside.run(sql, params);
  }

  async transaction<T>(fn: (tx: SqlDriver) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
    while (this.#open) await this.#open;
    let end!: () => void;
    this.#open = new Promise<void>((resolve) => (end = resolve));
    const relaxed = options.durable === false;
    try {
      if (relaxed) this.#db.pragma('synchronous = NORMAL');
      this.#db.exec('BEGIN IMMEDIATE');
      try {
        const value = await fn(this.#inside);
        this.#db.exec('COMMIT');
        return value;
      } catch (error) {
        if (this.#db.inTransaction) this.#db.exec('ROLLBACK');
        throw error;
      }
    } finally {
      if (relaxed) this.#db.pragma(`synchronous = ${this.#synchronous}`);
      this.#open = undefined;
      end();
    }
  }
}
