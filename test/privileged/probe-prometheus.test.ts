// SPDX-License-Identifier: Apache-2.0
// The prometheus check against a real Prometheus (Debian's package) on 127.0.0.1, scraping every
// second an exporter the test serves; one Prometheus for the file. Each change the test makes to
// a gauge is awaited through Prometheus's own API before the check is asked.
import anyTest from 'ava';

import { createPrometheusCheck } from '../../src/probes/checks/prometheus.js';
import type { Comparison, ProbeCheck } from '../../src/probes/types.js';
import { rootOrReason } from '../helpers/host.js';
import { privilegedTest as test } from '../helpers/privileged.js';
import { startPrometheus, type PrometheusServer } from '../helpers/prometheus.js';

const NEVER = new AbortController().signal;
let prometheus: PrometheusServer | undefined;
const checks: ProbeCheck[] = [];

anyTest.before(async () => {
  if (rootOrReason() === undefined) prometheus = await startPrometheus();
});

anyTest.after.always(async () => {
  await Promise.all(checks.map((c) => c.close()));
  await prometheus?.stop();
});

function server(): PrometheusServer {
  if (!prometheus) throw new Error('Prometheus did not start');
  return prometheus;
}

function check(query: string, value: Comparison, endpoint = server().endpoint): ProbeCheck {
  const made = createPrometheusCheck({ type: 'prometheus', endpoint, query, criteria: { value } });
  checks.push(made);
  return made;
}

test('a query whose value passes, then fails once the gauge changes and is scraped', async (t) => {
  const p = server();
  p.exporter.set('faultd_test_ready_replicas', 3);
  await p.waitForValue('faultd_test_ready_replicas', '3');
  const probe = check('faultd_test_ready_replicas', { type: 'int', criteria: '>=', value: 2 });
  const passing = await probe.attempt(2000, NEVER);
  t.like(passing, { passed: true, observed: '3', criterion: 'value (int) >= 2' });
  t.is(passing.error, undefined);
  p.exporter.set('faultd_test_ready_replicas', 1);
  await p.waitForValue('faultd_test_ready_replicas', '1');
  t.like(await probe.attempt(2000, NEVER), { passed: false, observed: '1' });
});

test('a PromQL expression with a float criterion, and a scalar result', async (t) => {
  const p = server();
  p.exporter.set('faultd_test_errors', 5, { code: '500' });
  p.exporter.set('faultd_test_errors', 95, { code: '200' });
  await p.waitForValue('sum(faultd_test_errors)', '100');
  const ratio = check('sum(faultd_test_errors{code="500"}) / sum(faultd_test_errors)', { type: 'float', criteria: '<', value: 0.1 });
  t.like(await ratio.attempt(2000, NEVER), { passed: true, observed: '0.05' });
  p.exporter.set('faultd_test_errors', 45, { code: '500' });
  p.exporter.set('faultd_test_errors', 55, { code: '200' });
  await p.waitForValue('faultd_test_errors{code="500"}', '45');
  await p.waitForValue('faultd_test_errors{code="200"}', '55');
  t.like(await ratio.attempt(2000, NEVER), { passed: false, observed: '0.45' });
  t.like(await check('scalar(sum(faultd_test_errors))', { type: 'int', criteria: '==', value: 100 }).attempt(2000, NEVER), { passed: true, observed: '100' });
});

test('no samples: an error that says so', async (t) => {
  const outcome = await check('faultd_test_never_exported', { type: 'int', criteria: '==', value: 1 }).attempt(2000, NEVER);
  t.like(outcome, { passed: false, error: 'query returned no samples' });
  t.deepEqual(await server().query('faultd_test_never_exported'), { status: 'success', data: { resultType: 'vector', result: [] } }, 'Prometheus itself has no sample');
});

test('several samples: an error naming how many and suggesting an aggregation; aggregated it passes', async (t) => {
  const p = server();
  for (const instance of ['a', 'b', 'c']) p.exporter.set('faultd_test_queue_depth', 4, { instance });
  await p.waitForValue('count(faultd_test_queue_depth)', '3');
  const outcome = await check('faultd_test_queue_depth', { type: 'int', criteria: '<', value: 10 }).attempt(2000, NEVER);
  t.false(outcome.passed);
  t.regex(outcome.error ?? '', /^query returned 3 samples \(\{.*instance="a".*\}, \{.*\}, \{.*\}\); it must return one: aggregate it, e\.g\. sum\(…\) or max\(…\)$/);
  t.like(await check('max(faultd_test_queue_depth)', { type: 'int', criteria: '<', value: 10 }).attempt(2000, NEVER), { passed: true, observed: '4' });
});

test('NaN fails every numeric comparison with a clear message; +Inf compares as infinity', async (t) => {
  const p = server();
  p.exporter.set('faultd_test_odd', 'NaN', { kind: 'nan' });
  p.exporter.set('faultd_test_odd', '+Inf', { kind: 'inf' });
  await p.waitForValue('faultd_test_odd{kind="nan"}', 'NaN');
  await p.waitForValue('faultd_test_odd{kind="inf"}', '+Inf');
  const nan = await check('faultd_test_odd{kind="nan"}', { type: 'float', criteria: '!=', value: 0 }).attempt(2000, NEVER);
  t.like(nan, { passed: false, observed: 'NaN' });
  t.regex(nan.error ?? '', /NaN.*fails every numeric comparison/);
  t.like(await check('faultd_test_odd{kind="inf"}', { type: 'float', criteria: '>', value: 1e308 }).attempt(2000, NEVER), { passed: true, observed: '+Inf' });
});

test('a malformed query is Prometheus\'s own error; a dead endpoint is refused', async (t) => {
  const bad = await check('sum(', { type: 'int', criteria: '==', value: 1 }).attempt(2000, NEVER);
  t.false(bad.passed);
  t.regex(bad.error ?? '', /^query failed \(HTTP 400, bad_data\): .*parse error/);
  const dead = await check('up', { type: 'int', criteria: '==', value: 1 }, 'http://127.0.0.1:1').attempt(2000, NEVER);
  t.regex(dead.error ?? '', /ECONNREFUSED/);
});
