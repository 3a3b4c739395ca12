// SPDX-License-Identifier: Apache-2.0
// Validation consults only the feature probes of the context it is given: every registered
// kind validates with recording fakes while the native build directory points nowhere, so a
// hidden loadNative() or stressor lookup would fail the test; and no fault or host module
// imports the loader.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

import test from 'ava';

import { validateExperiment } from '../../../src/experiment/schema.js';
import { REGISTRY } from '../../../src/faults/registry.js';
import type { ValidationContext } from '../../../src/faults/types.js';
import { REPO_ROOT } from '../../helpers/cli.js';
import { recordingFeatureProbe } from '../../helpers/fake.js';
import { FAKE_VALIDATION } from '../../helpers/host.js';

// Read by src/native/load.ts at each call: any load of the addon or the stressor now throws.
process.env['FAULTD_NATIVE_DIR'] = '/nonexistent/faultd-native';

function validateWith(ctx: ValidationContext, kind: string, params: Record<string, unknown>) {
  return validateExperiment(
    { apiVersion: 'faultd/v1', kind: 'Experiment', metadata: { name: 'x' }, spec: { steps: [{ faults: [{ kind, params }] }] } },
    REGISTRY,
    ctx,
  );
}

test('every kind validates through the injected probes only', (t) => {
  const asking: string[] = [];
  for (const kind of REGISTRY.keys()) {
    const { features, calls } = recordingFeatureProbe();
    const ctx: ValidationContext = { ...FAKE_VALIDATION, features };
    t.notThrows(() => validateWith(ctx, kind, {}), kind);
    if (calls.length > 0) asking.push(kind);
    if (!kind.startsWith('linux-network-') && !kind.startsWith('linux-dns-') && !kind.startsWith('linux-api-')) t.deepEqual(calls, [], `${kind} needs no kernel feature`);
  }
  // The kinds that choose their mechanism by what the kernel has, or need a kernel feature.
  for (const kind of ['linux-network-latency', 'linux-network-loss', 'linux-network-partition', 'linux-dns-error', 'linux-api-block']) t.true(asking.includes(kind), `${kind} asks the injected probes`);
});

test('the injected answers decide: latency without netem takes the NFQUEUE delayer, and neither is refused', (t) => {
  const withoutNetem = recordingFeatureProbe(new Set(['qdisc:netem']));
  const result = validateWith({ ...FAKE_VALIDATION, features: withoutNetem.features }, 'linux-network-latency', { latency: 100 });
  if (!result.ok) throw new Error(JSON.stringify(result.problems));
  t.like(result.experiment.steps[0]?.faults[0]?.params, { mechanism: 'nfqueue' });
  t.true(withoutNetem.calls.includes('qdisc:netem'));
  t.true(withoutNetem.calls.includes('nfqueue'));

  const neither = recordingFeatureProbe(new Set(['qdisc:netem', 'nfqueue']));
  const refused = validateWith({ ...FAKE_VALIDATION, features: neither.features }, 'linux-network-latency', { latency: 100 });
  t.false(refused.ok);
  t.regex(refused.ok ? '' : refused.problems.map((p) => p.message).join('\n'), /fake: no qdisc:netem; fake: no nfqueue/);
});

test('the faults and host modules never load the addon or find the stressor themselves', (t) => {
  const offenders: string[] = [];
  const scan = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const file = path.join(dir, entry.name);
      if (entry.isDirectory()) scan(file);
      else if (entry.name.endsWith('.ts') && /from '(\.\.\/)+native\/load\.js'/.test(readFileSync(file, 'utf8'))) offenders.push(path.relative(REPO_ROOT, file));
    }
  };
  for (const dir of ['src/faults', 'src/host']) scan(path.join(REPO_ROOT, dir));
  t.deepEqual(offenders, []);
});
