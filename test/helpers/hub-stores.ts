// SPDX-License-Identifier: Apache-2.0
/**
 * The two HubStore backends for tests that run one body against both: SQLite in a temp file, and
 * PostgreSQL on a private server started once per test file (test/helpers/postgres.ts), a new
 * database per test. `connect()` opens another store on the same database, as another process or
 * hub replica would. `testOnStores` declares a test once per backend; a file that uses
 * PostgreSQL stops its server with `test.after.always(stopTestPostgres)`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import anyTest, { type ExecutionContext } from 'ava';

import { PostgresHubStore } from '../../src/hub/postgres-store.js';
import { SqliteHubStore } from '../../src/hub/sqlite-store.js';
import type { HubStore } from '../../src/hub/store.js';
import { postgresMissing, startPostgres, type TestPostgres } from './postgres.js';

type Teardown = { teardown(fn: () => void | Promise<void>): void };

export interface StoreBackend {
  readonly name: 'sqlite' | 'postgres';
  /** Why this backend cannot run here (the test is skipped and says so), or undefined. */
  readonly missing?: string;
  /** A new, empty database: its `--database` URL, and how to open a store on it (closed at teardown). */
  database(t: Teardown): Promise<{ url: string; connect(): Promise<HubStore> }>;
  /**
   * The `--database` URL of a test hub whose directory is `hubDir`: on SQLite its hub.db there
   * (what `faultd hub serve` uses without --database), on PostgreSQL a new database.
   */
  hubDatabase(t: Teardown, hubDir: string): Promise<string>;
}

export type StoreName = StoreBackend['name'];

let server: Promise<TestPostgres> | undefined;
const serverTeardowns: (() => void | Promise<void>)[] = [];

/** Stops the file's PostgreSQL server; call it from `test.after.always`. */
export async function stopTestPostgres(): Promise<void> {
  for (const fn of serverTeardowns.splice(0).reverse()) await fn();
  server = undefined;
}

/** The file's PostgreSQL server, started at first use. */
export function testPostgres(): Promise<TestPostgres> {
  server ??= startPostgres({ teardown: (fn) => serverTeardowns.push(fn) });
  return server;
}

function opener(t: Teardown, open: () => Promise<HubStore>): () => Promise<HubStore> {
  return async () => {
    const store = await open();
    t.teardown(() => store.close());
    return store;
  };
}

export const SQLITE_BACKEND: StoreBackend = {
  name: 'sqlite',
  database: (t) => {
    const dir = mkdtempSync(path.join(tmpdir(), 'faultd-hubstore-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const file = path.join(dir, 'hub.db');
    return Promise.resolve({ url: `sqlite:${file}`, connect: opener(t, () => Promise.resolve(new SqliteHubStore(file))) });
  },
  hubDatabase: (_t, hubDir) => Promise.resolve(`sqlite:${path.join(hubDir, 'hub.db')}`),
};

const pgMissing = postgresMissing();

export const POSTGRES_BACKEND: StoreBackend = {
  name: 'postgres',
  ...(pgMissing ? { missing: pgMissing } : {}),
  database: async (t) => {
    const url = await (await testPostgres()).createDatabase();
    return { url, connect: opener(t, () => PostgresHubStore.open(url)) };
  },
  hubDatabase: async () => (await testPostgres()).createDatabase(),
};

export const STORE_BACKENDS: readonly StoreBackend[] = [SQLITE_BACKEND, POSTGRES_BACKEND];

/** The backend called `name`. */
export function storeBackend(name: StoreName): StoreBackend {
  return name === 'sqlite' ? SQLITE_BACKEND : POSTGRES_BACKEND;
}

/** How a file declares a test: ava's `test` or `test.serial`, or `privilegedTest`. */
export type DeclareTest = (title: string, implementation: (t: ExecutionContext) => Promise<void>) => void;

/**
 * Declares `title` once per backend of `backends` (all by default), with ` [sqlite]` or
 * ` [postgres]` appended, through `declare`; the body gets the backend to start its hub or open
 * its store on. A backend missing on this machine is skipped, the title saying why.
 */
export function testOnStores(declare: DeclareTest, title: string, body: (t: ExecutionContext, backend: StoreBackend) => Promise<void>, backends: readonly StoreBackend[] = STORE_BACKENDS): void {
  for (const backend of backends) {
    const named = `${title} [${backend.name}]`;
    if (backend.missing) anyTest.skip(`${named} (skipped: ${backend.missing})`, () => undefined);
    else declare(named, (t) => body(t, backend));
  }
}
