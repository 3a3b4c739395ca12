// SPDX-License-Identifier: Apache-2.0
/**
 * A request body read as JSON, bounded in size and in nesting depth, for both of the hub's APIs;
 * each turns a refusal into its own error (the agent API's and the operator API's codes agree).
 */
import type { IncomingMessage } from 'node:http';

import { jsonNestingDepth, MAX_JSON_DEPTH } from '../protocol/json-depth.js';

export type BodyRefusal = 'PAYLOAD_TOO_LARGE' | 'BAD_REQUEST';

/** The parsed body (`{}` when empty); `refuse` makes the error thrown for a body too large, too deep or not JSON. */
export async function readBoundedJson(req: IncomingMessage, maxBytes: number, refuse: (code: BodyRefusal, message: string) => Error): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > maxBytes) throw refuse('PAYLOAD_TOO_LARGE', `the body is larger than ${maxBytes} bytes`);
    chunks.push(buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8') || '{}';
  if (jsonNestingDepth(text) > MAX_JSON_DEPTH) throw refuse('BAD_REQUEST', `the body nests arrays and objects deeper than ${MAX_JSON_DEPTH} levels`);
  try {
    return JSON.parse(text);
  } catch {
    throw refuse('BAD_REQUEST', 'the body is not JSON');
  }
}
