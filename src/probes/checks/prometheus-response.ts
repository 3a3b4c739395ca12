// SPDX-License-Identifier: Apache-2.0
/**
 * Reading a Prometheus instant query's answer (`GET /api/v1/query`, the HTTP API's JSON:
 * `{status, data: {resultType, result}}` or `{status: 'error', errorType, error}`) into the one
 * value a prometheus probe compares. Pure, so it is tested without a server.
 */

export type QueryValue =
  | {
      readonly ok: true;
      /** The sample as a number: NaN, +Inf and -Inf included. */
      readonly value: number;
      /** The sample as Prometheus wrote it (`0.5`, `NaN`, `+Inf`). */
      readonly text: string;
    }
  | { readonly ok: false; readonly error: string };

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json => value !== null && typeof value === 'object' && !Array.isArray(value);

/** Prometheus's float text: a Go `strconv.FormatFloat` number, `NaN`, `+Inf` or `-Inf`. */
export function sampleNumber(text: string): number | undefined {
  if (text === 'NaN') return Number.NaN;
  if (text === '+Inf' || text === 'Inf') return Number.POSITIVE_INFINITY;
  if (text === '-Inf') return Number.NEGATIVE_INFINITY;
  const value = Number(text);
  return text.trim() === '' || Number.isNaN(value) ? undefined : value;
}

/** `[timestamp, "value"]` → the value. */
function samplePair(pair: unknown): QueryValue {
  if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[1] !== 'string') return { ok: false, error: `unexpected sample ${JSON.stringify(pair)} (expected [time, "value"])` };
  const text = pair[1];
  const value = sampleNumber(text);
  return value === undefined ? { ok: false, error: `sample value is not a number: ${JSON.stringify(text)}` } : { ok: true, value, text };
}

/** The labels of a vector sample, as PromQL writes them: `{job="x", instance="y"}`. */
function labels(sample: unknown): string {
  const metric = isObject(sample) && isObject(sample['metric']) ? sample['metric'] : {};
  return `{${Object.entries(metric).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(', ')}}`;
}

/** The single value of a query's answer (HTTP status and body text). */
export function parseQueryResponse(statusCode: number, bodyText: string): QueryValue {
  let body: unknown;
  try {
    body = JSON.parse(bodyText);
  } catch {
    const start = bodyText.slice(0, 80);
    return { ok: false, error: `HTTP ${statusCode}: not a Prometheus API answer (not JSON): ${JSON.stringify(start)}` };
  }
  if (!isObject(body)) return { ok: false, error: `HTTP ${statusCode}: not a Prometheus API answer` };
  if (body['status'] === 'error') return { ok: false, error: `query failed (HTTP ${statusCode}, ${String(body['errorType'])}): ${String(body['error'])}` };
  const data = body['data'];
  if (body['status'] !== 'success' || !isObject(data)) return { ok: false, error: `HTTP ${statusCode}: not a Prometheus API answer (no status "success" with data)` };
  const result = data['result'];
  switch (data['resultType']) {
    case 'scalar':
      return samplePair(result);
    case 'vector': {
      if (!Array.isArray(result)) return { ok: false, error: 'vector result is not a list' };
      const samples: readonly unknown[] = result;
      if (samples.length === 0) return { ok: false, error: 'query returned no samples' };
      if (samples.length > 1) {
        const shown = samples.slice(0, 3).map(labels).join(', ');
        return { ok: false, error: `query returned ${samples.length} samples (${shown}${samples.length > 3 ? ', …' : ''}); it must return one: aggregate it, e.g. sum(…) or max(…)` };
      }
      const only = samples[0];
      return samplePair(isObject(only) ? only['value'] : undefined);
    }
    default:
      return { ok: false, error: `query returned a ${String(data['resultType'])}; it must be an instant vector of one sample or a scalar` };
  }
}
