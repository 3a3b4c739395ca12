// SPDX-License-Identifier: Apache-2.0
/**
 * The hub's HTTP API (docs/protocol.openapi.yaml): HTTPS by default, plain HTTP only when asked
 * (and loudly logged). Every body is validated with the protocol's zod schemas; unknown fields
 * are ignored, a missing or malformed one is a 400 naming the field. Bearer tokens are checked
 * on every call but the token exchange. Bodies are bounded in size and in nesting depth.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { TLSSocket } from 'node:tls';

import type { Logger } from 'pino';
import type { z } from 'zod';

import {
  API_PREFIX,
  type AbortResponse,
  HeartbeatRequest,
  KeyConfirmRequest,
  LogsRequest,
  MAX_TASK_WAIT_SECONDS,
  PROTOCOL_ERRORS,
  ResultRequest,
  StatusRequest,
  type StatusResponse,
  TokenRequest,
  type ProtocolErrorCode,
} from '../protocol/messages.js';
import { AgentBindingConflict } from './agent-binding.js';
import { readBoundedJson } from './json-body.js';
import { consoleHandler, isConsolePath } from './console-assets.js';
import { isOperatorApiPath, type OperatorApi } from './operators/api.js';
import { phasedWaitMs, phaseOf } from './poll-phase.js';
import { RunCallError, type HubService } from './service.js';
import { monotonicMs } from '../monotonic.js';
import { Wakeable } from './wakeable.js';

/** Idle connections stay open this long (agents heartbeat every 10 s by default). */
const KEEP_ALIVE_MS = 75_000;
/** Pending connections the kernel queues for the hub (capped by net.core.somaxconn). */
const LISTEN_BACKLOG = 4096;

const MAX_BODY_BYTES = 256 * 1024;

class HttpError extends Error {
  readonly code: ProtocolErrorCode;

