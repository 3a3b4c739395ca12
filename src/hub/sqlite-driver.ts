// SPDX-License-Identifier: Apache-2.0
/**
 * SqlDriver over one better-sqlite3 connection. better-sqlite3 is synchronous, and a
 * transaction spans awaits: while one is open, every other call on the connection waits for its
 * end (else it would run inside it, and be committed or rolled back with it).
 */
import type Database from 'better-sqlite3';

import type { SqlDriver, SqlValue } from './sql-driver.js';

export class SqliteDriver implements SqlDriver {
  readonly dialect = 'sqlite' as const;
  readonly #db: Database.Database;
  readonly #statements = new Map<string, Database.Statement>();
  /** Settles when the open transaction ends; undefined while none is open. */
  #open: Promise<void> | undefined;
  /** Calls inside the open transaction: they must not wait for it. */
  readonly #inside: SqlDriver;

  constructor(db: Database.Database) {
    this.#db = db;
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

  /**
   * Runs `statement` once no transaction is open. It must start in the same tick as the check:
   * callers woken by the end of one transaction all find none open, and one that checked in an
   * awaited helper and started a tick later would find another's begun (a second BEGIN failed
   * with "cannot start a transaction within a transaction"; a plain statement ran inside it).
   */
  async #whenIdle<T>(statement: () => Promise<T>): Promise<T> {
    while (this.#open) await this.#open;
    return statement();
  }

  all<T>(sql: string, params: readonly SqlValue[] = []): Promise<T[]> {
    return this.#whenIdle(() => this.#inside.all<T>(sql, params));
  }

  get<T>(sql: string, params: readonly SqlValue[] = []): Promise<T | undefined> {
    return this.#whenIdle(() => this.#inside.get<T>(sql, params));
  }

  run(sql: string, params: readonly SqlValue[] = []): Promise<number> {
    return this.#whenIdle(() => this.#inside.run(sql, params));
  }

  transaction<T>(fn: (tx: SqlDriver) => Promise<T>): Promise<T> {
    return this.#whenIdle(() => this.#begin(fn));
  }

  /** Opens a transaction now (none is open), runs `fn` in it, and commits or rolls back. */
  async #begin<T>(fn: (tx: SqlDriver) => Promise<T>): Promise<T> {
    let end!: () => void;
    this.#open = new Promise<void>((resolve) => (end = resolve));
    try {
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
      this.#open = undefined;
      end();
    }
  }
}
