// SPDX-License-Identifier: Apache-2.0
/**
 * Operator accounts, API tokens, the audit log and the experiment library, independent of HTTP:
 * the operator API (api.ts) and the local CLI on the database file call the same methods, and
 * every change is written to the audit log with its actor.
 */
import { randomBytes } from 'node:crypto';
import { userInfo } from 'node:os';

import { newApiToken, secretHash } from './auth.js';
import { hashPassword, passwordProblem } from './passwords.js';
import { OperatorError } from './operator-error.js';
import type { ApiTokenRecord, AuditEntry, ExperimentRecord, OperatorStore, UserRecord } from './operator-store.js';
import { isRole, OPERATOR_NAME, ROLES, type Role } from './roles.js';

/** Who did something, for the audit log. */
export interface Actor {
  /** An operator's name, or `local:<unix user>`. */
  readonly name: string;
  readonly role: Role | 'local' | '-';
  /** The remote address, or `local`. */
  readonly remote: string;
}

/** The actor of a command run on the database file by this process's user. */
export function localActor(): Actor {
  let user: string;
  try {
    user = userInfo().username;
  } catch {
    user = `uid ${process.getuid?.() ?? '?'}`;
  }
  return { name: `local:${user}`, role: 'local', remote: 'local' };
}

/** What the library needs of `faultd validate`: the same checks, the same lines. */
export type ExperimentCheck = { readonly ok: true; readonly experiment: unknown; readonly faults: number } | { readonly ok: false; readonly lines: readonly string[] };
export type ExperimentValidator = (text: string, name: string) => ExperimentCheck;

export const EXPERIMENT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
export const MAX_EXPERIMENT_BYTES = 256 * 1024;
export const MAX_AUDIT_LIMIT = 1000;
/** API tokens live 90 days unless created with another --ttl; at most 2 years. */
export const DEFAULT_TOKEN_TTL_MS = 90 * 86_400_000;
export const MAX_TOKEN_TTL_MS = 730 * 86_400_000;

export interface UserView {
  readonly name: string;
  readonly role: Role;
  readonly createdAt: number;
  readonly lastLogin?: number;
  /** Present while the account is disabled. */
  readonly disabledAt?: number;
}

export interface TokenView {
  readonly id: string;
  readonly user: string;
  readonly createdAt: number;
  readonly expiresAt?: number;
  readonly lastUsed?: number;
}

function userView(u: UserRecord): UserView {
  return {
    name: u.name,
    role: u.role,
    createdAt: u.createdAt,
    ...(u.lastLogin === undefined ? {} : { lastLogin: u.lastLogin }),
    ...(u.disabledAt === undefined ? {} : { disabledAt: u.disabledAt }),
  };
}

function tokenView(t: ApiTokenRecord): TokenView {
  return { id: t.id, user: t.userName, createdAt: t.createdAt, ...(t.expiresAt === undefined ? {} : { expiresAt: t.expiresAt }), ...(t.lastUsed === undefined ? {} : { lastUsed: t.lastUsed }) };
}

export class OperatorService {
  readonly #store: OperatorStore;
  readonly #now: () => number;
  readonly #validate: ExperimentValidator | undefined;

  constructor(store: OperatorStore, options: { now: () => number; validate?: ExperimentValidator }) {
    this.#store = store;
    this.#now = options.now;
    this.#validate = options.validate;
  }

