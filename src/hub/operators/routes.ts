// SPDX-License-Identifier: Apache-2.0
/**
 * Every operator API call in one table: method, path pattern, the least role it needs, and its
 * handler. api.ts checks authentication, CSRF and the role from this table before any handler
 * runs, so no route can forget its check; the role test calls every entry with every kind of
 * caller.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

import { z } from 'zod';

import { SESSION_COOKIE, type Operator, type OperatorAuth } from './auth.js';
import type { EventStreams } from './events.js';
import { sessionCookie } from './http.js';
import { OperatorError } from './operator-error.js';
import { DEFAULT_TOKEN_TTL_MS, type Actor } from './operator-service.js';
import type { HubOperations } from './operations.js';
import type { Role } from './roles.js';

export const OPERATOR_API_PREFIX = '/api/v1';

/** Who is calling: an operator by session cookie or API token. */
export interface Caller {
  readonly operator: Operator;
  readonly via: 'session' | 'token';
  /** The session's stored id hash (logout ends it). */
  readonly sessionIdHash?: string;
  readonly csrfToken?: string;
}

export interface RouteContext {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly params: Readonly<Record<string, string>>;
  readonly query: URLSearchParams;
  /** Absent only on public routes (login). */
  readonly caller?: Caller;
  readonly actor: Actor;
  readonly remote: string;
  body(): Promise<unknown>;
}

export interface ApiDeps {
  readonly ops: HubOperations;
  readonly auth: OperatorAuth;
  /** Cookies carry Secure (all but plain-HTTP hubs). */
  readonly secureCookies: boolean;
  readonly sessionTtlSeconds: number;
  readonly streams: EventStreams;
}

export type Reply = { readonly status: number; readonly body?: unknown; readonly headers?: Record<string, string | string[]> } | 'streamed';

export interface OperatorRoute {
  readonly method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** `/api/v1/runs/:id`: `:name` segments match one path segment. */
  readonly path: string;
  /** The least role; `public` needs no caller (login only). */
  readonly role: Role | 'public';
  readonly handler: (ctx: RouteContext, deps: ApiDeps) => Promise<Reply>;
}

