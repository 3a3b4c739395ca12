// SPDX-License-Identifier: Apache-2.0
/**
 * The agent's HTTP client of the hub: one keep-alive connection pool (http-transport.ts) that
 * trusts the configured CA, optionally pins the hub's certificate (SHA-256 fingerprint, checked on top of the normal
 * hostname verification) and presents a client certificate. Plain `http://` only with
 * `insecure` (config `hub.insecure: true`), and never with TLS settings. Bodies in and out are
 * validated with the protocol's schemas (zod, or the zod-free checks of agent-replies.ts).
 */
import { isIP } from 'node:net';
import { checkServerIdentity, connect as tlsConnect, type PeerCertificate } from 'node:tls';

import { FaultdError, messageOf } from '../errors.js';
import { ErrorReply } from '../protocol/agent-replies.js';
import type { Validator } from '../protocol/validator.js';
import { HttpTransport } from './http-transport.js';
import type { HubProxy } from '../net/hub-proxy.js';

export interface HubConnection {
  readonly url: string;
  readonly caPem?: string;
  /** Hex SHA-256 of the hub's leaf certificate, colons optional. */
  readonly pinSha256?: string;
  readonly clientCert?: { readonly cert: string; readonly key: string };
  /** Bound on connecting and on each wait for data (hub.requestTimeout; 10 s by default). */
  readonly timeoutMs?: number;
  /** The forward proxy every connection tunnels through (net/hub-proxy.ts chose it). */
  readonly proxy?: HubProxy;
  /** Allows an `http://` URL: the access key and tokens cross the network unencrypted. */
  readonly insecure?: boolean;
}

export type HubReply<T> =
  | { readonly status: 200; readonly body: T }
  | { readonly status: 204 }
  | { readonly status: number; readonly error: string; readonly retryAfterMs?: number };

/** An answer other than the one expected, as an error; it keeps the hub's `Retry-After`. */
export class HubReplyError extends Error {
  readonly status: number;
  readonly retryAfterMs: number | undefined;

  constructor(status: number, message: string, retryAfterMs?: number) {
    super(message);
    this.status = status;
    this.retryAfterMs = retryAfterMs;
  }

  static of(reply: HubReply<unknown>): HubReplyError {
    return 'error' in reply ? new HubReplyError(reply.status, reply.error, reply.retryAfterMs) : new HubReplyError(reply.status, `HTTP ${reply.status}`);
  }
}

