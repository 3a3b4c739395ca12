// SPDX-License-Identifier: Apache-2.0
/** A better-sqlite3 connection as a SqlRunner (its calls are synchronous; the promises resolve at once). */
import type Database from 'better-sqlite3';

import type { SqlParam, SqlRunner } from './sql-operator-store.js';

export function sqliteRunner(db: Database.Database): SqlRunner {
  return {
    all: <T>(sql: string, params: readonly SqlParam[] = []) => Promise.resolve(db.prepare(sql).all(...params) as T[]),
    get: <T>(sql: string, params: readonly SqlParam[] = []) => Promise.resolve(db.prepare(sql).get(...params) as T | undefined),
    run: (sql: string, params: readonly SqlParam[] = []) => Promise.resolve(db.prepare(sql).run(...params).changes),
  };
}
