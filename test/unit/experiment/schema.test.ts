// SPDX-License-Identifier: Apache-2.0
import test from 'ava';

import { parseExperimentText } from '../../../src/experiment/load.js';
import { validateExperiment, type ValidationResult } from '../../../src/experiment/schema.js';
import { REGISTRY } from '../../../src/faults/registry.js';
import { FAKE_VALIDATION, GiB } from '../../helpers/host.js';

function experiment(fault: Record<string, unknown>, extra: Record<string, unknown> = {}): unknown {
  return { apiVersion: 'faultd/v1', kind: 'Experiment', metadata: { name: 'x' }, spec: { steps: [{ faults: [fault] }] }, ...extra };
}

function problems(result: ValidationResult): string[] {
  return result.ok ? [] : result.problems.map((p) => `${p.path}: ${p.message}`);
}

function rejects(t: import('ava').ExecutionContext, doc: unknown, ...expected: RegExp[]): void {
  const result = validateExperiment(doc, REGISTRY, FAKE_VALIDATION);
  t.false(result.ok, 'expected validation to fail');
  const text = problems(result).join('\n');
  for (const pattern of expected) t.regex(text, pattern);
}

test('a valid CPU fault gets Harness defaults', (t) => {
  const result = validateExperiment(experiment({ kind: 'linux-cpu-stress' }), REGISTRY, FAKE_VALIDATION);
  if (!result.ok) return t.fail(problems(result).join('\n'));
  const fault = result.experiment.steps[0]?.faults[0];
  t.is(fault?.durationMs, 30_000);
  t.is(fault?.rampTimeMs, 0);
  t.deepEqual(fault?.params, { load: 100, workers: 1, rampUp: 0 });
});

test('Harness tunables work unchanged: strings, upper case, duration inside params', (t) => {
  const doc = experiment({ kind: 'linux-cpu-stress', params: { LOAD: '70', WORKERS: '0', duration: '1m25s', RAMP_TIME: '5s' } });
  const result = validateExperiment(doc, REGISTRY, FAKE_VALIDATION);
  if (!result.ok) return t.fail(problems(result).join('\n'));
  const fault = result.experiment.steps[0]?.faults[0];
  t.is(fault?.durationMs, 85_000);
  t.is(fault?.rampTimeMs, 5000);
  t.like(fault?.params, { load: 70, workers: 4 });
});

test('memory accepts percentages of total memory and Harness units', (t) => {
  const doc = experiment({ kind: 'linux-memory-stress', params: { memory: '25%', workers: 2 } });
  const result = validateExperiment(doc, REGISTRY, FAKE_VALIDATION);
  if (!result.ok) return t.fail(problems(result).join('\n'));
  t.like(result.experiment.steps[0]?.faults[0]?.params, { memory: 2 * GiB, workers: 2, lock: false });
});

test('unknown kind names the field and the known kinds', (t) => {
  const known = [...REGISTRY.keys()].join(', ');
  const result = validateExperiment(experiment({ kind: 'linux-cpu-stres' }), REGISTRY, FAKE_VALIDATION);
  t.deepEqual(problems(result), [`spec.steps[0].faults[0].kind: unknown fault kind "linux-cpu-stres" (known: ${known})`]);
  t.true(known.includes('linux-cpu-stress') && known.includes('linux-network-partition'));
});

test('out-of-range load names field, value and range', (t) => {
  rejects(t, experiment({ kind: 'linux-cpu-stress', params: { load: 150 } }), /params\.load: must be in 0–100 \(got 150\)/);
});

test('workers above the online CPUs is refused with the bound', (t) => {
  rejects(t, experiment({ kind: 'linux-cpu-stress', params: { workers: 5 } }), /params\.workers: must be in 0–4 \(usable CPUs\) \(got 5\)/);
});

test('fractional workers is refused', (t) => {
  rejects(t, experiment({ kind: 'linux-cpu-stress', params: { workers: 1.5 } }), /params\.workers: must be a whole number/);
});

