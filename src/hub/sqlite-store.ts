// SPDX-License-Identifier: Apache-2.0
/**
 * HubStore on SQLite (better-sqlite3) in the hub's state directory; survives hub restarts. The
 * queries are sql-store.ts's; this opens the file and brings its schema up to date
 * (migrations.ts), and watches it for other processes' writes. The database and its WAL files
 * are private to the hub's user (0600): they hold key hashes and every run's logs.
 */
import { chmodSync, closeSync, existsSync, openSync, statSync } from 'node:fs';

import Database from 'better-sqlite3';

import { FaultdError, messageOf } from '../errors.js';
import { migrate } from './migrations.js';
import { betterSqliteOptions } from '../prebuilds.js';
import { SqliteDriver } from './sqlite-driver.js';
import { SqlHubStore } from './sql-store.js';
import type { RunsListener } from './store.js';

/** How often a watched SQLite store looks for other processes' commits (one `PRAGMA data_version`). */
export const RUNS_WATCH_MS = 25;

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

function openDatabase(file: string): Database.Database {
  if (file !== ':memory:') makePrivate(file);
  const db = new Database(file, betterSqliteOptions());
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
    migrate(db, file);
    return db;
  } catch (error) {
    db.close();
    throw error;
  }
}

/**
 * Calls its listeners when another connection has committed: SQLite's data_version moves only
 * on commits by other connections. Checked every `everyMs` while anyone listens.
 */
class DataVersionWatch {
  readonly #db: Database.Database;
  readonly #everyMs: number;
  readonly #listeners = new Set<RunsListener>();
  #timer: NodeJS.Timeout | undefined;

  constructor(db: Database.Database, everyMs: number) {
    this.#db = db;
    this.#everyMs = everyMs;
  }

  add(listener: RunsListener): () => void {
    this.#listeners.add(listener);
    if (!this.#timer) this.#start();
    return () => {
      this.#listeners.delete(listener);
      if (this.#listeners.size === 0) this.stop();
    };
  }

  #start(): void {
    let version = this.#version();
    this.#timer = setInterval(() => {
      const now = this.#version();
      if (now === undefined) {
        this.stop(); // closed under a waiting poll (the hub is stopping)
        return;
      }
      if (now === version) return;
      version = now;
      // Which infrastructures the commit touched is not known here: all of them, then.
      for (const listener of [...this.#listeners]) listener(undefined);
    }, this.#everyMs);
    this.#timer.unref();
  }

  #version(): number | undefined {
    if (!this.#db.open) return undefined;
    return Number(this.#db.pragma('data_version', { simple: true }));
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
}

export class SqliteHubStore extends SqlHubStore {
  /**
   * Opens (and creates, mode 0600) the database and migrates it to the latest schema;
   * `:memory:` for tests. Throws FAULTD_ERR_HUB_DB_SCHEMA for a database newer than this code.
   * `watchEveryMs`: how often `watchRuns` checks for other processes' commits.
   */
  constructor(file: string, watchEveryMs = RUNS_WATCH_MS) {
    const db = openDatabase(file);
    const watch = new DataVersionWatch(db, watchEveryMs);
    super(new SqliteDriver(db), {
      watchRuns: (listener) => watch.add(listener),
      close: () => {
        watch.stop();
        db.close();
        return Promise.resolve();
      },
    });
  }
}
