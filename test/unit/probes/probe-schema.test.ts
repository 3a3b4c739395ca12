// SPDX-License-Identifier: Apache-2.0
/** The `probes` lists of faultd/v1: Harness names and defaults, scopes, and refusals by field. */
import { readFileSync } from 'node:fs';
import path from 'node:path';

import test from 'ava';

import { parseExperimentText } from '../../../src/experiment/load.js';
import { validateExperiment, type ValidationResult } from '../../../src/experiment/schema.js';
import { REGISTRY } from '../../../src/faults/registry.js';
import { DEFAULT_RUN_PROPERTIES } from '../../../src/probes/schema.js';
import { REPO_ROOT } from '../../helpers/cli.js';
import { FAKE_VALIDATION } from '../../helpers/host.js';

const CPU = { kind: 'linux-cpu-stress', name: 'cpu', duration: '10s' };

function doc(o: { probes?: unknown[]; stepProbes?: unknown[]; faultProbes?: unknown[]; faults?: unknown[] } = {}): unknown {
  const faults = o.faults ?? [{ ...CPU, ...(o.faultProbes ? { probes: o.faultProbes } : {}) }];
  return {
    apiVersion: 'faultd/v1',
    kind: 'Experiment',
    metadata: { name: 'x' },
    spec: { ...(o.probes ? { probes: o.probes } : {}), steps: [{ ...(o.stepProbes ? { probes: o.stepProbes } : {}), faults }] },
  };
}

const web = { name: 'web', type: 'http', mode: 'Continuous', url: 'http://127.0.0.1:8080/health', criteria: { responseCode: 200 } };

function problems(result: ValidationResult): string {
  return result.ok ? '' : result.problems.map((p) => `${p.path}: ${p.message}`).join('\n');
}

function refuses(t: import('ava').ExecutionContext, input: unknown, ...expected: RegExp[]): void {
  const result = validateExperiment(input, REGISTRY, FAKE_VALIDATION);
  t.false(result.ok, 'expected a refusal');
  for (const pattern of expected) t.regex(problems(result), pattern);
}

test("the issue's example parses with Harness's run properties, in ms", (t) => {
  const text = `
apiVersion: faultd/v1
kind: Experiment
metadata: { name: x }
spec:
  probes:
    - name: web
      type: http
      mode: Continuous
      url: http://127.0.0.1:8080/health
      criteria: { responseCode: 200 }
      runProperties: { probeTimeout: 1s, interval: 500ms, attempt: 1, probePollingInterval: 500ms, stopOnFailure: false }
  steps:
    - faults: [{ kind: linux-cpu-stress, duration: 5s }]
`;
  const result = validateExperiment(parseExperimentText(text, 'x.yaml'), REGISTRY, FAKE_VALIDATION);
  if (!result.ok) return t.fail(problems(result));
  const [probe] = result.experiment.probes;
  t.deepEqual(probe?.runProperties, { probeTimeoutMs: 1000, intervalMs: 500, attempt: 1, probePollingIntervalMs: 500, initialDelayMs: 0, stopOnFailure: false });
  t.deepEqual(probe?.scope, { level: 'experiment' });
  t.deepEqual(probe?.check, { type: 'http', url: 'http://127.0.0.1:8080/health', method: 'GET', headers: {}, insecureSkipVerify: false, criteria: { responseCode: { type: 'int', criteria: '==', value: 200 } } });
  t.is(result.experiment.steps[0]?.faults[0]?.weight, 10, 'Harness default weight');
});

test('run properties default to faultd values; Harness spelling intialDelay is accepted', (t) => {
  const result = validateExperiment(doc({ probes: [{ ...web, runProperties: { intialDelay: '2s' } }, { ...web, name: 'plain' }] }), REGISTRY, FAKE_VALIDATION);
  if (!result.ok) return t.fail(problems(result));
  t.is(result.experiment.probes[0]?.runProperties.initialDelayMs, 2000);
  t.deepEqual(result.experiment.probes[1]?.runProperties, DEFAULT_RUN_PROPERTIES);
});

