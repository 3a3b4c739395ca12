// SPDX-License-Identifier: Apache-2.0
/**
 * The agent's access token: exchanged from the access key when first needed, refreshed once two
 * thirds of its lifetime (the hub's `ttlSeconds`, counted on CLOCK_MONOTONIC from the reply, never
 * the hub's wall-clock `expiresAt`: a step of either clock cannot make it look expired or
 * eternal) have passed, single-flight (concurrent callers share one exchange), and
 * dropped after a 401 so the next call exchanges again (`withToken` retries a call once).
 * A key rotation handed out with a token is stored atomically first, then confirmed; a crash
 * in between is harmless, because the hub accepts the new key until it is confirmed.
 * Each exchange carries the agent's identity (agent-identity.ts): when the hub answers 409
 * (the infrastructure is bound to another machine), the refusal is logged as an error once per
 * occurrence, and the exchange fails like any other, so the caller backs off and tries again,
 * and runs nothing meanwhile; a `hub infra release` lets the next try bind this agent.
 */
import { FaultdError } from '../errors.js';
import type { LogSink } from '../log-sink.js';
import { TokenReply } from '../protocol/agent-replies.js';
import { API_PREFIX } from '../protocol/constants.js';
import type { AgentIdentity, KeyConfirmRequest, TokenRequest } from '../protocol/messages.js';
import type { HubClient, HubReply } from './hub-client.js';
import { readAccessKey, writeAccessKey } from './key-file.js';
import { monotonicMs, type MonotonicClock } from '../monotonic.js';

const REFRESH_FRACTION = 2 / 3;

/**
 * The hub refuses this agent instance: another one is bound to the infrastructure (409). The
 * token source has logged it as an error; callers retrying it log the repeats at debug level.
 */
export class AgentRefusedByHub extends FaultdError {}

export interface TokenSourceOptions {
  readonly client: HubClient;
  readonly infraId: string;
  readonly keyFile: string;
  readonly logger: LogSink;
  /** This agent instance, sent with every exchange; absent: the hub cannot bind it (older agents). */
  readonly agent?: AgentIdentity;
  /** CLOCK_MONOTONIC ms (tests inject a fake). */
  readonly now?: MonotonicClock;
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
  /** The hub's message while it refuses this agent instance (409), so it is logged once. */
  #refusal: string | undefined;
  /** Exchanges so far (for tests and the status line). */
  exchanges = 0;

  constructor(options: TokenSourceOptions) {
    this.#o = options;
    this.#now = options.now ?? monotonicMs;
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
    const request: TokenRequest = { infraId: this.#o.infraId, accessKey, ...(this.#o.agent ? { agent: this.#o.agent } : {}) };
    const reply = await this.#o.client.post(`${API_PREFIX}/token`, request, TokenReply);
    if (reply.status !== 200 || !('body' in reply)) {
      const why = 'error' in reply ? reply.error : `HTTP ${reply.status}`;
      if (reply.status === 409) this.#refused(why);
      const message = `the hub refused the token exchange of infrastructure ${this.#o.infraId} (${why})`;
      const error = reply.status === 409 ? new AgentRefusedByHub('FAULTD_ERR_AGENT_AUTH', message) : new FaultdError('FAULTD_ERR_AGENT_AUTH', message);
      // The caller's retry honours the hub's Retry-After (agent.ts retryDelayMs).
      throw 'retryAfterMs' in reply && reply.retryAfterMs !== undefined ? Object.assign(error, { retryAfterMs: reply.retryAfterMs }) : error;
    }
    this.exchanges += 1;
    if (this.#refusal !== undefined) {
      this.#refusal = undefined;
      this.#o.logger.info({ infraId: this.#o.infraId, hostname: this.#o.agent?.hostname }, 'the hub accepts this agent on its infrastructure now');
    }
    const response = reply.body;
    this.#cached = { token: response.accessToken, refreshAt: this.#now() + response.ttlSeconds * 1000 * REFRESH_FRACTION };
    if (response.rotation) await this.#rotate(response.rotation, response.accessToken);
    return response.accessToken;
  }

  /** True while the hub refuses this agent instance because another one is bound (409). */
  get refused(): boolean {
    return this.#refusal !== undefined;
  }

  #refused(why: string): void {
    if (this.#refusal === why) return;
    this.#refusal = why;
    this.#o.logger.error(
      { infraId: this.#o.infraId, hostname: this.#o.agent?.hostname, agentId: this.#o.agent?.id },
      `the hub refuses this agent: ${why}. Nothing runs here until the hub accepts it; retrying with backoff`,
    );
  }

  async #rotate(rotation: NonNullable<TokenReply['rotation']>, token: string): Promise<void> {
    writeAccessKey(this.#o.keyFile, rotation.newAccessKey);
    const confirmed = await this.#o.client.post(`${API_PREFIX}/key/confirm`, { rotationId: rotation.rotationId } satisfies KeyConfirmRequest, TokenReply, token);
    if (confirmed.status === 204) {
      this.#o.logger.info({ rotationId: rotation.rotationId, keyFile: this.#o.keyFile }, 'access key rotated and confirmed');
    } else {
      // The new key is stored; the hub accepts it until confirmed, and the next exchange retries.
      this.#o.logger.warn({ rotationId: rotation.rotationId, reason: 'error' in confirmed ? confirmed.error : confirmed.status }, 'access key stored but not confirmed; will confirm with the next token');
    }
  }
}
