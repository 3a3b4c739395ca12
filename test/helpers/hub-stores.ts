// SPDX-License-Identifier: Apache-2.0
/**
 * The two HubStore backends for tests that run one body against both: SQLite in a temp file, and
 * PostgreSQL on a private server started once per test file (test/helpers/postgres.ts), a new
 * database per test. `connect()` opens another store on the same database, as another process or
 * hub replica would.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

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
}

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
};

const pgMissing = postgresMissing();

export const POSTGRES_BACKEND: StoreBackend = {
  name: 'postgres',
  ...(pgMissing ? { missing: pgMissing } : {}),
  database: async (t) => {
    const url = await (await testPostgres()).createDatabase();
    return { url, connect: opener(t, () => PostgresHubStore.open(url)) };
  },
};

export const STORE_BACKENDS: readonly StoreBackend[] = [SQLITE_BACKEND, POSTGRES_BACKEND];