test('probes on a step and on a fault get their scope; weights are kept', (t) => {
  const result = validateExperiment(doc({ stepProbes: [{ ...web, name: 'step-web' }], faults: [{ ...CPU, weight: 3, probes: [{ ...web, name: 'fault-web', mode: 'OnChaos' }] }] }), REGISTRY, FAKE_VALIDATION);
  if (!result.ok) return t.fail(problems(result));
  t.deepEqual(
    result.experiment.probes.map((p) => [p.name, p.scope]),
    [
      ['step-web', { level: 'step', step: 0 }],
      ['fault-web', { level: 'fault', step: 0, faultId: 'cpu' }],
    ],
  );
  t.is(result.experiment.steps[0]?.faults[0]?.weight, 3);
});

test('cmd probes: argv without a shell, comparator shape, default exit code == 0', (t) => {
  const result = validateExperiment(
    doc({ probes: [{ name: 'count', type: 'cmd', mode: 'Edge', command: 'wc -l /etc/hosts', criteria: { stdout: { type: 'int', criteria: '>=', value: '1' } } }] }),
    REGISTRY,
    FAKE_VALIDATION,
  );
  if (!result.ok) return t.fail(problems(result));
  t.deepEqual(result.experiment.probes[0]?.check, {
    type: 'cmd',
    command: ['wc', '-l', '/etc/hosts'],
    shell: false,
    env: {},
    criteria: { exitCode: { type: 'int', criteria: '==', value: 0 }, stdout: { type: 'int', criteria: '>=', value: 1 } },
  });
});

test('prometheus probes: float by default, endpoint without a trailing slash', (t) => {
  const result = validateExperiment(doc({ probes: [{ name: 'errors', type: 'prometheus', mode: 'EOT', endpoint: 'http://127.0.0.1:9090/', query: 'sum(rate(x[1m]))', criteria: { value: { criteria: '<', value: 0.5 } } }] }), REGISTRY, FAKE_VALIDATION);
  if (!result.ok) return t.fail(problems(result));
  t.deepEqual(result.experiment.probes[0]?.check, { type: 'prometheus', endpoint: 'http://127.0.0.1:9090', query: 'sum(rate(x[1m]))', criteria: { value: { type: 'float', criteria: '<', value: 0.5 } } });
});

test('bad probes are refused by field, with the allowed range', (t) => {
  refuses(t, doc({ probes: [{ ...web, mode: 'Sometimes' }] }), /spec\.probes\[0\]\.mode: must be one of SOT, EOT, Edge, Continuous, OnChaos/);
  refuses(t, doc({ probes: [{ ...web, type: 'ping' }] }), /spec\.probes\[0\]\.type: type must be http, cmd or prometheus/);
  refuses(t, doc({ probes: [{ ...web, runProperties: { attempt: 0 } }] }), /spec\.probes\[0\]\.runProperties\.attempt/);
  refuses(t, doc({ probes: [{ ...web, runProperties: { probePollingInterval: '10ms' } }] }), /runProperties\.probePollingInterval: must be in 100ms–1h/);
  refuses(t, doc({ probes: [{ ...web, runProperties: { verbosity: 'info' } }] }), /unknown field "verbosity"/);
  refuses(t, doc({ probes: [{ ...web, criteria: { responseCode: 700 } }] }), /criteria\.responseCode: must be an HTTP status code 100–599/);
  refuses(t, doc({ probes: [{ ...web, criteria: { responseCode: { criteria: '<', value: 500 } } }] }), /responseCode\.criteria: must be one of == != oneOf here/);
  refuses(t, doc({ probes: [{ ...web, criteria: { responseCode: { criteria: 'oneOf', value: 200 } } }] }), /must be a list for oneOf/);
  refuses(t, doc({ probes: [{ ...web, body: 'x' }] }), /spec\.probes\[0\]\.body: is only sent with method: POST/);
  refuses(t, doc({ probes: [{ ...web, url: 'ftp://x' }] }), /spec\.probes\[0\]\.url: must be an http:\/\/ or https:\/\/ URL/);
  refuses(t, doc({ probes: [{ name: 'c', type: 'cmd', mode: 'SOT', command: 'cat /x | grep y' }] }), /command: has shell syntax .* set shell: true/);
  refuses(t, doc({ probes: [{ name: 'c', type: 'cmd', mode: 'SOT', command: 'x', criteria: { stdout: { type: 'int', criteria: 'contains', value: '1' } } }] }), /stdout\.type: must be string for contains/);
  refuses(t, doc({ probes: [{ name: 'c', type: 'cmd', mode: 'SOT', command: 'x', criteria: { stdout: { criteria: 'matches', value: '(' } } }] }), /stdout\.value: is not a valid regular expression/);
  refuses(t, doc({ probes: [{ ...web, criteria: { responseCode: 200, body: { jsonPath: '$.a[', criteria: '==', value: 1 } } }] }), /criteria\.body\.jsonPath: /);
  refuses(t, doc({ probes: [web, web] }), /spec\.probes\[1\]\.name: duplicate probe name "web"/);
  refuses(t, doc({ faults: [{ ...CPU, weight: 11 }] }), /faults\[0\]\.weight: must be 1–10/);
});

