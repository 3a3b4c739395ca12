// SPDX-License-Identifier: Apache-2.0
/** Calls of the operator API of a test hub (test/helpers/hub.ts): as an operator by cookie or token, or as anyone. */
import { request } from 'undici';

import { localActor } from '../../src/hub/operators/operator-service.js';
import type { TestHub } from './hub.js';

export const PASSWORD = 'correct horse battery';

export interface ApiAnswer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly json: { error?: { code: string; message: string; lines?: string[] } } & Record<string, unknown>;
  readonly text: string;
}

/** How a call is authenticated. */
export type Credential = { readonly cookie: string; readonly csrf: string } | { readonly bearer: string } | undefined;

export async function apiCall(hub: TestHub, method: string, path: string, options: { body?: unknown; auth?: Credential; headers?: Record<string, string> } = {}): Promise<ApiAnswer> {
  const auth = options.auth;
  const headers: Record<string, string> = {
    ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
    ...(auth && 'bearer' in auth ? { authorization: `Bearer ${auth.bearer}` } : {}),
    ...(auth && 'cookie' in auth ? { cookie: auth.cookie, 'x-csrf-token': auth.csrf } : {}),
    ...options.headers,
  };
  const response = await request(`${hub.url}${path}`, { method: method as 'GET', dispatcher: hub.agent, headers, ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }) });
  const text = await response.body.text();
  let json: ApiAnswer['json'] = {};
  try {
    json = text ? (JSON.parse(text) as ApiAnswer['json']) : {};
  } catch {
    // event streams
  }
  return { status: response.statusCode, headers: response.headers, json, text };
}

/** Creates operator `name` with `role` (locally, as the CLI would). */
export async function addOperator(hub: TestHub, name: string, role: 'viewer' | 'operator' | 'admin'): Promise<void> {
  await hub.ops.operators.addUser(localActor(), name, role, PASSWORD);
}

/** Logs `name` in; returns the cookie (name=value) and the CSRF token. */
export async function login(hub: TestHub, name: string, password = PASSWORD): Promise<{ cookie: string; csrf: string; setCookie: string }> {
  const answer = await apiCall(hub, 'POST', '/api/v1/login', { body: { name, password } });
  if (answer.status !== 200) throw new Error(`login of ${name}: ${answer.status} ${answer.text}`);
  const setCookie = String(answer.headers['set-cookie']);
  return { cookie: setCookie.split(';')[0] ?? '', csrf: String(answer.json['csrfToken']), setCookie };
}

export async function apiToken(hub: TestHub, name: string): Promise<string> {
  return (await hub.ops.operators.createToken(localActor(), name)).token;
}