/** `Retry-After` in ms: delay-seconds or an HTTP date (RFC 9110 §10.2.3); undefined if absent or unreadable. */
export function parseRetryAfter(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  if (text === undefined || text.trim() === '') return undefined;
  if (/^\d+$/.test(text.trim())) return Number(text.trim()) * 1000;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** Bound on connecting and on each wait for data, unless the connection sets its own. */
const REQUEST_TIMEOUT_MS = 10_000;

const normalizePin = (pin: string): string => pin.replaceAll(':', '').toUpperCase();

const errorCode = (error: unknown): string | undefined => (error as { code?: string }).code ?? (error as { cause?: { code?: string } }).cause?.code;

/** How long the check whether an `http://` hub speaks TLS may take. */
const TLS_PROBE_MS = 2000;

/** True when `url`'s host answers a TLS handshake (certificate not checked; no request is sent). */
function speaksTls(url: URL): Promise<boolean> {
  return new Promise((resolve) => {
    const host = url.hostname.replace(/^\[|\]$/g, '');
    const socket = tlsConnect({ host, port: Number(url.port || 80), rejectUnauthorized: false, timeout: TLS_PROBE_MS, ...(isIP(host) ? {} : { servername: host }) });
    const done = (tls: boolean) => () => {
      socket.destroy();
      resolve(tls);
    };
    socket.once('secureConnect', done(true)).once('error', done(false)).once('timeout', done(false));
  });
}

/** Refuses `http://` without `insecure`, and TLS settings next to an `http://` URL. */
function assertTransport(url: URL, connection: HubConnection): void {
  if (url.protocol !== 'http:') return;
  if (!connection.insecure) {
    throw new FaultdError('FAULTD_ERR_AGENT_CONFIG', `hub.url ${url.origin} is plain http://: the access key and tokens would cross the network unencrypted. Use https://, or set hub.insecure: true (tests only)`);
  }
  const tls = [connection.caPem && 'caFile', connection.pinSha256 && 'pinSha256', connection.clientCert && 'clientCertFile'].filter(Boolean);
  if (tls.length) throw new FaultdError('FAULTD_ERR_AGENT_CONFIG', `hub.url ${url.origin} is plain http://, so ${tls.join(', ')} would be ignored: use https://, or drop them`);
}

export class HubClient {
  readonly #transport: HttpTransport;
  readonly #url: URL;
  /** A held call (long-poll) may take its wait plus this before it counts as hung. */
  readonly #heldCallSlackMs: number;
  readonly #proxied: boolean;

  constructor(connection: HubConnection) {
    this.#url = new URL(connection.url);
    assertTransport(this.#url, connection);
    const pin = connection.pinSha256 === undefined ? undefined : normalizePin(connection.pinSha256);
    const timeout = connection.timeoutMs ?? REQUEST_TIMEOUT_MS;
    this.#heldCallSlackMs = timeout;
    this.#proxied = connection.proxy !== undefined;
    this.#transport = new HttpTransport(this.#url, {
      timeoutMs: timeout,
      ...(connection.proxy ? { proxy: connection.proxy.url } : {}),
      ...(connection.caPem ? { ca: connection.caPem } : {}),
      ...(connection.clientCert ? { cert: connection.clientCert.cert, key: connection.clientCert.key } : {}),
      ...(pin
        ? {
            checkServerIdentity: (host: string, cert: PeerCertificate): Error | undefined => {
              const identity = checkServerIdentity(host, cert);
              if (identity) return identity;
              const got = normalizePin(cert.fingerprint256);
              return got === pin ? undefined : Object.assign(new Error(`the hub's certificate fingerprint ${cert.fingerprint256} does not match the configured pinSha256`), { code: 'ERR_FAULTD_PIN_MISMATCH' });
            },
          }
        : {}),
    });
  }

  /** POSTs `body` to `route`; 200 bodies are validated with `schema`. Network and TLS failures throw. */
  async post<T>(route: string, body: unknown, schema: Validator<T>, token?: string): Promise<HubReply<T>> {
    let response;
    try {
      response = await this.#transport.send({
        method: 'POST',
        path: route,
        headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
        body: JSON.stringify(body),
      });
    } catch (error) {
      const code = errorCode(error);
      const tls = code !== undefined && /CERT|SIGNATURE|PIN|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS/.test(code);
      const plain = tls ? undefined : await this.#plainHttpAtTls(error);
      throw new FaultdError(tls ? 'FAULTD_ERR_AGENT_AUTH' : 'FAULTD_ERR_AGENT_UNREACHABLE', `${route}: ${plain ?? `${tls ? "the hub's TLS identity did not verify" : 'the hub is unreachable'} (${code ?? messageOf(error)}: ${messageOf(error)})`}`, { cause: error });
    }
    return this.#reply(route, response.statusCode, response.text, schema, parseRetryAfter(response.headers['retry-after']));
  }

  /**
   * Why a request to an `http://` URL failed when the hub speaks TLS (a TLS server drops a
   * plain HTTP request without an answer: "other side closed"), or undefined.
   */
  async #plainHttpAtTls(error: unknown): Promise<string | undefined> {
    const code = errorCode(error);
    // Through a proxy the probe would go around it: the tunnel's own error says enough.
    if (this.#proxied || this.#url.protocol !== 'http:' || (code !== 'UND_ERR_SOCKET' && code !== 'ECONNRESET' && code !== 'HPE_INVALID_CONSTANT') || !(await speaksTls(this.#url))) return undefined;
    return `the hub at ${this.#url.host} speaks TLS, but hub.url says http://: use https://${this.#url.host}`;
  }

  #reply<T>(route: string, status: number, text: string, schema: Validator<T>, retryAfterMs: number | undefined): HubReply<T> {
    if (status === 204) return { status: 204 };
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    if (status === 200) {
      const parsed = schema.safeParse(json);
      if (!parsed.success) throw new FaultdError('FAULTD_ERR_AGENT_PROTOCOL', `${route}: the hub's answer does not match the protocol: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
      return { status: 200, body: parsed.data };
    }
    const error = ErrorReply.safeParse(json);
    return { status, error: error.success ? `${error.data.error.code}: ${error.data.error.message}` : `HTTP ${status}`, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) };
  }

  /** GETs `route` (a long-poll may take `waitMs`); 200 bodies validated with `schema`; `signal` cancels. */
  async get<T>(route: string, schema: Validator<T>, token: string, waitMs: number, signal?: AbortSignal): Promise<HubReply<T>> {
    let response;
    try {
      response = await this.#transport.send({
        method: 'GET',
        path: route,
        headers: { authorization: `Bearer ${token}` },
        answerTimeoutMs: waitMs + this.#heldCallSlackMs,
        ...(signal ? { signal } : {}),
      });
    } catch (error) {
      const plain = signal?.aborted ? undefined : await this.#plainHttpAtTls(error);
      throw new FaultdError('FAULTD_ERR_AGENT_UNREACHABLE', `${route}: ${plain ?? `the hub is unreachable (${messageOf(error)})`}`, { cause: error });
    }
    return this.#reply(route, response.statusCode, response.text, schema, parseRetryAfter(response.headers['retry-after']));
  }

  close(): Promise<void> {
    return this.#transport.close();
  }
}