test('a probe whose target a fault of its step cuts is warned about, not refused', (t) => {
  const partition = { kind: 'linux-network-partition', name: 'cut', params: { networkInterfaces: 'lo', destinationPorts: '8080' } };
  const warned = validateExperiment(doc({ probes: [web], faults: [partition] }), REGISTRY, FAKE_VALIDATION);
  if (!warned.ok) return t.fail(problems(warned));
  t.is(warned.warnings.length, 1);
  t.regex(warned.warnings[0]?.message ?? '', /fault "cut" \(linux-network-partition\) of step 1 covers this probe's target: its traffic to 127\.0\.0\.1:8080 crosses lo.*not evaluated while that fault is applied; set evaluateWhenCut: true/);
  t.deepEqual(warned.experiment.probes[0]?.cutBy, ['cut']);
  const asked = validateExperiment(doc({ probes: [{ ...web, evaluateWhenCut: true }], faults: [partition] }), REGISTRY, FAKE_VALIDATION);
  t.deepEqual(asked.ok ? [asked.warnings, asked.experiment.probes[0]?.cutBy] : ['invalid'], [[], ['cut']], 'asked for: no warning, still known');
  const otherPort = validateExperiment(doc({ probes: [{ ...web, url: 'http://127.0.0.1:9000/' }], faults: [partition] }), REGISTRY, FAKE_VALIDATION);
  t.deepEqual(otherPort.ok ? otherPort.warnings : ['invalid'], []);
  const otherInterface = validateExperiment(doc({ probes: [web], faults: [{ ...partition, params: { networkInterfaces: 'eth0', destinationPorts: '8080' } }] }), REGISTRY, FAKE_VALIDATION);
  t.deepEqual(otherInterface.ok ? otherInterface.warnings : ['invalid'], [], 'loopback traffic does not cross eth0');
  const dnsFault = (hostNames: string) => doc({ probes: [{ ...web, url: 'http://service.internal/health' }], faults: [{ kind: 'linux-dns-error', name: 'dns', params: { hostNames } }] });
  const dns = validateExperiment(dnsFault('service.internal'), REGISTRY, FAKE_VALIDATION);
  t.regex(dns.ok ? (dns.warnings[0]?.message ?? '') : problems(dns), /resolves service\.internal through the faulted DNS/);
  const otherName = validateExperiment(dnsFault('other.example'), REGISTRY, FAKE_VALIDATION);
  t.deepEqual(otherName.ok ? otherName.warnings : ['invalid'], []);
});

test('examples/probes.yaml validates: three command probes in three modes and scopes', (t) => {
  const text = readFileSync(path.join(REPO_ROOT, 'examples', 'probes.yaml'), 'utf8');
  const result = validateExperiment(parseExperimentText(text, 'probes.yaml'), REGISTRY, FAKE_VALIDATION);
  if (!result.ok) return t.fail(problems(result));
  t.deepEqual(
    result.experiment.probes.map((p) => [p.name, p.mode, p.scope.level]),
    [
      ['rootfs-readable', 'Edge', 'experiment'],
      ['load-below-16', 'OnChaos', 'fault'],
      ['responsive', 'Continuous', 'fault'],
    ],
  );
  t.deepEqual(result.warnings, []);
});
