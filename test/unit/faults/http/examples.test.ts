// SPDX-License-Identifier: Apache-2.0
// The HTTP examples through the real experiment loader (Harness upper-case tunables renamed by
// each kind's aliases, strings as Harness passes them), with the params they end up as.

import { readFileSync } from 'node:fs';
import path from 'node:path';

import test from 'ava';
import { parse } from 'yaml';

import { validateExperiment } from '../../../../src/experiment/schema.js';
import { REGISTRY } from '../../../../src/faults/registry.js';
import { REPO_ROOT } from '../../../helpers/cli.js';
import { FAKE_VALIDATION } from '../../../helpers/host.js';

function paramsOf(example: string): Record<string, unknown> {
  const result = validateExperiment(parse(readFileSync(path.join(REPO_ROOT, 'examples', example), 'utf8')), REGISTRY, FAKE_VALIDATION);
  if (!result.ok) throw new Error(result.problems.map((p) => `${p.path}: ${p.message}`).join('\n'));
  return result.experiment.steps[0]?.faults[0]?.params as Record<string, unknown>;
}

test('examples/api-*.yaml validate with their Harness spellings', (t) => {
  t.like(paramsOf('api-latency.yaml'), { serviceDirection: 'ingress', targetServicePort: 8080, pathFilter: '/api/orders', methods: ['GET'], latency: 2000, dataDirection: 'request', percentage: 50, proxyPort: 20000 });
  t.like(paramsOf('api-status-code.yaml'), { serviceDirection: 'egress', destinationPorts: [80], statusCode: 503, responseBody: '{"error":"unavailable"}', pathFilter: '/v1/charge' });
  t.like(paramsOf('api-block.yaml'), { targetServicePort: 80, pathFilter: '/checkout', statusCode: 503, headersFilters: [{ name: 'X-Tenant', value: 'test' }] });
  t.like(paramsOf('api-modify-header.yaml'), { serviceDirection: 'egress', destinationPorts: [8080], dataDirection: 'request', headersMap: [{ name: 'Authorization', value: 'Bearer stale-token' }, { name: 'X-Request-Id', value: '' }] });
});
