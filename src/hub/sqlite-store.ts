// SPDX-License-Identifier: Apache-2.0
/** HubStore on SQLite (better-sqlite3) in the hub's state directory; survives hub restarts. */
import Database from 'better-sqlite3';

import type { KeyHash } from './credentials.js';
import type { HubStore, InfraRecord, TokenRecord } from './store.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS infras (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  created_at INTEGER NOT NULL,
  key_salt BLOB NOT NULL,
  key_hash BLOB NOT NULL,
  pending_salt BLOB,
  pending_hash BLOB,
  pending_rotation_id TEXT,
  rotation_requested INTEGER NOT NULL DEFAULT 0,
  last_seen INTEGER,
  agent_version TEXT,
  hostname TEXT,
  capabilities TEXT NOT NULL DEFAULT '[]'
);
CREATE TABLE IF NOT EXISTS tokens (
  hash TEXT PRIMARY KEY,
  infra_id TEXT NOT NULL REFERENCES infras(id) ON DELETE CASCADE,
  expires_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS tokens_expiry ON tokens(expires_at);
`;

interface InfraRow {
  id: string;
  name: string;
  created_at: number;
  key_salt: Buffer;
  key_hash: Buffer;
  pending_salt: Buffer | null;
  pending_hash: Buffer | null;
  pending_rotation_id: string | null;
  rotation_requested: number;
  last_seen: number | null;
  agent_version: string | null;
  hostname: string | null;
  capabilities: string;
}

function toRecord(row: InfraRow): InfraRecord {
  const capabilities: unknown = JSON.parse(row.capabilities);
  return {
    id: row.id,
    name: row.name,
    createdAt: row.created_at,
    key: { salt: row.key_salt, hash: row.key_hash },
    ...(row.pending_salt && row.pending_hash && row.pending_rotation_id
      ? { pendingKey: { salt: row.pending_salt, hash: row.pending_hash, rotationId: row.pending_rotation_id } }
      : {}),
    rotationRequested: row.rotation_requested !== 0,
    ...(row.last_seen === null ? {} : { lastSeen: row.last_seen }),
    ...(row.agent_version === null ? {} : { agentVersion: row.agent_version }),
    ...(row.hostname === null ? {} : { hostname: row.hostname }),
    capabilities: Array.isArray(capabilities) ? capabilities.filter((c): c is string => typeof c === 'string') : [],
  };
}

export class SqliteHubStore implements HubStore {
  readonly #db: Database.Database;

  /** Opens (and creates) the database; `:memory:` for tests. */
  constructor(file: string) {
    this.#db = new Database(file);
    this.#db.pragma('journal_mode = WAL');
    this.#db.pragma('synchronous = FULL');
    this.#db.pragma('foreign_keys = ON');
    this.#db.exec(SCHEMA);
  }

  addInfra(infra: Pick<InfraRecord, 'id' | 'name' | 'createdAt' | 'key'>): void {
    this.#db
      .prepare('INSERT INTO infras (id, name, created_at, key_salt, key_hash) VALUES (?, ?, ?, ?, ?)')
      .run(infra.id, infra.name, infra.createdAt, infra.key.salt, infra.key.hash);
  }

  infraById(id: string): InfraRecord | undefined {
    const row = this.#db.prepare('SELECT * FROM infras WHERE id = ?').get(id) as InfraRow | undefined;
    return row && toRecord(row);
  }

  infraByName(name: string): InfraRecord | undefined {
    const row = this.#db.prepare('SELECT * FROM infras WHERE name = ?').get(name) as InfraRow | undefined;
    return row && toRecord(row);
  }

  listInfras(): InfraRecord[] {
    return (this.#db.prepare('SELECT * FROM infras ORDER BY name').all() as InfraRow[]).map(toRecord);
  }

  requestRotation(infraId: string): void {
    this.#db.prepare('UPDATE infras SET rotation_requested = 1 WHERE id = ?').run(infraId);
  }

  setPendingKey(infraId: string, pending: KeyHash & { rotationId: string }): void {
    this.#db
      .prepare('UPDATE infras SET pending_salt = ?, pending_hash = ?, pending_rotation_id = ? WHERE id = ?')
      .run(pending.salt, pending.hash, pending.rotationId, infraId);
  }

  confirmPendingKey(infraId: string, rotationId: string): boolean {
    const result = this.#db
      .prepare(
        `UPDATE infras SET key_salt = pending_salt, key_hash = pending_hash, pending_salt = NULL, pending_hash = NULL,
         pending_rotation_id = NULL, rotation_requested = 0 WHERE id = ? AND pending_rotation_id = ?`,
      )
      .run(infraId, rotationId);
    return result.changes === 1;
  }

  recordHeartbeat(infraId: string, at: number, agent: { version: string; hostname: string; capabilities: readonly string[] }): void {
    this.#db
      .prepare('UPDATE infras SET last_seen = ?, agent_version = ?, hostname = ?, capabilities = ? WHERE id = ?')
      .run(at, agent.version, agent.hostname, JSON.stringify(agent.capabilities), infraId);
  }

  addToken(hash: string, token: TokenRecord): void {
    this.#db.prepare('INSERT INTO tokens (hash, infra_id, expires_at) VALUES (?, ?, ?)').run(hash, token.infraId, token.expiresAt);
  }

  token(hash: string): TokenRecord | undefined {
    const row = this.#db.prepare('SELECT infra_id, expires_at FROM tokens WHERE hash = ?').get(hash) as { infra_id: string; expires_at: number } | undefined;
    return row && { infraId: row.infra_id, expiresAt: row.expires_at };
  }

  pruneTokens(now: number): number {
    return this.#db.prepare('DELETE FROM tokens WHERE expires_at <= ?').run(now).changes;
  }

  close(): void {
    this.#db.close();
  }
}
