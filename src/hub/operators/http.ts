// SPDX-License-Identifier: Apache-2.0
/** HTTP helpers of the operator API: bounded JSON bodies, cookies, the caller's address. */
import type { IncomingMessage, ServerResponse } from 'node:http';

import { readBoundedJson } from '../json-body.js';
import { OperatorError } from './operator-error.js';

export const MAX_BODY_BYTES = 512 * 1024;

export const readJsonBody = (req: IncomingMessage): Promise<unknown> => readBoundedJson(req, MAX_BODY_BYTES, (code, message) => new OperatorError(code, message));

export function sendJson(res: ServerResponse, status: number, body?: unknown, headers: Record<string, string | string[]> = {}): void {
  const common = { 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', ...headers };
  if (body === undefined) {
    res.writeHead(status, common).end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, { ...common, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)) }).end(text);
}

/** The value of cookie `name` in the request, if present. */
export function cookie(req: IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

export function remoteAddress(req: IncomingMessage): string {
  return req.socket.remoteAddress ?? 'unknown';
}

/** A session cookie (or its removal with `value` undefined). */
export function sessionCookie(name: string, value: string | undefined, maxAgeSeconds: number, secure: boolean): string {
  const attributes = [`${name}=${value ?? ''}`, 'HttpOnly', 'SameSite=Strict', 'Path=/', `Max-Age=${value === undefined ? 0 : maxAgeSeconds}`];
  if (secure) attributes.push('Secure');
  return attributes.join('; ');
}
