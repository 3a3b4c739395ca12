// SPDX-License-Identifier: Apache-2.0
/**
 * Who is calling the operator API: console sessions (password login, cookie, CSRF token) and
 * API tokens (`fdo_…`, Bearer). Session ids and tokens carry 256 bits of entropy and are
 * stored as SHA-256 hashes; a session ends at its expiry or after `idleMs` without a call.
 * Failed logins are counted per operator name and per remote address in the store, so hub
 * replicas on one database share the limits; on top, each process limits all login attempts per
 * address in memory (a flood is refused before any database or scrypt work). An unknown name
 * and a wrong password get the same answer after the same work (one scrypt either way).
 */
import { createHash, randomBytes } from 'node:crypto';

import { verifyPassword } from './passwords.js';
import { OperatorError } from './operator-error.js';
import type { OperatorStore, UserRecord } from './operator-store.js';
import { RateLimiter } from './rate-limit.js';
import type { Role } from './roles.js';

export const API_TOKEN_PREFIX = 'fdo_';
export const SESSION_COOKIE = 'faultd_session';

export interface Operator {
  readonly name: string;
  readonly role: Role;
}

export interface AuthOptions {
  /** A session ends this long after login (default 12 h). */
  readonly sessionTtlMs: number;
  /** … or after this long without a call (default 30 min). */
  readonly idleMs: number;
  /** Login attempts per remote address, window and hub process (in memory; default 30 per 5 min). */
  readonly attemptsPerAddress: number;
  /** Failed logins per operator name and window, across every hub on the database (default 8 per 5 min). */
  readonly failuresPerName: number;
  /** Failed logins per remote address and window, across every hub on the database (default 30 per 5 min). */
  readonly failuresPerAddress: number;
  readonly windowMs: number;
  /** Addresses tracked by the in-memory limiter at most. */
  readonly maxTrackedKeys: number;
  readonly now: () => number;
}

export const DEFAULT_AUTH_OPTIONS: Omit<AuthOptions, 'now'> = {
  sessionTtlMs: 12 * 3600_000,
  idleMs: 30 * 60_000,
  attemptsPerAddress: 30,
  failuresPerName: 8,
  failuresPerAddress: 30,
  windowMs: 5 * 60_000,
  maxTrackedKeys: 10_000,
};

/** A session's or token's store row is touched at most this often (not on every call). */
const TOUCH_EVERY_MS = 60_000;

