// SPDX-License-Identifier: Apache-2.0
/**
 * A tunnel to the hub through an HTTP forward proxy: `CONNECT host:port` (RFC 9110 §9.3.6), and
 * on a 2xx answer the proxy's socket, which from then on carries the agent's bytes to the hub
 * unchanged. The TLS handshake with the hub (CA, pin, client certificate) runs over that socket,
 * so the proxy sees only the tunnel's endpoints. Bounded by `timeoutMs` from connecting to the
 * proxy to its answer (and then the TLS handshake by as much again). The two keep-alive pools
 * below make every connection of http-transport.ts such a tunnel.
 */
import type { Duplex } from 'node:stream';
import { Agent as HttpAgent, request as httpRequest, type AgentOptions as HttpAgentOptions, type ClientRequestArgs } from 'node:http';
import { Agent as HttpsAgent, type AgentOptions as HttpsAgentOptions, type RequestOptions as HttpsRequestOptions } from 'node:https';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';

/** How much of a refusing proxy's answer goes into the error (a proxy's error page). */
const MAX_REFUSAL_TEXT = 200;

export interface TunnelTarget {
  /** The hub's host as in its URL (an IPv6 address without brackets). */
  readonly host: string;
  readonly port: number;
}

const tunnelError = (message: string, code: string): Error => Object.assign(new Error(message), { code });

/** Opens a tunnel to `target` through the proxy at `proxyUrl` (`http://host:port`). */
export function openTunnel(proxyUrl: string, target: TunnelTarget, timeoutMs: number): Promise<Socket> {
  const proxy = new URL(proxyUrl);
  const authority = target.host.includes(':') ? `[${target.host}]:${target.port}` : `${target.host}:${target.port}`;
  return new Promise<Socket>((resolve, reject) => {
    const req = httpRequest({
      host: proxy.hostname.replace(/^\[|\]$/g, ''),
      port: Number(proxy.port),
      method: 'CONNECT',
      path: authority,
      headers: { host: authority },
      agent: false,
    });
    const timer = setTimeout(() => req.destroy(tunnelError(`the proxy ${proxy.host} did not open a tunnel to ${authority} within ${timeoutMs} ms`, 'ETIMEDOUT')), timeoutMs);
    req.once('connect', (response, socket, head) => {
      clearTimeout(timer);
      const status = response.statusCode ?? 0;
      if (status < 200 || status > 299) {
        const text = head.toString('utf8', 0, Math.min(head.length, MAX_REFUSAL_TEXT)).replace(/\s+/g, ' ').trim();
        socket.destroy();
        reject(tunnelError(`the proxy ${proxy.host} answered ${status}${response.statusMessage ? ` ${response.statusMessage}` : ''} to CONNECT ${authority}${text ? `: ${text}` : ''}`, 'ERR_FAULTD_PROXY_REFUSED'));
        return;
      }
      // Bytes the proxy sent after its answer belong to the hub's side of the tunnel.
      if (head.length > 0) socket.unshift(head);
      resolve(socket);
    });
    req.once('response', (response) => {
      // A proxy that answers CONNECT without switching to a tunnel (e.g. 407 with a body).
      clearTimeout(timer);
      response.resume();
      req.destroy();
      reject(tunnelError(`the proxy ${proxy.host} answered ${response.statusCode ?? 0} to CONNECT ${authority}`, 'ERR_FAULTD_PROXY_REFUSED'));
    });
    req.once('error', (error: Error & { code?: string }) => {
      clearTimeout(timer);
      reject(Object.assign(new Error(`the proxy ${proxy.host} (CONNECT ${authority}): ${error.message}`), { code: error.code ?? 'ERR_FAULTD_PROXY', cause: error }));
    });
    req.end();
  });
}

type Created = (error: Error | null, stream: Duplex) => void;

const targetOf = (options: ClientRequestArgs): TunnelTarget => ({
  host: (options.host ?? options.hostname ?? 'localhost').replace(/^\[|\]$/g, ''),
  port: Number(options.port),
});

/** A proxy and the bound on opening a tunnel (and, for TLS, its handshake with the hub). */
export interface TunnelSettings {
  readonly proxyUrl: string;
  readonly timeoutMs: number;
}

/** A keep-alive pool whose connections to an http:// hub are tunnels through the proxy. */
export class TunnelHttpAgent extends HttpAgent {
  readonly #tunnel: TunnelSettings;

  constructor(options: HttpAgentOptions, tunnel: TunnelSettings) {
    super(options);
    this.#tunnel = tunnel;
  }

  override createConnection(options: ClientRequestArgs, callback?: Created): Duplex | null | undefined {
    openTunnel(this.#tunnel.proxyUrl, targetOf(options), this.#tunnel.timeoutMs).then(
      (socket) => callback?.(null, socket),
      (error: unknown) => callback?.(error as Error, undefined as unknown as Duplex),
    );
    return undefined;
  }
}

/**
 * A keep-alive pool whose connections to an https:// hub are TLS over a tunnel through the
 * proxy: the agent's own TLS options (CA, pin check, client certificate, server name) apply to
 * the hub's handshake; a connection is handed over once that handshake verified.
 */
export class TunnelHttpsAgent extends HttpsAgent {
  readonly #tunnel: TunnelSettings;

  constructor(options: HttpsAgentOptions, tunnel: TunnelSettings) {
    super(options);
    this.#tunnel = tunnel;
  }

  override createConnection(options: HttpsRequestOptions, callback?: Created): Duplex | null | undefined {
    const { timeoutMs } = this.#tunnel;
    openTunnel(this.#tunnel.proxyUrl, targetOf(options), timeoutMs).then(
      (socket) => {
        // https.Agent hands its options to tls.connect, whose `socket` runs TLS over the tunnel.
        const tls = super.createConnection({ ...options, socket } as HttpsRequestOptions) as TLSSocket;
        const timer = setTimeout(() => tls.destroy(tunnelError(`no TLS handshake with the hub through the proxy within ${timeoutMs} ms`, 'ETIMEDOUT')), timeoutMs);
        const failed = (error: Error): void => {
          clearTimeout(timer);
          tls.destroy();
          callback?.(error, undefined as unknown as Duplex);
        };
        tls.once('error', failed);
        tls.once('secureConnect', () => {
          clearTimeout(timer);
          tls.off('error', failed);
          callback?.(null, tls);
        });
      },
      (error: unknown) => callback?.(error as Error, undefined as unknown as Duplex),
    );
    return undefined;
  }
}
