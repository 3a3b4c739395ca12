// SPDX-License-Identifier: Apache-2.0
// docs/protocol.openapi.yaml and the zod schemas both sides validate with must not drift apart.
import { readFileSync } from 'node:fs';
import path from 'node:path';

import test from 'ava';
import { parse } from 'yaml';
import { z } from 'zod';

import { REPO_ROOT } from '../../helpers/cli.js';
import { hubRoutes } from '../../../src/hub/server.js';
import { AbortResponse, HeartbeatRequest, HeartbeatResponse, LogsRequest, LogsResponse, ResultRequest, StatusRequest, StatusResponse, TaskResponse, TokenRequest, TokenResponse } from '../../../src/protocol/messages.js';

interface OpenApi {
  paths: Record<string, Record<string, unknown>>;
  components: { schemas: Record<string, { required?: string[]; properties: Record<string, unknown> }> };
}

const doc = parse(readFileSync(path.join(REPO_ROOT, 'docs', 'protocol.openapi.yaml'), 'utf8')) as OpenApi;

test('every call the hub serves is in the OpenAPI document', (t) => {
  for (const route of hubRoutes()) {
    const [method = '', url = ''] = route.split(' ');
    t.truthy(doc.paths[url]?.[method.toLowerCase()], `${route} is documented`);
  }
});

test('the documented schemas have the zod schemas\' fields and required fields', (t) => {
  const schemas: Record<string, z.ZodObject> = { TokenRequest, TokenResponse, HeartbeatRequest, HeartbeatResponse, AbortResponse, TaskResponse, StatusRequest, StatusResponse, LogsRequest, LogsResponse, ResultRequest };
  for (const [name, schema] of Object.entries(schemas)) {
    const documented = doc.components.schemas[name];
    t.truthy(documented, name);
    const shape = schema.shape as Record<string, z.ZodType>;
    t.deepEqual(Object.keys(documented?.properties ?? {}).sort(), Object.keys(shape).sort(), `${name} fields`);
    const required = Object.entries(shape).filter(([, field]) => !field.safeParse(undefined).success).map(([key]) => key);
    t.deepEqual([...(documented?.required ?? [])].sort(), required.sort(), `${name} required fields`);
  }
});
