// SPDX-License-Identifier: Apache-2.0
/**
 * The agent's HTTP(S) transport: one keep-alive `node:https` (or, with `insecure`, `node:http`)
 * agent for the hub's origin, a request that resolves with the status, headers and body text,
 * and bounds on every wait (connect and answer, then the body).
 *
 * Why not undici, which the hub client first used: the agent makes a few small requests a
 * minute, one or two at a time, and needs neither pipelining nor HTTP/2, while undici (with
 * its WASM HTTP parser) costs an idle agent about 19 MiB of resident memory against about
 * 3 MiB for Node's own client (`npm run bench`, "What each module costs"). The hub test
 * helpers and the fleet bench still drive the hub with undici, as a second client. For the same
 * reason a forward proxy is reached with Node's own CONNECT (proxy-tunnel.ts), not undici's ProxyAgent.
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { PeerCertificate } from 'node:tls';

import { TunnelHttpAgent, TunnelHttpsAgent } from './proxy-tunnel.js';

export interface TransportOptions {
  /** PEM of the CA that signs the hub's certificate (the system's CAs otherwise). */
  readonly ca?: string;
  /** A client certificate and key, for hubs that require mutual TLS. */
  readonly cert?: string;
  readonly key?: string;
  /** Extra verification of the hub's certificate (e.g. a pin), after the usual host name check. */
  readonly checkServerIdentity?: (host: string, cert: PeerCertificate) => Error | undefined;
  /** Bound on connecting and on each wait for data. */
  readonly timeoutMs: number;
  /** An HTTP forward proxy (`http://host:port`): every connection is a CONNECT tunnel through it. */
  readonly proxy?: string;
}

export interface TransportRequest {
  readonly method: 'GET' | 'POST';
  /** Path and query, appended to the hub URL (e.g. `/v1/heartbeat`). */
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: string;
  /** How long the hub may take to answer (a held call takes longer than the default timeout). */
  readonly answerTimeoutMs?: number;
  readonly signal?: AbortSignal;
}

export interface TransportResponse {
  readonly statusCode: number;
  readonly headers: IncomingHttpHeaders;
  readonly text: string;
}

/** The largest answer body read from the hub (its answers are small JSON documents). */
const MAX_BODY_BYTES = 4 * 2 ** 20;
/** Idle keep-alive sockets are reused for this long (heartbeats come every 10 s by default). */
const KEEP_ALIVE_MS = 60_000;

/** A timeout as an error with a stable code, as a socket error would carry. */
function timeoutError(what: string, ms: number): Error {
  return Object.assign(new Error(`no ${what} from the hub within ${ms} ms`), { code: 'ETIMEDOUT' });
}

export class HttpTransport {
  readonly #origin: URL;
  /** The hub URL without its trailing slash: request paths are appended (a path prefix stays). */
  readonly #base: string;
  readonly #agent: HttpAgent;
  readonly #timeoutMs: number;
  readonly #request: typeof httpRequest;

  constructor(origin: URL, options: TransportOptions) {
    this.#origin = origin;
    this.#base = origin.href.replace(/\/$/, '');
    this.#timeoutMs = options.timeoutMs;
    const common = { keepAlive: true, keepAliveMsecs: 1000, timeout: KEEP_ALIVE_MS, scheduling: 'lifo' as const };
    const tunnel = options.proxy === undefined ? undefined : { proxyUrl: options.proxy, timeoutMs: options.timeoutMs };
    if (origin.protocol === 'https:') {
      const tls = {
        ...common,
        ...(options.ca ? { ca: options.ca } : {}),
        ...(options.cert ? { cert: options.cert } : {}),
        ...(options.key ? { key: options.key } : {}),
        ...(options.checkServerIdentity ? { checkServerIdentity: options.checkServerIdentity } : {}),
      };
      this.#agent = tunnel ? new TunnelHttpsAgent(tls, tunnel) : new HttpsAgent(tls);
      this.#request = httpsRequest;
    } else {
      this.#agent = tunnel ? new TunnelHttpAgent(common, tunnel) : new HttpAgent(common);
      this.#request = httpRequest;
    }
  }

  /** Sends one request; rejects on a network, TLS or timeout failure (the error's `code` says which). */
  send(request: TransportRequest): Promise<TransportResponse> {
    const answerMs = request.answerTimeoutMs ?? this.#timeoutMs;
    return new Promise<TransportResponse>((resolve, reject) => {
      const req = this.#request(new URL(`${this.#base}${request.path}`), {
        method: request.method,
        agent: this.#agent,
        headers: { ...request.headers, ...(request.body === undefined ? {} : { 'content-length': String(Buffer.byteLength(request.body)) }) },
        ...(request.signal ? { signal: request.signal } : {}),
      });
      // Connecting (TCP and TLS) and the answer each have their bound; a silent peer cannot hang us.
      let timer = setTimeout(() => req.destroy(timeoutError('connection', this.#timeoutMs)), this.#timeoutMs);
      const rearm = (ms: number, what: string): void => {
        clearTimeout(timer);
        timer = setTimeout(() => req.destroy(timeoutError(what, ms)), ms);
      };
      req.once('socket', (socket) => {
        const connected = (): void => rearm(answerMs, 'answer');
        if (!socket.connecting) connected();
        else socket.once(this.#origin.protocol === 'https:' ? 'secureConnect' : 'connect', connected);
      });
      req.once('response', (response: IncomingMessage) => {
        rearm(this.#timeoutMs, 'body');
        const chunks: Buffer[] = [];
        let bytes = 0;
        response.on('data', (chunk: Buffer) => {
          bytes += chunk.length;
          if (bytes > MAX_BODY_BYTES) {
            req.destroy(Object.assign(new Error(`the hub's answer is larger than ${MAX_BODY_BYTES} bytes`), { code: 'EMSGSIZE' }));
            return;
          }
          chunks.push(chunk);
          rearm(this.#timeoutMs, 'body');
        });
        response.once('end', () => {
          clearTimeout(timer);
          resolve({ statusCode: response.statusCode ?? 0, headers: response.headers, text: Buffer.concat(chunks).toString('utf8') });
        });
        response.once('error', (error) => {
          clearTimeout(timer);
          reject(error);
        });
      });
      req.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
      req.end(request.body);
    });
  }

  /** Closes the kept connections; requests still open fail. */
  close(): Promise<void> {
    this.#agent.destroy();
    return Promise.resolve();
  }
}
