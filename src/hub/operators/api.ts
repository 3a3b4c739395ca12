// SPDX-License-Identifier: Apache-2.0
/**
 * The operator API (/api/v1/…) on the hub's listener: authenticates the caller (session cookie
 * or `fdo_` API token; agent tokens are refused), checks the route's role from the one route
 * table (routes.ts) and, for calls made with the session cookie that change state, the CSRF
 * header; then runs the handler and answers `{error:{code,message}}` on any refusal.
 */
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

import type { Logger } from 'pino';

import { isFaultdError } from '../../errors.js';
import { API_TOKEN_PREFIX, SESSION_COOKIE } from './auth.js';
import { cookie, readJsonBody, remoteAddress, sendJson } from './http.js';
import { OperatorError } from './operator-error.js';
import type { Actor } from './operator-service.js';
import { hasRole } from './roles.js';
import { matchRoute, type ApiDeps, type Caller, type OperatorRoute } from './routes.js';

const SAFE_METHODS = new Set(['GET', 'HEAD']);

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export function isOperatorApiPath(path: string): boolean {
  return path === '/api' || path.startsWith('/api/');
}

export class OperatorApi {
  readonly #deps: ApiDeps;
  readonly #logger: Logger;

  constructor(deps: ApiDeps, logger: Logger) {
    this.#deps = deps;
    this.#logger = logger;
  }

  get deps(): ApiDeps {
    return this.#deps;
  }

  /** The caller of `req`; throws UNAUTHENTICATED when there is none or its credential is refused. */
  async #caller(req: IncomingMessage): Promise<Caller> {
    const authorization = req.headers.authorization;
    if (authorization !== undefined) {
      const token = /^Bearer (\S+)$/.exec(authorization)?.[1] ?? '';
      if (!token.startsWith(API_TOKEN_PREFIX)) {
        throw new OperatorError('UNAUTHENTICATED', 'the operator API takes an operator API token (fdo_…, faultd hub token create); agent tokens are not accepted here');
      }
      const operator = await this.#deps.auth.token(token);
      if (!operator) throw new OperatorError('UNAUTHENTICATED', 'the API token is unknown, revoked or expired');
      return { operator, via: 'token' };
    }
    const sessionId = cookie(req, SESSION_COOKIE);
    const session = sessionId ? await this.#deps.auth.session(sessionId) : undefined;
    if (!session) throw new OperatorError('UNAUTHENTICATED', sessionId ? 'the session has ended: log in again' : 'log in first (POST /api/v1/login) or send an API token');
    return { operator: session.operator, via: 'session', sessionIdHash: session.idHash, csrfToken: session.csrfToken };
  }

  #authorize(req: IncomingMessage, route: OperatorRoute, caller: Caller): void {
    if (route.role !== 'public' && !hasRole(caller.operator.role, route.role)) {
      throw new OperatorError('FORBIDDEN', `${route.method} ${route.path} needs role ${route.role}; you are ${caller.operator.role}`);
    }
    if (caller.via === 'session' && !SAFE_METHODS.has(route.method)) {
      const header = req.headers['x-csrf-token'];
      if (typeof header !== 'string' || !caller.csrfToken || !sameSecret(header, caller.csrfToken)) {
        throw new OperatorError('CSRF', 'this call needs the X-CSRF-Token header of the session (GET /api/v1/session)');
      }
    }
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://hub');
    const method = req.method ?? '';
    const remote = remoteAddress(req);
    try {
      const found = matchRoute(method, url.pathname);
      if (!found) throw new OperatorError('NOT_FOUND', `no such call: ${method} ${url.pathname}`);
      if ('methodMismatch' in found) throw new OperatorError('NOT_FOUND', `no such call: ${method} ${url.pathname} (other methods exist on this path)`);
      const { route, params } = found;
      let caller: Caller | undefined;
      if (route.role !== 'public') {
        caller = await this.#caller(req);
        this.#authorize(req, route, caller);
      }
      if (!SAFE_METHODS.has(method) && req.headers['content-length'] !== '0' && (req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined)) {
        // JSON only: a cross-site form post cannot send it without a CORS preflight.
        if (!/^application\/json\b/i.test(req.headers['content-type'] ?? '')) throw new OperatorError('BAD_REQUEST', 'the body must be JSON (Content-Type: application/json)');
      }
      const actor: Actor = caller ? { name: caller.operator.name, role: caller.operator.role, remote } : { name: '-', role: '-', remote };
      const reply = await route.handler({ req, res, params, query: url.searchParams, ...(caller ? { caller } : {}), actor, remote, body: () => readJsonBody(req) }, this.#deps);
      if (reply === 'streamed') return;
      sendJson(res, reply.status, reply.body, reply.headers);
    } catch (error) {
      this.#refuse(res, error, method, url.pathname);
    }
  }

  #refuse(res: ServerResponse, error: unknown, method: string, path: string): void {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    if (error instanceof OperatorError) {
      const headers: Record<string, string> = error.retryAfterSeconds === undefined ? {} : { 'retry-after': String(error.retryAfterSeconds) };
      sendJson(res, error.status, { error: { code: error.apiCode, message: error.message, ...(error.lines ? { lines: error.lines } : {}) } }, headers);
      return;
    }
    // The hub service's own refusals (a bad or duplicate infrastructure name, …).
    if (isFaultdError(error, 'FAULTD_ERR_HUB_INPUT')) {
      sendJson(res, 400, { error: { code: 'BAD_REQUEST', message: error.message } });
      return;
    }
    this.#logger.error({ err: error, method, path }, 'operator API call failed');
    sendJson(res, 500, { error: { code: 'INTERNAL', message: 'internal error (see the hub log)' } });
  }
}