  constructor(code: ProtocolErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

function send(res: ServerResponse, status: number, body?: unknown): void {
  if (body === undefined) {
    res.writeHead(status).end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }).end(text);
}

const readJson = (req: IncomingMessage): Promise<unknown> => readBoundedJson(req, MAX_BODY_BYTES, (code, message) => new HttpError(code, message));

function parse<T>(schema: z.ZodType<T>, value: unknown): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const problems = result.error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`);
  throw new HttpError('BAD_REQUEST', problems.join('; '));
}

async function bearer(req: IncomingMessage, service: HubService): Promise<string> {
  const header = req.headers.authorization ?? '';
  const token = /^Bearer (\S+)$/.exec(header)?.[1];
  const infraId = token ? await service.authenticate(token) : undefined;
  if (!infraId) throw new HttpError('UNAUTHORIZED', token ? 'the access token is unknown or expired' : 'an access token is required (Authorization: Bearer …)');
  return infraId;
}

type Route = (req: IncomingMessage, service: HubService, params: readonly string[]) => Promise<{ status: number; body?: unknown }>;

/** Maps a service refusal of a run call onto the protocol's error. */
async function runCall<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (error instanceof RunCallError) throw new HttpError(error.code, error.message);
    throw error;
  }
}

/** Maps the refusal of a second agent instance (agent-binding.ts) onto 409 CONFLICT. */
async function bindingCall<T>(call: () => T | Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (error instanceof AgentBindingConflict) throw new HttpError(error.code, error.message);
    throw error;
  }
}

/** The `waitSeconds` query parameter of a held call (0–30). */
function waitSecondsOf(req: IncomingMessage): number {
  const wait = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('waitSeconds') ?? '0');
  if (!Number.isFinite(wait) || wait < 0 || wait > MAX_TASK_WAIT_SECONDS) throw new HttpError('BAD_REQUEST', `waitSeconds must be 0–${MAX_TASK_WAIT_SECONDS}`);
  return wait;
}

/**
 * Holds a call of infrastructure `infraId` for up to `waitSeconds`: `check` runs at once and
 * again whenever that infrastructure's runs change (here or in another process writing to the
 * store), not on a timer; its first answer ends the
 * wait. Undefined after the wait, or once the client has gone (`check` is not called then: a run
 * handed to a closed socket would be lost with it).
 */
async function holdUntil<T>(req: IncomingMessage, service: HubService, infraId: string, waitSeconds: number, check: () => Promise<T | undefined>): Promise<T | undefined> {
  const deadline = monotonicMs() + waitSeconds * 1000;
  let gone = false;
  const sleeper = new Wakeable();
  // A change announced while `check` runs is not waited for: the loop checks again at once.
  let changed = false;
  const onClose = (): void => {
    gone = true;
    sleeper.wake();
  };
  req.once('close', onClose);
  const unsubscribe = service.onRunsChanged(() => {
    changed = true;
    sleeper.wake();
  }, infraId);
  try {
    for (;;) {
      if (gone) return undefined;
      changed = false;
      const answer = await check();
      if (answer !== undefined) return answer;
      if (monotonicMs() >= deadline) return undefined;
      if (changed) continue;
      await sleeper.sleep(deadline - monotonicMs());
    }
  } finally {
    unsubscribe();
    req.off('close', onClose);
  }
}

async function waitForTask(req: IncomingMessage, service: HubService, infraId: string): Promise<{ status: number; body?: unknown }> {
  // Answered on the infrastructure's own phase (poll-phase.ts), so polls that came in together do not come back together.
  const waitMs = phasedWaitMs(waitSecondsOf(req) * 1000, phaseOf(infraId), Date.now());
  const polledAt = service.now();
  const task = await holdUntil(req, service, infraId, waitMs / 1000, () => service.nextTask(infraId, polledAt));
  return task ? { status: 200, body: task } : { status: 204 };
}

/** GET /v1/runs/{id}/abort: answered the moment the hub wants the run aborted (or it is closed). */
async function waitForAbort(req: IncomingMessage, service: HubService, infraId: string, runId: string): Promise<{ status: number; body?: unknown }> {
  const wait = waitSecondsOf(req);
  const reason = await holdUntil(req, service, infraId, wait, () => runCall(() => service.abortReason(infraId, runId)));
  return reason === undefined ? { status: 204 } : { status: 200, body: { abort: true, reason } satisfies AbortResponse };
}

const RUN_ID = '([A-Za-z0-9_-]{1,64})';
/** Calls with a run id in the path: `METHOD pattern`. */
const PARAM_ROUTES: [string, RegExp, Route][] = [
  ['GET', new RegExp(`^${API_PREFIX}/runs/${RUN_ID}/abort$`), async (req, service, [runId = '']) => waitForAbort(req, service, await bearer(req, service), runId)],
  ['POST', new RegExp(`^${API_PREFIX}/runs/${RUN_ID}/status$`), async (req, service, [runId = '']) => {
    const infraId = await bearer(req, service);
    const request = parse(StatusRequest, await readJson(req));
    const ackedThrough = await runCall(() => service.reportStatus(infraId, runId, request));
    // An agent that numbers no event (before 2026-12) expects 204.
    return request.events.some((e) => e.seq !== undefined) ? { status: 200, body: { ackedThrough } satisfies StatusResponse } : { status: 204 };
  }],
  ['POST', new RegExp(`^${API_PREFIX}/runs/${RUN_ID}/logs$`), async (req, service, [runId = '']) => {
    const infraId = await bearer(req, service);
    const request = parse(LogsRequest, await readJson(req));
    return { status: 200, body: { ackedThrough: await runCall(() => service.reportLogs(infraId, runId, request)) } };
  }],
  ['POST', new RegExp(`^${API_PREFIX}/runs/${RUN_ID}/result$`), async (req, service, [runId = '']) => {
    const infraId = await bearer(req, service);
    const request = parse(ResultRequest, await readJson(req));
    await runCall(() => service.reportResult(infraId, runId, request));
    return { status: 204 };
  }],
];

const ROUTES: Record<string, Route> = {
  [`POST ${API_PREFIX}/token`]: async (req, service) => {
    const request = parse(TokenRequest, await readJson(req));
    const response = await bindingCall(() => service.exchangeToken(request));
    if (!response) throw new HttpError('UNAUTHORIZED', 'unknown infrastructure or wrong access key');
    return { status: 200, body: response };
  },
  [`POST ${API_PREFIX}/key/confirm`]: async (req, service) => {
    const infraId = await bearer(req, service);
    const request = parse(KeyConfirmRequest, await readJson(req));
    if (!(await service.confirmKey(infraId, request.rotationId))) throw new HttpError('CONFLICT', `rotation ${request.rotationId} is not the open one`);
    return { status: 204 };
  },
  [`POST ${API_PREFIX}/heartbeat`]: async (req, service) => {
    const infraId = await bearer(req, service);
    const request = parse(HeartbeatRequest, await readJson(req));
    return { status: 200, body: await bindingCall(() => service.heartbeat(infraId, request)) };
  },
  [`GET ${API_PREFIX}/tasks/next`]: async (req, service) => waitForTask(req, service, await bearer(req, service)),
};

function findRoute(method: string, path: string): { route: Route; params: string[] } | undefined {
  const exact = ROUTES[`${method} ${path}`];
  if (exact) return { route: exact, params: [] };
  for (const [m, pattern, route] of PARAM_ROUTES) {
    const match = m === method ? pattern.exec(path) : null;
    if (match) return { route, params: match.slice(1) };
  }
  return undefined;
}

/** `METHOD /path` of every call the hub serves (docs/protocol.openapi.yaml must list them all). */
export function hubRoutes(): string[] {
  const templated = PARAM_ROUTES.map(([method, pattern]) => `${method} ${pattern.source.replace(/^\^/, '').replace(/\$$/, '').replaceAll('\\/', '/').replace(RUN_ID, '{runId}')}`);
  return [...Object.keys(ROUTES), ...templated];
}

export interface HubServerOptions {
  readonly service: HubService;
  readonly logger: Logger;
  readonly host: string;
  readonly port: number;
  /**
   * Server key and certificate (PEM); absent only with `insecureHttp`. With `clientCa`, every
   * call must come with a client certificate signed by it (mutual TLS).
   */
  readonly tls?: { readonly key: string; readonly cert: string; readonly clientCa?: string };
  readonly insecureHttp?: boolean;
  /** The web console's built files (default: dist/console/ of the package). */
  readonly consoleDir?: string;
  /**
   * The operator API (/api/v1/…, operators/api.ts) on the same listener; operators log in with
   * passwords or API tokens, so its calls need no client certificate under mutual TLS.
   */
  readonly operatorApi?: OperatorApi;
}

export interface RunningHub {
  readonly url: string;
  close(): Promise<void>;
}

export async function startHubServer(options: HubServerOptions): Promise<RunningHub> {
  const { service, logger } = options;
  const requireClientCert = options.tls?.clientCa !== undefined;
  const serveConsole = consoleHandler(options.consoleDir);
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (options.operatorApi && isOperatorApiPath(path)) {
      options.operatorApi.handle(req, res).catch((error: unknown) => {
        logger.error({ err: error, path }, 'operator API call failed');
        res.destroy();
      });
      return;
    }
    // The console's files are public (its data comes from the operator API), so no client certificate either.
    if (isConsolePath(path)) {
      serveConsole(req, res, path);
      return;
    }
    // The handshake asks for a certificate but lets the call through, so a refusal can say why.
    const socket = req.socket;
    // `authorized` alone is not enough: on a resumed TLS 1.3 session Node reports a client that
    // presented no certificate as authorized; a verified client has its certificate then too.
    if (requireClientCert && !(socket instanceof TLSSocket && socket.authorized && Object.keys(socket.getPeerCertificate()).length > 0)) {
      const why = socket instanceof TLSSocket && socket.authorizationError ? String(socket.authorizationError) : 'none presented';
      send(res, PROTOCOL_ERRORS.UNAUTHORIZED, { error: { code: 'UNAUTHORIZED', message: `a client certificate signed by the hub CA is required (${why})` } });
      return;
    }
    const found = findRoute(req.method ?? '', path);
    if (!found) {
      send(res, PROTOCOL_ERRORS.NOT_FOUND, { error: { code: 'NOT_FOUND', message: `no such call: ${req.method ?? ''} ${path}` } });
      return;
    }
    found
      .route(req, service, found.params)
      .then(({ status, body }) => send(res, status, body))
      .catch((error: unknown) => {
        if (error instanceof HttpError) {
          send(res, PROTOCOL_ERRORS[error.code], { error: { code: error.code, message: error.message } });
          return;
        }
        logger.error({ err: error, path }, 'hub call failed');
        send(res, 500, { error: { code: 'INTERNAL', message: 'internal error (see the hub log)' } });
      });
  };
  let server: Server;
  if (options.tls) {
    const { key, cert, clientCa } = options.tls;
    server = createHttpsServer({ key, cert, minVersion: 'TLSv1.2', ...(clientCa ? { ca: clientCa, requestCert: true, rejectUnauthorized: false } : {}) }, handler);
    if (clientCa) logger.info('agents must present a client certificate signed by the hub CA');
  } else if (options.insecureHttp) {
    logger.warn('PLAIN HTTP: access keys and tokens cross the network unencrypted (--insecure-http); use only on a trusted test network');
    server = createHttpServer(handler);
  } else {
    throw new Error('the hub needs a TLS key and certificate, or insecureHttp');
  }
  server.requestTimeout = 60_000;
  // Agents heartbeat every 10 s: keep their connections open between calls, so that an idle
  // agent does not pay (and make the hub pay) a TLS handshake per heartbeat.
  server.keepAliveTimeout = KEEP_ALIVE_MS;
  // Every TCP connection, from accept on: one still in its TLS handshake is no HTTP connection
  // yet, so closeAllConnections() misses it, and server.close() would wait for it and then serve
  // it, and an agent's calls on it would keep a stopped hub answering.
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    // A fleet reconnecting at once (a hub restart) opens thousands of connections in a second:
    // Node's default backlog of 511 drops the rest's SYNs, and they retry only after 1 s, 3 s….
    // The kernel caps it at net.core.somaxconn.
    server.listen({ port: options.port, host: options.host, backlog: LISTEN_BACKLOG }, resolve);
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `${options.tls ? 'https' : 'http'}://${host}:${address.port}`;
  logger.info({ url }, 'hub listening');
  return {
    url,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
      for (const socket of sockets) socket.destroy();
    }),
  };
}
