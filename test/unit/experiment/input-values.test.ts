// SPDX-License-Identifier: Apache-2.0
// Values faultd refuses with a message that says what was given and the allowed range:
// non-finite numbers (.nan, .inf, 1e400) and one param written in two spellings.
import test from 'ava';

import { parseExperimentText } from '../../../src/experiment/load.js';
import { validateExperiment } from '../../../src/experiment/schema.js';
import { REGISTRY } from '../../../src/faults/registry.js';
import { FAKE_VALIDATION } from '../../helpers/host.js';

function problems(fault: string): string[] {
  const text = `apiVersion: faultd/v1\nkind: Experiment\nmetadata: { name: x }\nspec:\n  steps:\n    - faults:\n        - ${fault}\n`;
  const result = validateExperiment(parseExperimentText(text, 'x.yaml'), REGISTRY, FAKE_VALIDATION);
  return result.ok ? [] : result.problems.map((p) => `${p.path.replace('spec.steps[0].faults[0].', '')}: ${p.message}`);
}

test('.nan, .inf and 1e400 are quoted as written, with the range the field takes', (t) => {
  t.deepEqual(problems('{ kind: linux-cpu-stress, params: { load: .nan } }'), ['params.load: must be a number in 0–100 (got ".nan")']);
  t.deepEqual(problems('{ kind: linux-cpu-stress, params: { load: .inf } }'), ['params.load: must be a number in 0–100 (got ".inf")']);
  t.deepEqual(problems('{ kind: linux-network-loss, params: { packetLossPercentage: -.inf } }'), ['params.packetLossPercentage: must be a number in 0–100 (got "-.inf")']);
  t.deepEqual(problems('{ kind: linux-cpu-stress, params: { load: 1e400 } }'), ['params.load: must be a number in 0–100 (got "1e400")']);
  t.deepEqual(problems('{ kind: linux-cpu-stress, duration: 1e400 }'), ['duration: must be a duration like "1m25s", "1h3m2s", "500ms" or a number of seconds, in 1ms–24h (got "1e400")']);
  t.deepEqual(problems('{ kind: linux-network-latency, params: { latency: .nan } }'), ['params.latency: must be milliseconds, as a number or like "200ms", in 1–600000 ms (got ".nan")']);
  t.deepEqual(problems('{ kind: linux-cpu-stress, params: { rampUp: .inf } }'), ['params.rampUp: must be a duration like "1m25s", "1h3m2s", "500ms" or a number of seconds, in 0s–24h (got ".inf")']);
});

test('a JSON document with a number too large for a double is quoted as written too', (t) => {
  const text = '{"apiVersion":"faultd/v1","kind":"Experiment","metadata":{"name":"x"},"spec":{"steps":[{"faults":[{"kind":"linux-cpu-stress","params":{"load":1e999}}]}]}}';
  const result = validateExperiment(parseExperimentText(text, 'x.json'), REGISTRY, FAKE_VALIDATION);
  t.false(result.ok);
  if (!result.ok) t.is(result.problems[0]?.message, 'must be a number in 0–100 (got "1e999")');
});

test('one param in two spellings is refused naming both, whatever their values', (t) => {
  t.deepEqual(problems('{ kind: linux-cpu-stress, params: { load: 10, LOAD: 20 } }'), ['params.LOAD: "load" and "LOAD" are two spellings of the param load; give it once']);
  t.deepEqual(problems('{ kind: linux-cpu-stress, params: { LOAD: 20, load: 20 } }'), ['params.load: "LOAD" and "load" are two spellings of the param load; give it once']);
  t.deepEqual(problems('{ kind: linux-cpu-stress, params: { DURATION: 10, TOTAL_CHAOS_DURATION: 10 } }'), ['params.TOTAL_CHAOS_DURATION: "DURATION" and "TOTAL_CHAOS_DURATION" are two spellings of the fault\'s duration; give it once']);
  t.deepEqual(problems('{ kind: linux-network-loss, params: { destinationPorts: 80, DESTINATION_PORTS: 443 } }'), ['params.DESTINATION_PORTS: "destinationPorts" and "DESTINATION_PORTS" are two spellings of the param destinationPorts; give it once']);
  t.deepEqual(problems('{ kind: linux-cpu-stress, params: { LOAD: 20 } }'), [], 'one spelling alone is fine');
});