test('offline CPU in the affinity list is refused', (t) => {
  rejects(t, experiment({ kind: 'linux-cpu-stress', params: { cpus: '0-5' } }), /params\.cpus: CPU 4,5 is not usable here \(usable: 0,1,2,3: online and in faultd's affinity mask\)/);
});

test('bad duration string names the formats', (t) => {
  rejects(t, experiment({ kind: 'linux-cpu-stress', duration: '10 minutes' }), /faults\[0\]\.duration: must be a duration like "1m25s"/);
});

test('duration beyond 24h is refused', (t) => {
  rejects(t, experiment({ kind: 'linux-cpu-stress', duration: '25h' }), /duration: must be in 1ms–24h/);
});

test('rampUp longer than the duration is refused', (t) => {
  rejects(t, experiment({ kind: 'linux-cpu-stress', duration: '10s', params: { rampUp: '20s' } }), /params\.rampUp: must not exceed the fault's duration/);
});

test('memory above the MemAvailable fraction is refused with the limit', (t) => {
  rejects(t, experiment({ kind: 'linux-memory-stress', params: { memory: '3Gi', workers: 2 } }), /params\.memory: 3\.00 GiB × 2 worker\(s\) = 6\.00 GiB is outside 1Mi–4\.80 GiB \(80 % of MemAvailable 6\.00 GiB\)/);
});

test('unparseable memory size is refused', (t) => {
  rejects(t, experiment({ kind: 'linux-memory-stress', params: { memory: 'lots' } }), /params\.memory: must be a size like "512Mi"/);
});

test('unknown params and fields are refused by name', (t) => {
  rejects(t, experiment({ kind: 'linux-cpu-stress', params: { lod: 50 } }), /params: unknown field "lod"/);
  rejects(t, experiment({ kind: 'linux-cpu-stress', durration: '5s' }), /faults\[0\]: unknown field "durration"/);
});

test('wrong apiVersion and empty steps are refused', (t) => {
  rejects(t, { ...(experiment({ kind: 'linux-cpu-stress' }) as object), apiVersion: 'v2' }, /apiVersion: must be "faultd\/v1"/);
  rejects(t, { apiVersion: 'faultd/v1', kind: 'Experiment', metadata: { name: 'x' }, spec: { steps: [] } }, /spec\.steps: needs at least one step/);
});

test('duplicate fault names are refused', (t) => {
  const doc = { apiVersion: 'faultd/v1', kind: 'Experiment', metadata: { name: 'x' }, spec: { steps: [{ faults: [{ kind: 'linux-cpu-stress', name: 'a' }, { kind: 'linux-cpu-stress', name: 'a' }] }] } };
  rejects(t, doc, /faults\[1\]\.name: duplicate fault name "a"/);
});

test('conflicting duration inside and outside params is refused', (t) => {
  rejects(t, experiment({ kind: 'linux-cpu-stress', duration: '5s', params: { duration: '10s' } }), /params\.duration: conflicts with the fault's duration/);
});

test('YAML syntax errors carry file, line and column', (t) => {
  const error = t.throws(() => parseExperimentText('spec:\n  steps: [\n', 'bad.yaml'));
  t.regex(error.message, /^bad\.yaml:\d+:\d+: /);
  t.is((error as { code?: string }).code, 'FAULTD_ERR_INPUT_SYNTAX');
});

test('parallel memory faults share one budget', (t) => {
  const fault = { kind: 'linux-memory-stress', params: { memory: '3Gi' } };
  const doc = { apiVersion: 'faultd/v1', kind: 'Experiment', metadata: { name: 'x' }, spec: { steps: [{ faults: [{ ...fault, name: 'a' }, { ...fault, name: 'b' }] }] } };
  rejects(t, doc, /spec\.steps\[0\]: its faults together hold 6\.00 GiB of RAM \(memory stress, and fills of tmpfs or ramfs\), more than 4\.80 GiB \(--max-memory-fraction 80 % of MemAvailable\)/);
});

test('lock beyond RLIMIT_MEMLOCK without CAP_IPC_LOCK is refused at validation', (t) => {
  rejects(t, experiment({ kind: 'linux-memory-stress', params: { memory: '64Mi', lock: true } }), /params\.lock: needs CAP_IPC_LOCK, or RLIMIT_MEMLOCK of at least 64\.00 MiB \(it is 8\.00 MiB\)/);
});

test('fractional seconds are rounded to whole milliseconds', (t) => {
  const result = validateExperiment(experiment({ kind: 'linux-cpu-stress', duration: 2, params: { rampUp: 1.005 } }), REGISTRY, FAKE_VALIDATION);
  if (!result.ok) return t.fail(problems(result).join('\n'));
  t.like(result.experiment.steps[0]?.faults[0]?.params, { rampUp: 1005 });
});
