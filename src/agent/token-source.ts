// SPDX-License-Identifier: Apache-2.0
/**
 * The agent's access token: exchanged from the access key when first needed, refreshed once two
 * thirds of its lifetime have passed, single-flight (concurrent callers share one exchange), and
 * dropped after a 401 so the next call exchanges again (`withToken` retries a call once).
 * A key rotation handed out with a token is stored atomically first, then confirmed; a crash
 * in between is harmless, because the hub accepts the new key until it is confirmed.
 */
import type { Logger } from 'pino';

import { FaultdError } from '../errors.js';
import { API_PREFIX, KeyConfirmRequest, TokenResponse } from '../protocol/messages.js';
import type { HubClient, HubReply } from './hub-client.js';
import { readAccessKey, writeAccessKey } from './key-file.js';

const REFRESH_FRACTION = 2 / 3;

export interface TokenSourceOptions {
  readonly client: HubClient;
  readonly infraId: string;
  readonly keyFile: string;
  readonly logger: Logger;
  readonly now?: () => number;
}

interface Cached {
  readonly token: string;
  readonly refreshAt: number;
}

export class TokenSource {
  readonly #o: TokenSourceOptions;
  readonly #now: () => number;
  #cached: Cached | undefined;
  #inFlight: Promise<string> | undefined;
  /** Exchanges so far (for tests and the status line). */
  exchanges = 0;

  constructor(options: TokenSourceOptions) {
    this.#o = options;
    this.#now = options.now ?? (() => Date.now());
  }

  /** A valid token, exchanging (once, shared) when there is none or it is due for refresh. */
  token(): Promise<string> {
    const cached = this.#cached;
    if (cached && this.#now() < cached.refreshAt) return Promise.resolve(cached.token);
    this.#inFlight ??= this.#exchange().finally(() => (this.#inFlight = undefined));
    return this.#inFlight;
  }

  /** Forgets the token (after a 401). */
  invalidate(): void {
    this.#cached = undefined;
  }

  /** Runs `call` with a token; on a 401, exchanges a new token and tries once more. */
  async withToken<T>(call: (token: string) => Promise<HubReply<T>>): Promise<HubReply<T>> {
    const first = await call(await this.token());
    if (first.status !== 401) return first;
    this.invalidate();
    return call(await this.token());
  }

  async #exchange(): Promise<string> {
    const accessKey = readAccessKey(this.#o.keyFile);
    const reply = await this.#o.client.post(`${API_PREFIX}/token`, { infraId: this.#o.infraId, accessKey }, TokenResponse);
    if (reply.status !== 200 || !('body' in reply)) {
      const why = 'error' in reply ? reply.error : `HTTP ${reply.status}`;
      const error = new FaultdError('FAULTD_ERR_AGENT_AUTH', `the hub refused the token exchange of infrastructure ${this.#o.infraId} (${why})`);
      // The caller's retry honours the hub's Retry-After (agent.ts retryDelayMs).
      throw 'retryAfterMs' in reply && reply.retryAfterMs !== undefined ? Object.assign(error, { retryAfterMs: reply.retryAfterMs }) : error;
    }
    this.exchanges += 1;
    const response = reply.body;
    this.#cached = { token: response.accessToken, refreshAt: this.#now() + response.ttlSeconds * 1000 * REFRESH_FRACTION };
    if (response.rotation) await this.#rotate(response.rotation, response.accessToken);
    return response.accessToken;
  }

  async #rotate(rotation: NonNullable<TokenResponse['rotation']>, token: string): Promise<void> {
    writeAccessKey(this.#o.keyFile, rotation.newAccessKey);
    const confirmed = await this.#o.client.post(`${API_PREFIX}/key/confirm`, { rotationId: rotation.rotationId } satisfies KeyConfirmRequest, TokenResponse, token);
    if (confirmed.status === 204) {
      this.#o.logger.info({ rotationId: rotation.rotationId, keyFile: this.#o.keyFile }, 'access key rotated and confirmed');
    } else {
      // The new key is stored; the hub accepts it until confirmed, and the next exchange retries.
      this.#o.logger.warn({ rotationId: rotation.rotationId, reason: 'error' in confirmed ? confirmed.error : confirmed.status }, 'access key stored but not confirmed; will confirm with the next token');
    }
  }
}
