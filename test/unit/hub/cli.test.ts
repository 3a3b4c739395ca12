// SPDX-License-Identifier: Apache-2.0
// `faultd hub …` commands on a hub directory of the test's own.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import test from 'ava';

import { runCli } from '../../helpers/cli.js';

test('hub init, infra create/list, run, runs, abort, result, logs; errors exit 2', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'faultd-hubcli-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const hub = (...args: string[]) => runCli(['hub', '--hub-dir', dir, ...args], path.join(dir, 'state'));
  const init = await hub('init');
  t.is(init.code, 0, init.stderr);
  t.regex(init.stdout, /CA certificate for agents \(config caFile\): .*tls\/ca\.pem/);
  t.regex((await hub('init')).stdout, /already exist; nothing changed/);
  const created = await hub('infra', 'create', 'edge-1');
  t.regex(created.stdout, /infra id: {3}inf_\S+\naccess key: fdk_\S+/);
  t.regex((await hub('infra', 'list')).stdout, /edge-1\s+NEVER_SEEN/);
  const file = path.join(dir, 'exp.yaml');
  writeFileSync(file, 'apiVersion: faultd/v1\nkind: Experiment\nmetadata: { name: x }\nspec:\n  steps:\n    - faults:\n        - kind: linux-cpu-stress\n          duration: 1s\n');
  const queued = await hub('run', '--infra', 'edge-1', file);
  t.is(queued.code, 0, queued.stderr);
  const runId = /Queued run (run_\S+)/.exec(queued.stdout)?.[1] ?? '';
  t.truthy(runId);
  t.regex((await hub('runs')).stdout, new RegExp(`${runId}\\s+edge-1\\s+queued`));
  t.regex((await hub('abort', runId)).stdout, /was still queued: cancelled/);
  t.regex((await hub('result', runId)).stdout, new RegExp(`Run ${runId}: cancelled`));
  t.is((await hub('logs', runId)).code, 0);
  const unknown = await hub('run', '--infra', 'nope', file);
  t.is(unknown.code, 2);
  t.regex(unknown.stderr, /no infrastructure named "nope"/);
  const notExperiment = path.join(dir, 'bad.yaml');
  writeFileSync(notExperiment, 'apiVersion: v0\n');
  const bad = await hub('run', '--infra', 'edge-1', notExperiment);
  t.is(bad.code, 2);
  t.regex(bad.stderr, /not a faultd\/v1 experiment: apiVersion/);
});
