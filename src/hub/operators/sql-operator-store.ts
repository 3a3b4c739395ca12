// SPDX-License-Identifier: Apache-2.0
/**
 * OperatorStore in SQL that SQLite and PostgreSQL both run as written (`?` placeholders,
 * `INSERT … RETURNING`, `ON CONFLICT`), over the hub store's SqlDriver (sql-store.ts
 * `operators()`). The tables come from the hub's migrations (migrations.ts, versions 5 and 6). The audit table is only ever inserted into and read:
 * there is no UPDATE or DELETE of `operator_audit` here (test/unit/hub/operators/audit.test.ts
 * checks this file's SQL for one).
 */
import type { ApiTokenRecord, AuditEntry, ExperimentRecord, LoginFailureWindow, NewAuditEntry, OperatorStore, SessionRecord, UserRecord } from './operator-store.js';
import { isRole, type Role } from './roles.js';
import type { SqlDriver } from '../sql-driver.js';


/** PostgreSQL returns BIGINT as text; SQLite as a number. */
const num = (v: number | string): number => Number(v);
const optNum = (v: number | string | null): number | undefined => (v === null ? undefined : Number(v));

interface UserRow {
  name: string;
  role: string;
  password_hash: string;
  created_at: number | string;
  last_login: number | string | null;
  disabled_at: number | string | null;
}

function toUser(row: UserRow): UserRecord {
  const lastLogin = optNum(row.last_login);
  // A role this code does not know (a newer faultd wrote it) gets the least rights.
  const role: Role = isRole(row.role) ? row.role : 'viewer';
  const disabledAt = optNum(row.disabled_at);
  return {
    name: row.name,
    role,
    passwordHash: row.password_hash,
    createdAt: num(row.created_at),
    ...(lastLogin === undefined ? {} : { lastLogin }),
    ...(disabledAt === undefined ? {} : { disabledAt }),
  };
}

interface SessionRow {
  id_hash: string;
  user_name: string;
  csrf_token: string;
  created_at: number | string;
  expires_at: number | string;
  last_seen_at: number | string;
}

interface TokenRow {
  id: string;
  hash: string;
  user_name: string;
  created_at: number | string;
  expires_at: number | string | null;
  last_used: number | string | null;
}

function toToken(row: TokenRow): ApiTokenRecord {
  const expiresAt = optNum(row.expires_at);
  const lastUsed = optNum(row.last_used);
  return {
    id: row.id,
    hash: row.hash,
    userName: row.user_name,
    createdAt: num(row.created_at),
    ...(expiresAt === undefined ? {} : { expiresAt }),
    ...(lastUsed === undefined ? {} : { lastUsed }),
  };
}

interface AuditRow {
  id: number | string;
  at: number | string;
  actor: string;
  role: string;
  action: string;
  target: string | null;
  remote: string;
  detail: string | null;
}

function toAudit(row: AuditRow): AuditEntry {
  return {
    id: num(row.id),
    at: num(row.at),
    actor: row.actor,
    role: row.role,
    action: row.action,
    ...(row.target === null ? {} : { target: row.target }),
    remote: row.remote,
    ...(row.detail === null ? {} : { detail: row.detail }),
  };
}

interface ExperimentRow {
  name: string;
  text: string;
  updated_at: number | string;
  updated_by: string;
  faults: number | string;
}

function toExperiment(row: ExperimentRow): ExperimentRecord {
  return { name: row.name, text: row.text, updatedAt: num(row.updated_at), updatedBy: row.updated_by, faults: num(row.faults) };
}

interface FailureRow {
  failures: number | string;
  window_start: number | string;
}

function toFailureWindow(row: FailureRow): LoginFailureWindow {
  return { failures: num(row.failures), windowStart: num(row.window_start) };
}

export class SqlOperatorStore implements OperatorStore {
  readonly #db: SqlDriver;

  constructor(db: SqlDriver) {
    this.#db = db;
  }

