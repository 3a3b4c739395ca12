// SPDX-License-Identifier: Apache-2.0
/**
 * The hub's store chosen by URL (`faultd hub --database`, FAULTD_HUB_DATABASE):
 * `postgres://…` / `postgresql://…` for PostgreSQL (several hub replicas on one database),
 * `sqlite:<file>` for SQLite; none: SQLite in `<hub-dir>/hub.db`, as before the option existed.
 * PostgreSQL's client is loaded only when asked for.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';

import { FaultdError, messageOf } from '../errors.js';
import { SqliteHubStore } from './sqlite-store.js';
import type { HubStore } from './store.js';

export type HubDatabase = { readonly kind: 'sqlite'; readonly file: string } | { readonly kind: 'postgres'; readonly url: string };

/** What `database` names; the hub dir's hub.db when it is undefined or empty. Bad input: FAULTD_ERR_HUB_INPUT. */
export function parseHubDatabase(database: string | undefined, hubDir: string): HubDatabase {
  if (database === undefined || database === '') return { kind: 'sqlite', file: path.join(hubDir, 'hub.db') };
  if (/^postgres(ql)?:\/\//.test(database)) return { kind: 'postgres', url: database };
  if (database.startsWith('sqlite:') && database.length > 'sqlite:'.length) return { kind: 'sqlite', file: path.resolve(database.slice('sqlite:'.length)) };
  throw new FaultdError('FAULTD_ERR_HUB_INPUT', '--database (FAULTD_HUB_DATABASE) must be postgres://user@host:port/db (or postgresql://…) or sqlite:<file>');
}

/** How `database` is named in output: the URL without its password, or the file. */
export function describeHubDatabase(database: HubDatabase): string {
  if (database.kind === 'sqlite') return database.file;
  try {
    const url = new URL(database.url);
    if (url.password) url.password = '***';
    return url.toString();
  } catch {
    return 'postgres://…';
  }
}

/** Opens (creating the hub dir for the default SQLite file) and migrates the store. */
export async function openHubStore(database: HubDatabase, hubDir: string): Promise<HubStore> {
  if (database.kind === 'postgres') {
    const { PostgresHubStore } = await import('./postgres-store.js');
    return PostgresHubStore.open(database.url);
  }
  if (path.dirname(database.file) === path.resolve(hubDir)) {
    try {
      mkdirSync(hubDir, { recursive: true, mode: 0o700 });
    } catch (error) {
      throw new FaultdError('FAULTD_ERR_STATE_DIR', `cannot create the hub directory ${hubDir}: ${messageOf(error)}`, { cause: error });
    }
  }
  return new SqliteHubStore(database.file);
}
