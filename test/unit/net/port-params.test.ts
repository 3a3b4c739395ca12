// SPDX-License-Identifier: Apache-2.0
// The network faults' port tunables through experiment validation: YAML numbers and lists of
// numbers are the natural spelling and are taken everywhere a port list is.
import test from 'ava';

import { parseExperimentText } from '../../../src/experiment/load.js';
import { validateExperiment } from '../../../src/experiment/schema.js';
import { REGISTRY } from '../../../src/faults/registry.js';
import { FAKE_VALIDATION } from '../../helpers/host.js';

function validateYaml(params: string) {
  const text = `apiVersion: faultd/v1\nkind: Experiment\nmetadata: { name: x }\nspec:\n  steps:\n    - faults:\n        - kind: linux-network-loss\n          params: ${params}\n`;
  return validateExperiment(parseExperimentText(text, 'x.yaml'), REGISTRY, FAKE_VALIDATION);
}

function paramsOf(params: string): unknown {
  const result = validateYaml(params);
  if (!result.ok) throw new Error(result.problems.map((p) => `${p.path}: ${p.message}`).join('\n'));
  return result.experiment.steps[0]?.faults[0]?.params;
}

test('destinationPorts and sourcePorts take a YAML number and a YAML list of numbers', (t) => {
  t.like(paramsOf('{ destinationPorts: [80, 443] }'), { destinationPorts: { include: [80, 443], exclude: [] } });
  t.like(paramsOf('{ destinationPorts: 80 }'), { destinationPorts: { include: [80], exclude: [] } });
  t.like(paramsOf('{ sourcePorts: [8080] }'), { sourcePorts: { include: [8080], exclude: [] } });
  t.like(paramsOf('{ SOURCE_PORTS: 8080, DESTINATION_PORTS: ["!22", 443] }'), { sourcePorts: { include: [8080] }, destinationPorts: { include: [443], exclude: [22] } });
  t.like(paramsOf('{ destinationIPs: "10.0.0.1|80|443" }'), { destinationIPs: [{ address: '10.0.0.1', ports: [80, 443] }] });
});

test('a bad port number is refused naming the field and the range', (t) => {
  const result = validateYaml('{ destinationPorts: [80, 70000] }');
  t.false(result.ok);
  if (result.ok) return;
  t.deepEqual(result.problems.map((p) => `${p.path}: ${p.message}`), ['spec.steps[0].faults[0].params.destinationPorts: port 70000 is not in 1–65535']);
  const wrongType = validateYaml('{ sourcePorts: { http: 80 } }');
  t.false(wrongType.ok);
  if (!wrongType.ok) t.regex(wrongType.problems[0]?.message ?? '', /must be a port \(1–65535\), a comma list such as "80,443" or "!22", or a YAML list of ports/);
});