  /** Appends to the audit log. */
  async audit(actor: Actor, action: string, target?: string, detail?: string): Promise<void> {
    await this.#store.appendAudit({
      at: this.#now(),
      actor: actor.name,
      role: actor.role,
      action,
      remote: actor.remote,
      ...(target === undefined ? {} : { target }),
      ...(detail === undefined ? {} : { detail }),
    });
  }

  async listAudit(limit: number, before?: number): Promise<AuditEntry[]> {
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_AUDIT_LIMIT) throw new OperatorError('BAD_REQUEST', `limit must be 1–${MAX_AUDIT_LIMIT}`);
    return this.#store.listAudit({ limit, ...(before === undefined ? {} : { before }) });
  }

  async addUser(actor: Actor, name: string, role: string, password: string): Promise<UserView> {
    if (!OPERATOR_NAME.test(name)) throw new OperatorError('BAD_REQUEST', `operator name "${name}" must be 1–63 of a-z, 0-9, ".", "_", "-", starting with a letter or digit`);
    const checkedRole = this.#role(role);
    const problem = passwordProblem(password);
    if (problem) throw new OperatorError('BAD_REQUEST', problem);
    const createdAt = this.#now();
    if (!(await this.#store.addUser({ name, role: checkedRole, passwordHash: await hashPassword(password), createdAt }))) {
      throw new OperatorError('CONFLICT', `operator "${name}" already exists`);
    }
    await this.audit(actor, 'user.add', name, `role ${checkedRole}`);
    return { name, role: checkedRole, createdAt };
  }

  async listUsers(): Promise<UserView[]> {
    return (await this.#store.listUsers()).map(userView);
  }

  async removeUser(actor: Actor, name: string): Promise<void> {
    if (!(await this.#store.removeUser(name))) throw this.#noUser(name);
    await this.audit(actor, 'user.remove', name);
  }

  async setPassword(actor: Actor, name: string, password: string): Promise<void> {
    const problem = passwordProblem(password);
    if (problem) throw new OperatorError('BAD_REQUEST', problem);
    if (!(await this.#store.setPassword(name, await hashPassword(password)))) throw this.#noUser(name);
    await this.audit(actor, 'user.passwd', name, 'password changed; sessions ended');
  }

  async setRole(actor: Actor, name: string, role: string): Promise<void> {
    const checkedRole = this.#role(role);
    const before = await this.#store.user(name);
    if (!before || !(await this.#store.setRole(name, checkedRole))) throw this.#noUser(name);
    await this.audit(actor, 'user.role', name, `${before.role} -> ${checkedRole}`);
  }

  /**
   * Disables an account (no login; its sessions end and its tokens are refused, all kept for an
   * enable) or enables it again. An operator cannot disable themselves (no admin locks the last
   * admin out by a slip).
   */
  async setDisabled(actor: Actor, name: string, disabled: boolean): Promise<void> {
    if (disabled && actor.name === name) throw new OperatorError('BAD_REQUEST', 'you cannot disable your own account');
    const before = await this.#store.user(name);
    if (!before || !(await this.#store.setDisabled(name, disabled ? (before.disabledAt ?? this.#now()) : null))) throw this.#noUser(name);
    await this.audit(actor, disabled ? 'user.disable' : 'user.enable', name, disabled ? 'sessions ended; tokens refused' : undefined);
  }

  /**
   * Creates an API token for `userName` living `ttlMs` (null: no expiry); the token is returned
   * this once and stored hashed.
   */
  async createToken(actor: Actor, userName: string, ttlMs: number | null = DEFAULT_TOKEN_TTL_MS): Promise<{ token: string; view: TokenView }> {
    if (!(await this.#store.user(userName))) throw this.#noUser(userName);
    if (ttlMs !== null && (ttlMs < 60_000 || ttlMs > MAX_TOKEN_TTL_MS)) throw new OperatorError('BAD_REQUEST', 'a token lifetime must be 1 min–730 days');
    const token = newApiToken();
    const now = this.#now();
    const record: ApiTokenRecord = { id: `tok_${randomBytes(9).toString('base64url')}`, hash: secretHash(token), userName, createdAt: now, ...(ttlMs === null ? {} : { expiresAt: now + ttlMs }) };
    await this.#store.addApiToken(record);
    await this.audit(actor, 'token.create', userName, record.id);
    return { token, view: tokenView(record) };
  }

  async listTokens(userName?: string): Promise<TokenView[]> {
    return (await this.#store.listApiTokens(userName)).map(tokenView);
  }

  async revokeToken(actor: Actor, id: string): Promise<void> {
    if (!(await this.#store.revokeApiToken(id))) throw new OperatorError('NOT_FOUND', `no API token ${id} (see faultd hub token list)`);
    await this.audit(actor, 'token.revoke', id);
  }

  /**
   * Validates an experiment text as `faultd validate` does; throws INVALID_EXPERIMENT with its
   * lines. Returns the parsed experiment and its number of faults.
   */
  checkExperiment(text: string, name: string): { experiment: unknown; faults: number } {
    if (Buffer.byteLength(text) > MAX_EXPERIMENT_BYTES) throw new OperatorError('PAYLOAD_TOO_LARGE', `an experiment has at most ${MAX_EXPERIMENT_BYTES} bytes`);
    if (!this.#validate) throw new Error('no experiment validator configured');
    const checked = this.#validate(text, name);
    if (!checked.ok) throw new OperatorError('INVALID_EXPERIMENT', checked.lines.join('\n'), { lines: checked.lines });
    return { experiment: checked.experiment, faults: checked.faults };
  }

  /** Stores (creates or replaces) a library experiment; true when it was new. */
  async putExperiment(actor: Actor, name: string, text: string): Promise<boolean> {
    this.#experimentName(name);
    const { faults } = this.checkExperiment(text, name);
    const record: ExperimentRecord = { name, text, updatedAt: this.#now(), updatedBy: actor.name, faults };
    const created = await this.#store.putExperiment(record);
    await this.audit(actor, 'experiment.put', name, created ? 'created' : 'replaced');
    return created;
  }

  async experiment(name: string): Promise<ExperimentRecord> {
    this.#experimentName(name);
    const found = await this.#store.experiment(name);
    if (!found) throw new OperatorError('NOT_FOUND', `no experiment "${name}" in the library`);
    return found;
  }

  async listExperiments(): Promise<ExperimentRecord[]> {
    return this.#store.listExperiments();
  }

  async deleteExperiment(actor: Actor, name: string): Promise<void> {
    this.#experimentName(name);
    if (!(await this.#store.deleteExperiment(name))) throw new OperatorError('NOT_FOUND', `no experiment "${name}" in the library`);
    await this.audit(actor, 'experiment.delete', name);
  }

  #experimentName(name: string): void {
    if (!EXPERIMENT_NAME.test(name)) throw new OperatorError('BAD_REQUEST', `experiment name "${name}" must be 1–100 of A-Z, a-z, 0-9, ".", "_", "-", starting with a letter or digit`);
  }

  #role(role: string): Role {
    if (!isRole(role)) throw new OperatorError('BAD_REQUEST', `role "${role}" must be one of ${ROLES.join(', ')}`);
    return role;
  }

  #noUser(name: string): OperatorError {
    return new OperatorError('NOT_FOUND', `no operator "${name}" (see faultd hub user list)`);
  }
}
