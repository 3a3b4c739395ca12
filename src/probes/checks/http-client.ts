// SPDX-License-Identifier: Apache-2.0
/**
 * The HTTP side of the http and prometheus checks: one undici Agent per check (a small
 * keep-alive pool, its own TLS trust) and one bounded request: headers and body within the
 * attempt's deadline, the body kept up to a limit (beyond it the request fails and the
 * connection is dropped) or drained and discarded, so the connection can be reused.
 */
import { Agent, request } from 'undici';

import { monotonicMs } from '../../monotonic.js';
import type { AttemptOutcome, ProbeCheck } from '../types.js';
import { attemptDeadline, describeError, type AttemptDeadline } from './deadline.js';

/** Most a check keeps of a response body. */
export const MAX_BODY_BYTES = 1024 * 1024;

export interface AgentTls {
  /** PEM of the CA(s) to trust instead of Node's bundled roots. */
  readonly ca?: string;
  readonly rejectUnauthorized: boolean;
}

/** A keep-alive connection per origin (an attempt cut by its deadline drops it; the next attempt opens another). */
export function createCheckAgent(tls: AgentTls): Agent {
  return new Agent({
    connections: 1,
    pipelining: 1,
    connect: { rejectUnauthorized: tls.rejectUnauthorized, ...(tls.ca === undefined ? {} : { ca: tls.ca }) },
  });
}

export interface BoundedRequest {
  readonly method: 'GET' | 'POST';
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: string;
  /** Keep the body (up to MAX_BODY_BYTES) instead of discarding it. */
  readonly keepBody: boolean;
}

export interface BoundedResponse {
  readonly statusCode: number;
  /** The body, when it was asked for. */
  readonly body?: Buffer;
  /** From sending the request to the last byte of the body (ms, monotonic). */
  readonly latencyMs: number;
}

export class BodyTooLargeError extends Error {
  constructor() {
    super(`response body larger than ${MAX_BODY_BYTES / 1024 / 1024} MiB`);
  }
}

/** Sends one request and reads its whole response within `deadline`; throws on any failure. */
export async function boundedRequest(agent: Agent, url: string, req: BoundedRequest, timeoutMs: number, deadline: AttemptDeadline): Promise<BoundedResponse> {
  const started = monotonicMs();
  const response = await request(url, {
    dispatcher: agent,
    method: req.method,
    headers: { ...req.headers },
    ...(req.body === undefined ? {} : { body: req.body }),
    signal: deadline.signal,
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
  });
  const chunks: Buffer[] = [];
  let kept = 0;
  try {
    for await (const chunk of response.body) {
      if (!req.keepBody) continue;
      const buffer = chunk as Buffer;
      kept += buffer.length;
      if (kept > MAX_BODY_BYTES) throw new BodyTooLargeError();
      chunks.push(buffer);
    }
  } catch (error) {
    response.body.destroy();
    throw error;
  }
  const latencyMs = monotonicMs() - started;
  return { statusCode: response.statusCode, latencyMs, ...(req.keepBody ? { body: Buffer.concat(chunks) } : {}) };
}

/** Why a request failed, in words: the deadline's reason, undici's own timeouts said the same way, or the error. */
export function requestFailure(error: unknown, deadline: AttemptDeadline, timeoutMs: number): string {
  const code = (error as { code?: unknown }).code;
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') return deadline.reason() ?? `timed out after ${timeoutMs} ms`;
  return deadline.reason() ?? describeError(error);
}

/**
 * A check over one undici Agent: each attempt gets a deadline (the attempt's timeout and the
 * caller's signal), a failure to exchange is a failed attempt saying why, and close() destroys
 * the Agent. `exchange` does the request and judges the response.
 */
export function agentCheck(agent: Agent, criterion: string, exchange: (timeoutMs: number, deadline: AttemptDeadline) => Promise<AttemptOutcome>): ProbeCheck {
  let closed = false;
  return {
    async attempt(timeoutMs: number, signal: AbortSignal): Promise<AttemptOutcome> {
      const started = monotonicMs();
      if (closed) return { passed: false, observed: '-', criterion, error: 'check closed', latencyMs: 0 };
      const deadline = attemptDeadline(timeoutMs, signal);
      try {
        return await exchange(timeoutMs, deadline);
      } catch (error) {
        return { passed: false, observed: '-', criterion, error: requestFailure(error, deadline, timeoutMs), latencyMs: monotonicMs() - started };
      } finally {
        deadline.dispose();
      }
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      await agent.destroy();
    },
  };
}
