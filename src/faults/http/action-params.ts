// SPDX-License-Identifier: Apache-2.0
/**
 * The tunables of what the HTTP faults do to a matching request (Harness names): statusCode,
 * responseBody, latency, dataDirection and headersMap, with their bounds.
 */
import { z } from 'zod';

import { durationParam, mapEntriesSchema, type Param } from '../params.js';
import { enumParam } from '../network/target-params.js';
import { MAX_BODY_BYTES, MAX_ENTRIES } from './http-params.js';

/** RFC 9110 §5.6.2 token. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** ARCHITECTURE.md §4: latency ≤ 10 min. */
export const MAX_API_LATENCY_MS = 600_000;
/** Headers the interceptor owns: setting them would break the message's framing or the connection. */
const FRAMING_HEADERS = ['content-length', 'transfer-encoding', 'connection', 'upgrade', 'keep-alive', 'te', 'trailer', 'host'];

/**
 * `statusCode`: 200–599. Harness documents only the default (404); a 1xx is an interim response,
 * which in place of the final one would leave the client waiting, so faultd refuses it.
 */
export function statusCodeParam(description: string): Param<number> {
  const error = 'must be an HTTP status code in 200–599 (1xx are interim responses, never a final answer)';
  const schema = z
    .preprocess((v) => (typeof v === 'string' && /^\s*\d+\s*$/.test(v) ? Number(v) : v), z.number({ error }).int({ error }).min(200, { error }).max(599, { error }))
    .optional()
    .transform((v) => v ?? 404);
  return { schema, doc: { name: 'statusCode', type: 'integer', default: '404', bounds: '200–599', description } };
}

/** Status codes whose response never has a body (RFC 9110 §6.4.1). */
export function bodylessStatus(code: number): boolean {
  return code === 204 || code === 304;
}

/** `responseBody`: text up to MAX_BODY_BYTES (UTF-8); absent is Harness's empty body. */
export function responseBodyParam(description: string): Param<string> {
  const schema = z
    .union([z.string(), z.number(), z.boolean()], { error: 'must be text' })
    .optional()
    .transform((value, c) => {
      const text = value === undefined ? '' : String(value);
      if (Buffer.byteLength(text, 'utf8') > MAX_BODY_BYTES) {
        c.addIssue({ code: 'custom', message: `is ${Buffer.byteLength(text, 'utf8')} bytes: at most ${MAX_BODY_BYTES} (64 KiB)` });
        return z.NEVER;
      }
      if (text.includes('\0')) {
        c.addIssue({ code: 'custom', message: 'must not contain a NUL character' });
        return z.NEVER;
      }
      return text;
    });
  return { schema, doc: { name: 'responseBody', type: 'text', default: '(empty body)', bounds: '0–64 KiB', description } };
}

export function latencyParam(): Param<number> {
  return durationParam({ name: 'latency', default: '2s', max: MAX_API_LATENCY_MS, description: 'delay added to each matching request ("2s", "500ms"; a bare number is seconds, as Harness\'s default 2s; LATENCY)' });
}

export type DataDirection = 'request' | 'response' | 'both';

/** `dataDirection`: Harness documents the values, not a default; each kind says which it takes. */
export function dataDirectionParam(fallback: DataDirection, description: string): Param<DataDirection> {
  return enumParam('dataDirection', ['request', 'response', 'both'], fallback, description);
}

/** One edit of headersMap: set `name` to `value`, or remove it when `value` is "". */
export interface HeaderEdit {
  readonly name: string;
  readonly value: string;
}

/**
 * `headersMap`: a JSON object (Harness passes text) or a YAML map of header names to values;
 * "" removes the header. Names are RFC 9110 tokens, values have no CR, LF or other controls.
 */
export function headersMapParam(): Param<HeaderEdit[]> {
  const error = `must be a map of header names to values, as '{"X-Chaos":"1","Cache-Control":""}' (JSON text or a YAML map, 1–${MAX_ENTRIES} entries; "" removes the header)`;
  const schema = mapEntriesSchema(error, MAX_ENTRIES).transform(({ input: value, entries }, c) => {
    const problems: string[] = [];
    const seen = new Set<string>();
    const edits: HeaderEdit[] = [];
    for (const [name, v] of entries) {
      if (!TOKEN.test(name)) problems.push(`"${name}" is not an HTTP header name (RFC 9110 token: letters, digits and !#$%&'*+-.^_\`|~)`);
      else if (FRAMING_HEADERS.includes(name.toLowerCase())) problems.push(`"${name}" frames the message or the connection and is kept by the interceptor; it cannot be set or removed`);
      else if (seen.has(name.toLowerCase())) problems.push(`"${name}" appears twice (header names are case-insensitive)`);
      seen.add(name.toLowerCase());
      const text = typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : undefined;
      if (text === undefined) problems.push(`"${name}": ${JSON.stringify(v)} is not a string`);
      // eslint-disable-next-line no-control-regex
      else if (/[\x00-\x08\x0a-\x1f\x7f]/.test(text)) problems.push(`"${name}": the value contains a control character (CR, LF, NUL…), which would split the HTTP head`);
      else if (text.length > 4096) problems.push(`"${name}": the value is longer than 4096 characters`);
      else edits.push({ name, value: text.trim() });
    }
    if (problems.length) {
      for (const message of problems) c.addIssue({ code: 'custom', input: value, message });
      return z.NEVER;
    }
    return edits;
  });
  return { schema, doc: { name: 'headersMap', type: 'map', default: undefined, bounds: `1–${MAX_ENTRIES} header → value; "" removes`, description: 'headers to set on matching requests/responses; "" removes one (required; HEADERS_MAP)' } };
}