export function secretHash(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

export function newApiToken(): string {
  return `${API_TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
}

export interface LoginResult {
  readonly operator: Operator;
  /** The cookie's value: the session id, never stored. */
  readonly sessionId: string;
  readonly csrfToken: string;
  readonly expiresAt: number;
}

export interface SessionView {
  readonly operator: Operator;
  readonly csrfToken: string;
  readonly idHash: string;
}

export class OperatorAuth {
  readonly #store: OperatorStore;
  readonly #options: AuthOptions;
  readonly #byAddress: RateLimiter;

  constructor(store: OperatorStore, options: Partial<AuthOptions> & Pick<AuthOptions, 'now'>) {
    this.#store = store;
    this.#options = { ...DEFAULT_AUTH_OPTIONS, ...options };
    const { windowMs, maxTrackedKeys: maxKeys, now } = this.#options;
    this.#byAddress = new RateLimiter({ limit: this.#options.attemptsPerAddress, windowMs, maxKeys, now });
  }

  /** The shared failure counters: each subject with its limit. */
  #failureSubjects(name: string, remote: string): { subject: string; limit: number }[] {
    return [
      { subject: `name:${name}`, limit: this.#options.failuresPerName },
      { subject: `address:${remote}`, limit: this.#options.failuresPerAddress },
    ];
  }

  /** Milliseconds until the shared failure limits allow the next attempt (0: now). */
  async #sharedWaitMs(name: string, remote: string): Promise<number> {
    let wait = 0;
    const now = this.#options.now();
    for (const { subject, limit } of this.#failureSubjects(name, remote)) {
      const window = await this.#store.loginFailures(subject, now - this.#options.windowMs);
      if (window && window.failures >= limit) wait = Math.max(wait, 1, window.windowStart + this.#options.windowMs - now);
    }
    return wait;
  }

  /**
   * Checks a password login from `remote`. Throws OperatorError RATE_LIMITED (before any
   * password work) or UNAUTHENTICATED (the same message for an unknown name and a wrong password).
   */
  async login(name: string, password: string, remote: string): Promise<LoginResult> {
    const user = await this.#verify(name, password, remote);
    return this.startSession(user.name);
  }

  /**
   * Checks an operator's password as a login does (the same limits, the same refusals), for a
   * call that needs the current password (changing one's own). Throws as login does.
   */
  async checkPassword(name: string, password: string, remote: string): Promise<void> {
    await this.#verify(name, password, remote);
  }

  async #verify(name: string, password: string, remote: string): Promise<UserRecord> {
    // The in-memory flood limit first: no database call for an address over it.
    const wait = this.#byAddress.retryAfterMs(remote) || (await this.#sharedWaitMs(name, remote));
    if (wait > 0) {
      const seconds = Math.ceil(wait / 1000);
      throw new OperatorError('RATE_LIMITED', `too many login attempts; try again in ${seconds} s`, { retryAfterSeconds: seconds });
    }
    this.#byAddress.record(remote);
    const user = await this.#store.user(name);
    const ok = await verifyPassword(password, user?.passwordHash);
    // A disabled account is refused as a wrong password is: the same answer after the same work.
    if (!ok || !user || user.disabledAt !== undefined) {
      const now = this.#options.now();
      for (const { subject } of this.#failureSubjects(name, remote)) await this.#store.recordLoginFailure(subject, now, now - this.#options.windowMs);
      throw new OperatorError('UNAUTHENTICATED', 'wrong operator name or password');
    }
    await this.#store.clearLoginFailures(`name:${name}`);
    return user;
  }

  /** A new console session for operator `name` (after a checked password). */
  async startSession(name: string): Promise<LoginResult> {
    const user = await this.#store.user(name);
    if (!user || user.disabledAt !== undefined) throw new OperatorError('UNAUTHENTICATED', 'wrong operator name or password');
    const now = this.#options.now();
    await this.#store.pruneSessions(now, now - this.#options.idleMs);
    const sessionId = randomBytes(32).toString('base64url');
    const csrfToken = randomBytes(24).toString('base64url');
    const expiresAt = now + this.#options.sessionTtlMs;
    await this.#store.addSession({ idHash: secretHash(sessionId), userName: user.name, csrfToken, createdAt: now, expiresAt, lastSeenAt: now });
    await this.#store.recordLogin(user.name, now);
    return { operator: { name: user.name, role: user.role }, sessionId, csrfToken, expiresAt };
  }

  /** The live session for a cookie value, with its operator's current role; undefined when none. */
  async session(sessionId: string): Promise<SessionView | undefined> {
    const idHash = secretHash(sessionId);
    const session = await this.#store.session(idHash);
    if (!session) return undefined;
    const now = this.#options.now();
    if (session.expiresAt <= now || session.lastSeenAt <= now - this.#options.idleMs) {
      await this.#store.deleteSession(idHash);
      return undefined;
    }
    const user = await this.#store.user(session.userName);
    if (!user || user.disabledAt !== undefined) return undefined;
    // Often enough that the idle timeout is measured to a tenth of itself.
    if (now - session.lastSeenAt >= Math.min(TOUCH_EVERY_MS, this.#options.idleMs / 10)) await this.#store.touchSession(idHash, now);
    return { operator: { name: user.name, role: user.role }, csrfToken: session.csrfToken, idHash };
  }

  async logout(idHash: string): Promise<void> {
    await this.#store.deleteSession(idHash);
  }

  /** The operator an API token belongs to, if it is known and not expired. */
  async token(token: string): Promise<Operator | undefined> {
    if (!token.startsWith(API_TOKEN_PREFIX)) return undefined;
    const hash = secretHash(token);
    const record = await this.#store.apiToken(hash);
    const now = this.#options.now();
    if (!record || (record.expiresAt !== undefined && record.expiresAt <= now)) return undefined;
    const user = await this.#store.user(record.userName);
    if (!user || user.disabledAt !== undefined) return undefined;
    if (record.lastUsed === undefined || now - record.lastUsed >= TOUCH_EVERY_MS) await this.#store.touchApiToken(hash, now);
    return { name: user.name, role: user.role };
  }
}