  async addUser(user: Pick<UserRecord, 'name' | 'role' | 'passwordHash' | 'createdAt'>): Promise<boolean> {
    const changed = await this.#db.run('INSERT INTO operator_users (name, role, password_hash, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (name) DO NOTHING', [
      user.name,
      user.role,
      user.passwordHash,
      user.createdAt,
    ]);
    return changed === 1;
  }

  async user(name: string): Promise<UserRecord | undefined> {
    const row = await this.#db.get<UserRow>('SELECT * FROM operator_users WHERE name = ?', [name]);
    return row && toUser(row);
  }

  async listUsers(): Promise<UserRecord[]> {
    return (await this.#db.all<UserRow>('SELECT * FROM operator_users ORDER BY name')).map(toUser);
  }

  async removeUser(name: string): Promise<boolean> {
    // Sessions and tokens go with their user (ON DELETE CASCADE); deleted here too, in the same
    // transaction, so a connection without foreign keys enforced leaves none behind.
    return this.#db.transaction(async (tx) => {
      await tx.run('DELETE FROM operator_sessions WHERE user_name = ?', [name]);
      await tx.run('DELETE FROM operator_tokens WHERE user_name = ?', [name]);
      return (await tx.run('DELETE FROM operator_users WHERE name = ?', [name])) === 1;
    });
  }

  async setDisabled(name: string, at: number | null): Promise<boolean> {
    return this.#db.transaction(async (tx) => {
      const changed = await tx.run('UPDATE operator_users SET disabled_at = ? WHERE name = ?', [at, name]);
      if (at !== null) await tx.run('DELETE FROM operator_sessions WHERE user_name = ?', [name]);
      return changed === 1;
    });
  }

  async setPassword(name: string, passwordHash: string): Promise<boolean> {
    return this.#db.transaction(async (tx) => {
      const changed = await tx.run('UPDATE operator_users SET password_hash = ? WHERE name = ?', [passwordHash, name]);
      await tx.run('DELETE FROM operator_sessions WHERE user_name = ?', [name]);
      return changed === 1;
    });
  }

  async setRole(name: string, role: Role): Promise<boolean> {
    return (await this.#db.run('UPDATE operator_users SET role = ? WHERE name = ?', [role, name])) === 1;
  }

  async recordLogin(name: string, at: number): Promise<void> {
    await this.#db.run('UPDATE operator_users SET last_login = ? WHERE name = ?', [at, name]);
  }

  async addSession(session: SessionRecord): Promise<void> {
    await this.#db.run('INSERT INTO operator_sessions (id_hash, user_name, csrf_token, created_at, expires_at, last_seen_at) VALUES (?, ?, ?, ?, ?, ?)', [
      session.idHash,
      session.userName,
      session.csrfToken,
      session.createdAt,
      session.expiresAt,
      session.lastSeenAt,
    ]);
  }

  async session(idHash: string): Promise<SessionRecord | undefined> {
    const row = await this.#db.get<SessionRow>('SELECT * FROM operator_sessions WHERE id_hash = ?', [idHash]);
    return (
      row && {
        idHash: row.id_hash,
        userName: row.user_name,
        csrfToken: row.csrf_token,
        createdAt: num(row.created_at),
        expiresAt: num(row.expires_at),
        lastSeenAt: num(row.last_seen_at),
      }
    );
  }

  async touchSession(idHash: string, at: number): Promise<void> {
    await this.#db.run('UPDATE operator_sessions SET last_seen_at = ? WHERE id_hash = ?', [at, idHash]);
  }

  async deleteSession(idHash: string): Promise<void> {
    await this.#db.run('DELETE FROM operator_sessions WHERE id_hash = ?', [idHash]);
  }

  async pruneSessions(now: number, idleSince: number): Promise<number> {
    return this.#db.run('DELETE FROM operator_sessions WHERE expires_at <= ? OR last_seen_at <= ?', [now, idleSince]);
  }

  async addApiToken(token: ApiTokenRecord): Promise<void> {
    await this.#db.run('INSERT INTO operator_tokens (id, hash, user_name, created_at, expires_at) VALUES (?, ?, ?, ?, ?)', [
      token.id,
      token.hash,
      token.userName,
      token.createdAt,
      token.expiresAt ?? null,
    ]);
  }

  async apiToken(hash: string): Promise<ApiTokenRecord | undefined> {
    const row = await this.#db.get<TokenRow>('SELECT * FROM operator_tokens WHERE hash = ?', [hash]);
    return row && toToken(row);
  }

  async listApiTokens(userName?: string): Promise<ApiTokenRecord[]> {
    const rows =
      userName === undefined
        ? await this.#db.all<TokenRow>('SELECT * FROM operator_tokens ORDER BY user_name, created_at')
        : await this.#db.all<TokenRow>('SELECT * FROM operator_tokens WHERE user_name = ? ORDER BY created_at', [userName]);
    return rows.map(toToken);
  }

  async revokeApiToken(id: string): Promise<boolean> {
    return (await this.#db.run('DELETE FROM operator_tokens WHERE id = ?', [id])) === 1;
  }

  async touchApiToken(hash: string, at: number): Promise<void> {
    await this.#db.run('UPDATE operator_tokens SET last_used = ? WHERE hash = ?', [at, hash]);
  }

  async loginFailures(subject: string, since: number): Promise<LoginFailureWindow | undefined> {
    const row = await this.#db.get<FailureRow>('SELECT failures, window_start FROM operator_login_failures WHERE subject = ? AND window_start > ?', [subject, since]);
    return row && toFailureWindow(row);
  }

  async recordLoginFailure(subject: string, now: number, since: number): Promise<LoginFailureWindow> {
    // One statement: concurrent failures on several replicas each add one (the row is locked
    // by the upsert on PostgreSQL, the database by the write on SQLite).
    const row = await this.#db.get<FailureRow>(
      `INSERT INTO operator_login_failures (subject, window_start, failures) VALUES (?, ?, 1)
       ON CONFLICT (subject) DO UPDATE SET
         failures = CASE WHEN operator_login_failures.window_start <= ? THEN 1 ELSE operator_login_failures.failures + 1 END,
         window_start = CASE WHEN operator_login_failures.window_start <= ? THEN excluded.window_start ELSE operator_login_failures.window_start END
       RETURNING failures, window_start`,
      [subject, now, since, since],
    );
    if (!row) throw new Error('the login failure upsert returned no row');
    // Bounded: a lapsed window is of no use, whatever name an attacker tried.
    await this.#db.run('DELETE FROM operator_login_failures WHERE window_start <= ?', [since]);
    return toFailureWindow(row);
  }

  async clearLoginFailures(subject: string): Promise<void> {
    await this.#db.run('DELETE FROM operator_login_failures WHERE subject = ?', [subject]);
  }

  async appendAudit(entry: NewAuditEntry): Promise<number> {
    const row = await this.#db.get<{ id: number | string }>(
      'INSERT INTO operator_audit (at, actor, role, action, target, remote, detail) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id',
      [entry.at, entry.actor, entry.role, entry.action, entry.target ?? null, entry.remote, entry.detail ?? null],
    );
    if (!row) throw new Error('the audit insert returned no id');
    return num(row.id);
  }

  async listAudit(options: { limit: number; before?: number }): Promise<AuditEntry[]> {
    const rows =
      options.before === undefined
        ? await this.#db.all<AuditRow>('SELECT * FROM operator_audit ORDER BY id DESC LIMIT ?', [options.limit])
        : await this.#db.all<AuditRow>('SELECT * FROM operator_audit WHERE id < ? ORDER BY id DESC LIMIT ?', [options.before, options.limit]);
    return rows.map(toAudit);
  }

  async putExperiment(experiment: ExperimentRecord): Promise<boolean> {
    const params = [experiment.name, experiment.text, experiment.updatedAt, experiment.updatedBy, experiment.faults];
    const inserted = await this.#db.run('INSERT INTO operator_experiments (name, text, updated_at, updated_by, faults) VALUES (?, ?, ?, ?, ?) ON CONFLICT (name) DO NOTHING', params);
    if (inserted === 1) return true;
    await this.#db.run('UPDATE operator_experiments SET text = ?, updated_at = ?, updated_by = ?, faults = ? WHERE name = ?', [...params.slice(1), experiment.name]);
    return false;
  }

  async experiment(name: string): Promise<ExperimentRecord | undefined> {
    const row = await this.#db.get<ExperimentRow>('SELECT * FROM operator_experiments WHERE name = ?', [name]);
    return row && toExperiment(row);
  }

  async listExperiments(): Promise<ExperimentRecord[]> {
    return (await this.#db.all<ExperimentRow>('SELECT * FROM operator_experiments ORDER BY name')).map(toExperiment);
  }

  async deleteExperiment(name: string): Promise<boolean> {
    return (await this.#db.run('DELETE FROM operator_experiments WHERE name = ?', [name])) === 1;
  }
}
