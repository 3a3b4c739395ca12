// SPDX-License-Identifier: Apache-2.0
/**
 * What the operator side of the hub keeps: accounts, console sessions, API tokens, the audit
 * log and the experiment library. Asynchronous, so a server database can implement it as well
 * as SQLite. Secrets arrive here only hashed (passwords by passwords.ts, session ids and API
 * tokens by SHA-256). The audit log is append-only: this interface has no call that changes or
 * removes an entry, and no implementation may add one.
 */
import type { Role } from './roles.js';

export interface UserRecord {
  readonly name: string;
  readonly role: Role;
  readonly passwordHash: string;
  readonly createdAt: number;
  readonly lastLogin?: number;
  /** Set while the account is disabled: no login, its sessions ended, its tokens refused. */
  readonly disabledAt?: number;
}

export interface SessionRecord {
  /** SHA-256 (hex) of the cookie's session id; the id itself is never stored. */
  readonly idHash: string;
  readonly userName: string;
  readonly csrfToken: string;
  readonly createdAt: number;
  readonly expiresAt: number;
  readonly lastSeenAt: number;
}

export interface ApiTokenRecord {
  /** Public id (`tok_…`), for `token list|revoke`. */
  readonly id: string;
  /** SHA-256 (hex) of the `fdo_…` token. */
  readonly hash: string;
  readonly userName: string;
  readonly createdAt: number;
  readonly expiresAt?: number;
  readonly lastUsed?: number;
}

export interface AuditEntry {
  readonly id: number;
  readonly at: number;
  /** An operator's name, or `local:<unix user>` for a command on the database file. */
  readonly actor: string;
  /** The actor's role then; `local` for commands on the database file, `-` when unknown (failed login). */
  readonly role: string;
  readonly action: string;
  readonly target?: string;
  /** The remote address, or `local`. */
  readonly remote: string;
  readonly detail?: string;
}

export type NewAuditEntry = Omit<AuditEntry, 'id'>;

export interface ExperimentRecord {
  readonly name: string;
  readonly text: string;
  readonly updatedAt: number;
  readonly updatedBy: string;
  /** How many faults it has (counted when stored). */
  readonly faults: number;
}

/** Failed logins of one subject (`name:<operator>`, `address:<remote>`) in one window. */
export interface LoginFailureWindow {
  readonly failures: number;
  readonly windowStart: number;
}

export interface OperatorStore {
  /** False when the name is taken. */
  addUser(user: Pick<UserRecord, 'name' | 'role' | 'passwordHash' | 'createdAt'>): Promise<boolean>;
  user(name: string): Promise<UserRecord | undefined>;
  listUsers(): Promise<UserRecord[]>;
  /** Removes the user with its sessions and API tokens; false if there was none. */
  removeUser(name: string): Promise<boolean>;
  /** Sets the password and ends the user's sessions; false if there is no such user. */
  setPassword(name: string, passwordHash: string): Promise<boolean>;
  /** Sets the role (sessions and tokens follow the user's current role); false if no such user. */
  setRole(name: string, role: Role): Promise<boolean>;
  recordLogin(name: string, at: number): Promise<void>;
  /** Disables the user (ending their sessions) at `at`, or enables them (null); false if no such user. */
  setDisabled(name: string, at: number | null): Promise<boolean>;

  addSession(session: SessionRecord): Promise<void>;
  session(idHash: string): Promise<SessionRecord | undefined>;
  touchSession(idHash: string, at: number): Promise<void>;
  deleteSession(idHash: string): Promise<void>;
  /** Drops sessions expired at `now` or idle since `idleSince`; returns how many. */
  pruneSessions(now: number, idleSince: number): Promise<number>;

  addApiToken(token: ApiTokenRecord): Promise<void>;
  apiToken(hash: string): Promise<ApiTokenRecord | undefined>;
  listApiTokens(userName?: string): Promise<ApiTokenRecord[]>;
  /** False if there is no token with that id. */
  revokeApiToken(id: string): Promise<boolean>;
  touchApiToken(hash: string, at: number): Promise<void>;

  /**
   * Failed-login counters, in the database so every hub process on it shares them. The window
   * of `subject` if it started after `since` (an older one has lapsed).
   */
  loginFailures(subject: string, since: number): Promise<LoginFailureWindow | undefined>;
  /**
   * Counts one failure of `subject` atomically (two replicas at once both count): a window that
   * started at or before `since` is replaced by one starting `now`. Drops every lapsed window.
   */
  recordLoginFailure(subject: string, now: number, since: number): Promise<LoginFailureWindow>;
  clearLoginFailures(subject: string): Promise<void>;

  /** Appends an entry; returns its id (increasing). */
  appendAudit(entry: NewAuditEntry): Promise<number>;
  /** Newest first; with `before`, only entries with a smaller id. */
  listAudit(options: { limit: number; before?: number }): Promise<AuditEntry[]>;

  /** Inserts or replaces; true when it was new. */
  putExperiment(experiment: ExperimentRecord): Promise<boolean>;
  experiment(name: string): Promise<ExperimentRecord | undefined>;
  listExperiments(): Promise<ExperimentRecord[]>;
  deleteExperiment(name: string): Promise<boolean>;
}
