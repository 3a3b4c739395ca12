// SPDX-License-Identifier: Apache-2.0
// Two `faultd agent` processes (two state directories, so two agent ids) with the same
// credentials against one hub: the first binds the infrastructure and runs its experiment; the
// second logs the refusal naming both hosts and runs nothing; once the first is gone and the
// infrastructure released, the second takes over without a restart.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import { finish, runCli, startCli, workspace, type CliChild, type Workspace } from '../helpers/cli.js';
import { startHub, type TestHub } from '../helpers/hub.js';
import { privilegedTest as test } from '../helpers/privileged.js';
import { waitUntil } from '../helpers/processes.js';

const EXPERIMENT = {
  apiVersion: 'faultd/v1',
  kind: 'Experiment',
  metadata: { name: 'binding-e2e' },
  spec: { steps: [{ faults: [{ kind: 'linux-cpu-stress', name: 'cpu', duration: '1s', params: { load: 10, workers: 1 } }] }] },
};

/** Writes into `ws` an agent config for infrastructure `infraId` with `accessKey` (each agent its own copy). */
function configure(hub: TestHub, ws: Workspace, infraId: string, accessKey: string): void {
  const keyFile = path.join(ws.dir, 'access-key');
  writeFileSync(keyFile, `${accessKey}\n`, { mode: 0o600 });
  const caFile = ws.file('ca.pem', hub.ca);
  ws.file('config.yaml', [
    'hub:', `  url: ${hub.url}`, `  infraId: ${infraId}`, `  accessKeyFile: ${keyFile}`, `  caFile: ${caFile}`,
    'agent:', '  heartbeatInterval: 1s', '  runningHeartbeatInterval: 1s', '  pollWait: 1s', '  disconnectTimeout: 30s', '',
  ].join('\n'));
}

/** Starts `faultd agent` in `ws`, collecting its output; killed and its remnants reverted at teardown. */
function launch(t: { teardown(fn: () => void | Promise<void>): void }, ws: Workspace): { child: CliChild; output: () => string; done: Promise<unknown> } {
  const child = startCli(['--log-format', 'json', 'agent'], ws.stateDir);
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const done = finish(child);
  t.teardown(async () => {
    child.kill('SIGKILL');
    await done;
    await runCli(['revert', '--remnants', '--force'], ws.stateDir);
  });
  return { child, output: () => output, done };
}

test('two faultd agents with one key: the second is refused and runs nothing; after release it takes over', async (t) => {
  t.timeout(120_000);
  const hub = await startHub(t);
  const { id, accessKey } = await hub.service.createInfra('edge-1');
  const [ws1, ws2] = [workspace(), workspace()];
  t.teardown(() => [ws1, ws2].forEach((ws) => ws.remove()));
  configure(hub, ws1, id, accessKey);
  configure(hub, ws2, id, accessKey);
  const binding = async () => (await hub.service.listInfras())[0]?.binding;

  const first = launch(t, ws1);
  t.true(await waitUntil(async () => (await binding()) !== undefined, 15_000), 'the first agent binds edge-1');
  const firstId = readFileSync(path.join(ws1.stateDir, 'agent-id'), 'utf8').trim();
  t.is((await binding())?.agentId, firstId);

  const second = launch(t, ws2);
  t.true(await waitUntil(() => /the hub refuses this agent/.test(second.output()), 15_000), second.output());
  const refusal = second.output().split('\n').find((l) => /the hub refuses this agent/.test(l)) ?? '';
  t.regex(refusal, /"level":50/, 'logged as an error');
  t.regex(refusal, /bound to the agent on \S+ \(agent [0-9a-f]{8}, since .*refused the agent on \S+ \(agent [0-9a-f]{8}\).*faultd hub infra release edge-1/);

  const run = await hub.service.queueRun('edge-1', EXPERIMENT);
  t.true(await waitUntil(async () => (await hub.service.run(run.id))?.state === 'finished', 20_000), 'the first agent runs it');
  t.regex(first.output(), new RegExp(`"runId":"${run.id}".*"msg":"task received"`));
  t.false(second.output().includes(run.id), 'the refused agent never saw the run');
  t.is(second.output().split('\n').filter((l) => /the hub refuses this agent/.test(l)).length, 1, 'one error for one refusal, however often it retried');
  t.false(/"level":40[^\n]*(heartbeat|task poll) failed/.test(second.output()), 'the retries are not logged as warnings');

  // The first host goes away (re-installed); the operator releases edge-1; the second takes over.
  first.child.kill('SIGTERM');
  await first.done;
  t.truthy(await hub.service.releaseAgent('edge-1'));
  const releasedAt = Date.now();
  const next = await hub.service.queueRun('edge-1', EXPERIMENT);
  // Its polls back off, but at most a heartbeat period (1 s here) while refused.
  t.true(await waitUntil(async () => (await hub.service.run(next.id))?.state !== 'queued', 5_000), `the second agent takes the run within a few heartbeat periods: ${second.output()}`);
  t.log(`run taken ${Date.now() - releasedAt} ms after the release (heartbeatInterval 1 s)`);
  t.true(await waitUntil(async () => (await hub.service.run(next.id))?.state === 'finished', 20_000), `the second agent runs it: ${second.output()}`);
  t.is((await binding())?.agentId, readFileSync(path.join(ws2.stateDir, 'agent-id'), 'utf8').trim());
  t.regex(second.output(), /the hub accepts this agent on its infrastructure now/);
});
