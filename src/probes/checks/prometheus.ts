// SPDX-License-Identifier: Apache-2.0
/**
 * The prometheus check: one instant query (`GET <endpoint>/api/v1/query`) per attempt through
 * the check's own keep-alive Agent; its single value compared with the criterion. The query
 * carries the attempt's timeout, so Prometheus gives up on it too.
 */
import { compare, describeComparison } from '../compare.js';
import type { PrometheusCheckSpec, ProbeCheck } from '../types.js';
import { agentCheck, boundedRequest, createCheckAgent } from './http-client.js';
import { parseQueryResponse } from './prometheus-response.js';

/** The query URL: the endpoint (with any path prefix) + /api/v1/query. */
export function queryUrl(endpoint: string, query: string, timeoutMs: number): string {
  const url = new URL(`${endpoint.replace(/\/+$/, '')}/api/v1/query`);
  url.searchParams.set('query', query);
  url.searchParams.set('timeout', `${Math.max(1, Math.floor(timeoutMs))}ms`);
  return url.toString();
}

export function createPrometheusCheck(spec: PrometheusCheckSpec): ProbeCheck {
  const agent = createCheckAgent({ rejectUnauthorized: true });
  const comparison = spec.criteria.value;
  const criterion = describeComparison('value', comparison);
  return agentCheck(agent, criterion, async (timeoutMs, deadline) => {
    const url = queryUrl(spec.endpoint, spec.query, timeoutMs);
    const response = await boundedRequest(agent, url, { method: 'GET', headers: { accept: 'application/json' }, keepBody: true }, timeoutMs, deadline);
    const latencyMs = response.latencyMs;
    const value = parseQueryResponse(response.statusCode, (response.body ?? Buffer.alloc(0)).toString('utf8'));
    if (!value.ok) return { passed: false, observed: '-', criterion, error: value.error, latencyMs };
    const result = compare(comparison.type === 'string' ? value.text : value.value, comparison);
    const outcome = { passed: result.passed, observed: value.text, criterion, latencyMs };
    return result.error === undefined ? outcome : { ...outcome, error: result.error };
  });
}