function parseBody<T>(schema: z.ZodType<T>, value: unknown): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw new OperatorError('BAD_REQUEST', result.error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`).join('; '));
}

function intQuery(query: URLSearchParams, name: string, fallback: number): number {
  const raw = query.get(name);
  if (raw === null || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value)) throw new OperatorError('BAD_REQUEST', `${name} must be a whole number`);
  return value;
}

function listQuery(query: URLSearchParams, name: string): string[] {
  return (query.get(name) ?? '').split(',').map((s) => s.trim()).filter(Boolean);
}

const LoginBody = z.object({ name: z.string().max(200), password: z.string().max(2048) });
const NameBody = z.object({ name: z.string().max(200) });
const QueueBody = z.union([
  // `name`: what errors call the text (the CLI sends its file name), as faultd validate names the file.
  z.object({ infra: z.string().max(200), experiment: z.string().max(512 * 1024), name: z.string().max(200).optional() }),
  z.object({ infra: z.string().max(200), library: z.string().max(200) }),
]);
const AbortBody = z.object({ force: z.boolean().optional() });
const ExperimentBody = z.object({ text: z.string().max(512 * 1024) });
const UserBody = z.object({ name: z.string().max(200), role: z.string().max(20), password: z.string().max(2048) });
const RoleBody = z.object({ role: z.string().max(20) });
const DisabledBody = z.object({ disabled: z.boolean() });
const PasswordBody = z.object({ password: z.string().max(2048) });
const OwnPasswordBody = z.object({ currentPassword: z.string().max(2048), password: z.string().max(2048) });
// ttlMs: the lifetime (default 90 days); noExpiry: a token that never expires.
const TokenBody = z.object({ user: z.string().max(200), ttlMs: z.number().int().optional(), noExpiry: z.boolean().optional() });

const ok = (body?: unknown, status = 200): Reply => ({ status, ...(body === undefined ? {} : { body }) });

function callerOf(ctx: RouteContext): Caller {
  if (!ctx.caller) throw new Error('route without caller');
  return ctx.caller;
}

export const OPERATOR_ROUTES: readonly OperatorRoute[] = [
  {
    method: 'POST',
    path: '/api/v1/login',
    role: 'public',
    handler: async (ctx, deps) => {
      const { name, password } = parseBody(LoginBody, await ctx.body());
      const failedActor: Actor = { name, role: '-', remote: ctx.remote };
      try {
        const login = await deps.auth.login(name, password, ctx.remote);
        await deps.ops.operators.audit({ name: login.operator.name, role: login.operator.role, remote: ctx.remote }, 'login', login.operator.name);
        return {
          status: 200,
          body: { operator: login.operator, csrfToken: login.csrfToken },
          headers: { 'set-cookie': sessionCookie(SESSION_COOKIE, login.sessionId, deps.sessionTtlSeconds, deps.secureCookies) },
        };
      } catch (error) {
        if (error instanceof OperatorError) await deps.ops.operators.audit(failedActor, 'login.failed', name, error.apiCode);
        throw error;
      }
    },
  },
  {
    method: 'GET',
    path: '/api/v1/session',
    role: 'viewer',
    handler: async (ctx) => {
      const caller = callerOf(ctx);
      return Promise.resolve(ok({ operator: caller.operator, ...(caller.csrfToken ? { csrfToken: caller.csrfToken } : {}) }));
    },
  },
  {
    method: 'POST',
    path: '/api/v1/logout',
    role: 'viewer',
    handler: async (ctx, deps) => {
      const caller = callerOf(ctx);
      if (caller.sessionIdHash) await deps.auth.logout(caller.sessionIdHash);
      await deps.ops.operators.audit(ctx.actor, 'logout', caller.operator.name);
      return { status: 204, headers: { 'set-cookie': sessionCookie(SESSION_COOKIE, undefined, 0, deps.secureCookies) } };
    },
  },
  { method: 'GET', path: '/api/v1/infras', role: 'viewer', handler: async (_ctx, deps) => ok(await deps.ops.listInfras()) },
  {
    method: 'POST',
    path: '/api/v1/infras',
    role: 'admin',
    handler: async (ctx, deps) => ok(await deps.ops.createInfra(ctx.actor, parseBody(NameBody, await ctx.body()).name), 201),
  },
  {
    method: 'POST',
    path: '/api/v1/infras/:id/rotate-key',
    role: 'admin',
    handler: async (ctx, deps) => ok(await deps.ops.rotateKey(ctx.actor, ctx.params['id'] ?? ''), 202),
  },
  {
    method: 'POST',
    path: '/api/v1/infras/:id/release',
    role: 'admin',
    handler: async (ctx, deps) => ok(await deps.ops.releaseInfra(ctx.actor, ctx.params['id'] ?? '')),
  },
  {
    method: 'GET',
    path: '/api/v1/runs',
    role: 'viewer',
    handler: async (ctx, deps) => {
      const infra = ctx.query.get('infra');
      return ok(
        await deps.ops.listRuns({ ...(infra ? { infra } : {}), states: listQuery(ctx.query, 'state'), verdicts: listQuery(ctx.query, 'verdict'), limit: intQuery(ctx.query, 'limit', 50) }),
      );
    },
  },
  {
    method: 'POST',
    path: '/api/v1/runs',
    role: 'operator',
    handler: async (ctx, deps) => {
      const body = parseBody(QueueBody, await ctx.body());
      const request = 'library' in body ? body : { infra: body.infra, experiment: body.experiment, ...(body.name === undefined ? {} : { fileName: body.name }) };
      const { id, ahead } = await deps.ops.queueRun(ctx.actor, request);
      return ok({ id, ahead }, 201);
    },
  },
  { method: 'GET', path: '/api/v1/runs/:id', role: 'viewer', handler: async (ctx, deps) => ok(await deps.ops.run(ctx.params['id'] ?? '')) },
  {
    method: 'GET',
    path: '/api/v1/runs/:id/logs',
    role: 'viewer',
    handler: async (ctx, deps) => ok(await deps.ops.logs(ctx.params['id'] ?? '', intQuery(ctx.query, 'after', 0), intQuery(ctx.query, 'limit', 1000))),
  },
  {
    method: 'GET',
    path: '/api/v1/runs/:id/events',
    role: 'viewer',
    handler: async (ctx, deps) => {
      const lastEventId = ctx.req.headers['last-event-id'];
      const after = typeof lastEventId === 'string' && /^\d+$/.test(lastEventId) ? Number(lastEventId) : intQuery(ctx.query, 'after', 0);
      await deps.streams.stream(ctx.req, ctx.res, ctx.params['id'] ?? '', after);
      return 'streamed';
    },
  },
  {
    method: 'POST',
    path: '/api/v1/runs/:id/abort',
    role: 'operator',
    handler: async (ctx, deps) => ok(await deps.ops.abort(ctx.actor, ctx.params['id'] ?? '', parseBody(AbortBody, await ctx.body()).force === true), 202),
  },
  {
    method: 'GET',
    path: '/api/v1/experiments',
    role: 'viewer',
    handler: async (_ctx, deps) => ok({ experiments: (await deps.ops.operators.listExperiments()).map(({ name, updatedAt, updatedBy, faults }) => ({ name, updatedAt, updatedBy, faults })) }),
  },
  {
    method: 'GET',
    path: '/api/v1/experiments/:name',
    role: 'viewer',
    handler: async (ctx, deps) => {
      const { name, text, updatedAt, updatedBy } = await deps.ops.operators.experiment(ctx.params['name'] ?? '');
      return ok({ name, text, updatedAt, updatedBy });
    },
  },
  {
    method: 'PUT',
    path: '/api/v1/experiments/:name',
    role: 'operator',
    handler: async (ctx, deps) => {
      const created = await deps.ops.operators.putExperiment(ctx.actor, ctx.params['name'] ?? '', parseBody(ExperimentBody, await ctx.body()).text);
      return ok({ name: ctx.params['name'], created }, created ? 201 : 200);
    },
  },
  {
    method: 'DELETE',
    path: '/api/v1/experiments/:name',
    role: 'operator',
    handler: async (ctx, deps) => {
      await deps.ops.operators.deleteExperiment(ctx.actor, ctx.params['name'] ?? '');
      return ok(undefined, 204);
    },
  },
  { method: 'GET', path: '/api/v1/users', role: 'admin', handler: async (_ctx, deps) => ok({ users: await deps.ops.operators.listUsers() }) },
  {
    method: 'POST',
    path: '/api/v1/users',
    role: 'admin',
    handler: async (ctx, deps) => {
      const { name, role, password } = parseBody(UserBody, await ctx.body());
      return ok(await deps.ops.operators.addUser(ctx.actor, name, role, password), 201);
    },
  },
  {
    method: 'PUT',
    path: '/api/v1/users/:name/role',
    role: 'admin',
    handler: async (ctx, deps) => {
      await deps.ops.operators.setRole(ctx.actor, ctx.params['name'] ?? '', parseBody(RoleBody, await ctx.body()).role);
      return ok(undefined, 204);
    },
  },
  {
    method: 'PUT',
    path: '/api/v1/users/:name/password',
    role: 'admin',
    handler: async (ctx, deps) => {
      await deps.ops.operators.setPassword(ctx.actor, ctx.params['name'] ?? '', parseBody(PasswordBody, await ctx.body()).password);
      return ok(undefined, 204);
    },
  },
  {
    method: 'PUT',
    path: '/api/v1/users/:name/disabled',
    role: 'admin',
    handler: async (ctx, deps) => {
      await deps.ops.operators.setDisabled(ctx.actor, ctx.params['name'] ?? '', parseBody(DisabledBody, await ctx.body()).disabled);
      return ok(undefined, 204);
    },
  },
  {
    method: 'PUT',
    path: '/api/v1/session/password',
    role: 'viewer',
    handler: async (ctx, deps) => {
      // Any operator, their own password: the current one is checked (and rate-limited as a login).
      const caller = callerOf(ctx);
      const { currentPassword, password } = parseBody(OwnPasswordBody, await ctx.body());
      try {
        await deps.auth.checkPassword(caller.operator.name, currentPassword, ctx.remote);
      } catch (error) {
        // Audited as a failed login (it counts as one), by the caller, from where they called.
        if (error instanceof OperatorError) await deps.ops.operators.audit(ctx.actor, 'login.failed', caller.operator.name, `${error.apiCode} (password change)`);
        // Not 401: the caller is authenticated; only the password they typed is wrong.
        if (error instanceof OperatorError && error.apiCode === 'UNAUTHENTICATED') throw new OperatorError('FORBIDDEN', 'the current password is wrong');
        throw error;
      }
      await deps.ops.operators.setPassword(ctx.actor, caller.operator.name, password);
      if (caller.via !== 'session') return ok(undefined, 204);
      // Changing the password ended every session of the operator: this one continues as a new one.
      const login = await deps.auth.startSession(caller.operator.name);
      return {
        status: 200,
        body: { operator: login.operator, csrfToken: login.csrfToken },
        headers: { 'set-cookie': sessionCookie(SESSION_COOKIE, login.sessionId, deps.sessionTtlSeconds, deps.secureCookies) },
      };
    },
  },
  {
    method: 'GET',
    path: '/api/v1/tokens',
    role: 'admin',
    handler: async (ctx, deps) => ok({ tokens: await deps.ops.operators.listTokens(ctx.query.get('user') || undefined) }),
  },
  {
    method: 'POST',
    path: '/api/v1/tokens',
    role: 'admin',
    handler: async (ctx, deps) => {
      const { user, ttlMs, noExpiry } = parseBody(TokenBody, await ctx.body());
      const { token, view } = await deps.ops.operators.createToken(ctx.actor, user, noExpiry === true ? null : (ttlMs ?? DEFAULT_TOKEN_TTL_MS));
      return ok({ ...view, token }, 201);
    },
  },
  {
    method: 'DELETE',
    path: '/api/v1/tokens/:id',
    role: 'admin',
    handler: async (ctx, deps) => {
      await deps.ops.operators.revokeToken(ctx.actor, ctx.params['id'] ?? '');
      return ok(undefined, 204);
    },
  },
  {
    method: 'DELETE',
    path: '/api/v1/users/:name',
    role: 'admin',
    handler: async (ctx, deps) => {
      await deps.ops.operators.removeUser(ctx.actor, ctx.params['name'] ?? '');
      return ok(undefined, 204);
    },
  },
  {
    method: 'GET',
    path: '/api/v1/audit',
    role: 'admin',
    handler: async (ctx, deps) => {
      const before = ctx.query.get('before');
      return ok({ entries: await deps.ops.operators.listAudit(intQuery(ctx.query, 'limit', 100), before ? intQuery(ctx.query, 'before', 0) : undefined) });
    },
  },
];

interface CompiledRoute {
  readonly route: OperatorRoute;
  readonly pattern: RegExp;
  readonly names: readonly string[];
}

const SEGMENT = '([A-Za-z0-9._~-]{1,128})';

function compile(route: OperatorRoute): CompiledRoute {
  const names: string[] = [];
  const source = route.path
    .split('/')
    .map((part) => {
      if (!part.startsWith(':')) return part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      names.push(part.slice(1));
      return SEGMENT;
    })
    .join('/');
  return { route, pattern: new RegExp(`^${source}$`), names };
}

const COMPILED = OPERATOR_ROUTES.map(compile);

/** The route for `method path` and its path parameters; `methodMismatch` when only the method is wrong. */
export function matchRoute(method: string, path: string): { route: OperatorRoute; params: Record<string, string> } | { methodMismatch: true } | undefined {
  let pathMatched = false;
  for (const c of COMPILED) {
    const match = c.pattern.exec(path);
    if (!match) continue;
    pathMatched = true;
    if (c.route.method !== method) continue;
    const params: Record<string, string> = {};
    c.names.forEach((name, i) => {
      params[name] = decodeURIComponent(match[i + 1] ?? '');
    });
    return { route: c.route, params };
  }
  return pathMatched ? { methodMismatch: true } : undefined;
}
