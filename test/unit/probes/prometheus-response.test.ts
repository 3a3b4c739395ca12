// SPDX-License-Identifier: Apache-2.0
import test from 'ava';

import { queryUrl } from '../../../src/probes/checks/prometheus.js';
import { parseQueryResponse, sampleNumber } from '../../../src/probes/checks/prometheus-response.js';

const success = (resultType: string, result: unknown): string => JSON.stringify({ status: 'success', data: { resultType, result } });
const sample = (value: string, metric: Record<string, string> = {}): unknown => ({ metric, value: [1733500000.123, value] });

test('a scalar answer gives its value', (t) => {
  t.deepEqual(parseQueryResponse(200, success('scalar', [1733500000.123, '0.42'])), { ok: true, value: 0.42, text: '0.42' });
});

test('a vector of one sample gives its value', (t) => {
  t.deepEqual(parseQueryResponse(200, success('vector', [sample('3', { job: 'app' })])), { ok: true, value: 3, text: '3' });
  t.deepEqual(parseQueryResponse(200, success('vector', [sample('1e-05')])), { ok: true, value: 0.00001, text: '1e-05' });
});

test('NaN and infinities are read as Prometheus writes them', (t) => {
  const nan = parseQueryResponse(200, success('vector', [sample('NaN')]));
  t.true(nan.ok && Number.isNaN(nan.value) && nan.text === 'NaN');
  t.deepEqual(parseQueryResponse(200, success('scalar', [0, '+Inf'])), { ok: true, value: Number.POSITIVE_INFINITY, text: '+Inf' });
  t.deepEqual(parseQueryResponse(200, success('scalar', [0, '-Inf'])), { ok: true, value: Number.NEGATIVE_INFINITY, text: '-Inf' });
  t.is(sampleNumber('x'), undefined);
  t.is(sampleNumber(''), undefined);
});

test('an empty vector is "no samples"; several samples are named and an aggregation suggested', (t) => {
  t.deepEqual(parseQueryResponse(200, success('vector', [])), { ok: false, error: 'query returned no samples' });
  const several = parseQueryResponse(200, success('vector', [sample('1', { instance: 'a' }), sample('2', { instance: 'b' })]));
  t.false(several.ok);
  if (!several.ok) {
    t.regex(several.error, /^query returned 2 samples \(\{instance="a"\}, \{instance="b"\}\); it must return one: aggregate it, e\.g\. sum\(…\) or max\(…\)$/);
  }
  const many = parseQueryResponse(200, success('vector', [sample('1'), sample('2'), sample('3'), sample('4')]));
  if (!many.ok) t.regex(many.error, /4 samples \(\{\}, \{\}, \{\}, …\)/);
  else t.fail();
});

test('API errors, other result types and non-API bodies are errors that say so', (t) => {
  const bad = parseQueryResponse(400, JSON.stringify({ status: 'error', errorType: 'bad_data', error: 'invalid parameter "query": 1:5: parse error' }));
  t.deepEqual(bad, { ok: false, error: 'query failed (HTTP 400, bad_data): invalid parameter "query": 1:5: parse error' });
  const matrix = parseQueryResponse(200, success('matrix', [{ metric: {}, values: [[0, '1']] }]));
  t.deepEqual(matrix, { ok: false, error: 'query returned a matrix; it must be an instant vector of one sample or a scalar' });
  const html = parseQueryResponse(404, '<html>404 page not found</html>');
  t.false(html.ok);
  if (!html.ok) t.regex(html.error, /^HTTP 404: not a Prometheus API answer \(not JSON\)/);
  t.false(parseQueryResponse(200, '{"status":"success"}').ok);
  t.false(parseQueryResponse(200, success('vector', [{ metric: {}, value: [0, 5] }])).ok, 'a sample value must be a string');
  t.false(parseQueryResponse(200, success('scalar', [0, 'abc'])).ok);
});

test('the query URL keeps the endpoint\'s path prefix and encodes the query and timeout', (t) => {
  t.is(queryUrl('http://127.0.0.1:9090', 'up{job="x"} == 1', 1500), 'http://127.0.0.1:9090/api/v1/query?query=up%7Bjob%3D%22x%22%7D+%3D%3D+1&timeout=1500ms');
  t.is(queryUrl('http://h/prom/', 'up', 10), 'http://h/prom/api/v1/query?query=up&timeout=10ms');
});
