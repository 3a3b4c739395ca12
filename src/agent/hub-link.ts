// SPDX-License-Identifier: Apache-2.0
/**
 * The agent's line to the hub: every call goes out with a fresh access token (token-source.ts)
 * over the one HTTP client, and every answer the hub itself gave (2xx–4xx) counts as contact
 * for the disconnect watchdog (disconnect-watchdog.ts). A 5xx, 408 or 429 does not: a proxy in
 * front of a dead hub answers those, and they must not keep a run going that has lost its
 * control plane. A failure to reach the hub throws and is not contact either. Contact times are
 * CLOCK_MONOTONIC (src/monotonic.ts), so a step of the system clock is never taken for silence.
 */
import type { Validator } from '../protocol/validator.js';

import { HubReplyError, type HubClient, type HubReply } from './hub-client.js';
import type { TokenSource } from './token-source.js';
import { monotonicMs, type MonotonicClock } from '../monotonic.js';

/** The hub answered 404 for a run: it no longer knows it, so nothing more can be sent. */
export class RunUnknownToHub extends Error {}

/** The hub refused a body for good (400, 413): resending it cannot help. */
export class RefusedByHub extends Error {}

/** Whether an answer with this status shows that the hub itself is there (see the module doc). */
export function isContact(status: number): boolean {
  return status >= 200 && status < 500 && status !== 408 && status !== 429;
}

/** Throws unless `reply.status` is one of `ok`: RunUnknownToHub on 404, RefusedByHub on 400/413. */
export function expectStatus(reply: HubReply<unknown>, ok: readonly number[]): void {
  if (ok.includes(reply.status)) return;
  const error = 'error' in reply ? reply.error : `HTTP ${reply.status}`;
  if (reply.status === 404) throw new RunUnknownToHub(error);
  if (reply.status === 400 || reply.status === 413) throw new RefusedByHub(error);
  throw HubReplyError.of(reply);
}

export class HubLink {
  readonly #client: HubClient;
  readonly #tokens: TokenSource;
  readonly #now: MonotonicClock;
  #lastContactAt: number;

  constructor(client: HubClient, tokens: TokenSource, now: MonotonicClock = monotonicMs) {
    this.#client = client;
    this.#tokens = tokens;
    this.#now = now;
    this.#lastContactAt = now();
  }

  /** When the hub last answered (CLOCK_MONOTONIC ms). */
  get lastContactAt(): number {
    return this.#lastContactAt;
  }

  /** Counts as contact (a run that just arrived starts its disconnect clock now). */
  touch(): void {
    this.#lastContactAt = this.#now();
  }

  /** POSTs `body`; a 200 body is validated with `schema`. */
  async post<T>(route: string, body: unknown, schema: Validator<T>): Promise<HubReply<T>> {
    const reply = await this.#tokens.withToken((token) => this.#client.post(route, body, schema, token));
    if (isContact(reply.status)) this.touch();
    return reply;
  }

  /** GETs `route`, a call the hub may hold for up to `waitMs`; `signal` cancels it. */
  async get<T>(route: string, schema: Validator<T>, waitMs: number, signal?: AbortSignal): Promise<HubReply<T>> {
    const reply = await this.#tokens.withToken((token) => this.#client.get(route, schema, token, waitMs, signal));
    if (isContact(reply.status)) this.touch();
    return reply;
  }
}
