// SPDX-License-Identifier: Apache-2.0
// Probes end to end as root: `faultd run` with http, cmd and prometheus probes against real
// servers the tests start (an HTTP server whose health the test flips during the fault, a file a
// command probe reads, Debian's Prometheus scraping an exporter the test serves), and a run
// through a real hub and `faultd agent` that carries the probes and the score to `hub result`.
import { chmodSync, writeFileSync } from 'node:fs';

import type { ExecutionContext } from 'ava';

import { configureAgent, launchAgent, waitForState } from '../helpers/agent-process.js';
import { finish, runCli, runWorkspace, waitForLine, workspace, type CliChild } from '../helpers/cli.js';
import { probeTarget } from '../helpers/http-servers.js';
import { startHub } from '../helpers/hub.js';
import { privilegedTest as test } from '../helpers/privileged.js';
import { startPrometheus } from '../helpers/prometheus.js';

interface LogLine {
  readonly time: number;
  readonly msg: string;
  readonly probe?: string;
  readonly phase?: string;
  readonly passed?: boolean;
  readonly resilienceScore?: number | null;
  readonly stoppedBy?: { probe: string };
  readonly probes?: { name: string; evaluations: number; passed: number }[];
  readonly probeFaults?: { faultId: string; successPercent?: number; evaluations: number; weight: number }[];
}

/** Every pino JSON line of a finished `faultd run --log-format json`, in order. */
function logLines(stdout: string): LogLine[] {
  return stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as LogLine);
}

function indexOf(lines: readonly LogLine[], msg: string): number {
  const index = lines.findIndex((l) => l.msg === msg);
  if (index < 0) throw new Error(`no "${msg}" line in ${lines.map((l) => l.msg).join(' | ')}`);
  return index;
}

const runProperties = { probeTimeout: '1s', interval: '100ms', attempt: 1, probePollingInterval: '200ms' };

function experiment(probes: readonly Record<string, unknown>[], fault: Record<string, unknown> = {}): string {
  return JSON.stringify({
    apiVersion: 'faultd/v1',
    kind: 'Experiment',
    metadata: { name: 'probes-e2e' },
    spec: { probes, steps: [{ faults: [{ kind: 'linux-cpu-stress', name: 'cpu', duration: '3s', params: { load: 10, workers: 1 }, ...fault }] }] },
  });
}

function start(t: ExecutionContext, yaml: string, ...extra: string[]): { child: CliChild; file: string } {
  const { ws, run } = runWorkspace(t);
  const file = ws.file('exp.json', yaml);
  return { child: run(file, ...extra), file };
}

test('faultd run: SOT before the apply, OnChaos inside the applied window failing while the service is down, EOT after the revert, and the score', async (t) => {
  const web = await probeTarget(t);
  const health = workspace();
  t.teardown(() => health.remove());
  // The command probe runs as nobody: the file must be readable by it (mkdtemp makes 0700).
  chmodSync(health.dir, 0o755);
  const healthFile = health.file('replicas', '3\n');
  const yaml = experiment(
    [
      { name: 'before', type: 'http', mode: 'SOT', url: `${web.origin}/health`, criteria: { responseCode: 200 }, runProperties },
      { name: 'after', type: 'http', mode: 'EOT', url: `${web.origin}/health`, criteria: { responseCode: 200 }, runProperties },
      { name: 'during', type: 'http', mode: 'OnChaos', url: `${web.origin}/health`, criteria: { responseCode: { criteria: 'oneOf', value: [200, 204] } }, runProperties },
      { name: 'replicas', type: 'cmd', mode: 'Continuous', command: ['cat', healthFile], criteria: { stdout: { type: 'int', criteria: '>=', value: 2 } }, runProperties },
    ],
    { weight: 4 },
  );
  const { child } = start(t, yaml, '--min-score', '100');
  const output = finish(child);
  await waitForLine(child, /"msg":"fault applied"/, 15_000);
  // The service breaks for about a second inside the fault's 3 s, and so does the command's file.
  await new Promise((resolve) => setTimeout(resolve, 500));
  web.answer({ status: 503 });
  writeFileSync(healthFile, '1\n');
  await new Promise((resolve) => setTimeout(resolve, 1000));
  web.answer({ status: 200 });
  writeFileSync(healthFile, '3\n');
  const { code, stdout } = await output;
  t.is(code, 5, 'completed, but the score is below --min-score 100');
  const lines = logLines(stdout);
  const applied = indexOf(lines, 'fault applied');
  const reverted = indexOf(lines, 'fault reverted');
  const probeLines = (name: string) => lines.map((l, i) => ({ l, i })).filter(({ l }) => l.probe === name && l.passed !== undefined);
  t.deepEqual(
    probeLines('before').map(({ i }) => i < applied),
    [true],
    'SOT once, before the apply',
  );
  t.deepEqual(
    probeLines('after').map(({ i }) => i > reverted),
    [true],
    'EOT once, after the verified revert',
  );
  const during = probeLines('during');
  t.true(during.length >= 8, `${during.length} OnChaos evaluations in 3 s at 200 ms`);
  t.true(
    during.every(({ i }) => i > applied && i < reverted),
    'every OnChaos evaluation inside the applied window',
  );
  const failedDuring = during.filter(({ l }) => !l.passed).length;
  t.true(failedDuring >= 3 && failedDuring < during.length, `${failedDuring} of ${during.length} failed: the 1 s outage, not the rest`);
  const replicas = probeLines('replicas');
  t.true(replicas.some(({ l }) => !l.passed) && replicas.some(({ l }) => l.passed), 'the command probe saw the file change');
  const finished = lines.find((l) => l.msg === 'experiment finished');
  const fault = finished?.probeFaults?.find((f) => f.faultId === 'cpu');
  if (!finished || !fault || fault.successPercent === undefined) return t.fail(`no score in ${JSON.stringify(finished)}`);
  // One fault: the score is its probe success %, over every evaluation (all four probes apply to it).
  const evaluations = (finished.probes ?? []).reduce((n, p) => n + p.evaluations, 0);
  const passed = (finished.probes ?? []).reduce((n, p) => n + p.passed, 0);
  t.is(fault.evaluations, evaluations);
  t.is(fault.weight, 4);
  t.is(finished.resilienceScore, Math.round((passed / evaluations) * 1000) / 10);
  t.true((finished.resilienceScore ?? 100) < 100 && (finished.resilienceScore ?? 0) > 0);
  t.true(web.requests().length >= during.length + 2);
});

test('faultd run: a stopOnFailure probe aborts the run, the fault reverts within 1 s of the failed evaluation, exit 3 names the probe', async (t) => {
  const web = await probeTarget(t);
  const yaml = experiment([{ name: 'guard', type: 'http', mode: 'Continuous', url: `${web.origin}/`, criteria: { responseCode: 200 }, runProperties: { ...runProperties, stopOnFailure: true } }], { duration: '60s' });
  const { child } = start(t, yaml);
  const output = finish(child);
  await waitForLine(child, /"msg":"fault applied"/, 15_000);
  web.answer({ status: 500 });
  const { code, stdout } = await output;
  t.is(code, 3);
  const lines = logLines(stdout);
  const failed = lines.find((l) => l.probe === 'guard' && l.passed === false);
  const reverted = lines.find((l) => l.msg === 'fault reverted');
  if (!failed || !reverted) return t.fail('no failed evaluation or no revert');
  t.true(reverted.time - failed.time <= 1000, `reverted ${reverted.time - failed.time} ms after the failed evaluation`);
  const finished = lines.find((l) => l.msg === 'experiment finished');
  t.is(finished?.stoppedBy?.probe, 'guard');
});

test('faultd run: a prometheus probe queries a real Prometheus with PromQL at SOT and EOT', async (t) => {
  const prometheus = await startPrometheus();
  t.teardown(() => prometheus.stop());
  prometheus.exporter.set('faultd_e2e_ready', 3);
  await prometheus.waitForValue('faultd_e2e_ready', '3', 20_000);
  const yaml = experiment([{ name: 'ready', type: 'prometheus', mode: 'Edge', endpoint: prometheus.endpoint, query: 'sum(faultd_e2e_ready)', criteria: { value: { criteria: '>=', value: 2 } }, runProperties }], { duration: '1s' });
  const { child } = start(t, yaml, '--min-score', '100');
  const { code, stdout } = await finish(child);
  t.is(code, 0, stdout);
  const evaluations = logLines(stdout).filter((l) => l.probe === 'ready' && l.passed !== undefined);
  t.deepEqual(
    evaluations.map((l) => [l.phase, l.passed]),
    [
      ['SOT', true],
      ['EOT', true],
    ],
  );
  t.is(logLines(stdout).find((l) => l.msg === 'experiment finished')?.resilienceScore, 100);
});

test('through the hub: probe evaluations arrive as status events, and the result carries each probe and the score to `hub result`', async (t) => {
  const hub = await startHub(t);
  const ws = workspace();
  t.teardown(() => ws.remove());
  await configureAgent(hub, ws);
  const agent = launchAgent(t, ws);
  const web = await probeTarget(t);
  const document = JSON.parse(experiment([{ name: 'web', type: 'http', mode: 'OnChaos', url: `${web.origin}/`, criteria: { responseCode: 200 }, runProperties }], { duration: '2s' })) as Record<string, unknown>;
  const run = await hub.service.queueRun('edge-1', document);
  t.true(await waitForState(hub, run.id, ['running'], 15_000));
  await new Promise((resolve) => setTimeout(resolve, 800));
  web.answer({ status: 502 });
  t.true(await waitForState(hub, run.id, ['finished'], 20_000), 'the result arrived');
  const result = (await hub.service.run(run.id))?.result;
  t.is(result?.verdict, 'completed');
  const probe = result?.probes?.[0];
  t.like(probe, { name: 'web', type: 'http', mode: 'OnChaos', scope: 'experiment', stoppedExperiment: false });
  t.true(probe !== undefined && probe.passed > 0 && probe.passed < probe.evaluations, JSON.stringify(probe));
  t.is(result?.resilienceScore, Math.round(((probe?.passed ?? 0) / (probe?.evaluations ?? 1)) * 1000) / 10);
  t.is(result?.faults[0]?.weight, 10);
  const events = (await hub.service.runStatus(run.id)).filter((s) => s.phase.startsWith('probe-'));
  t.is(events.length, probe?.evaluations ?? -1, 'one status event per evaluation');
  t.true(events.some((e) => e.phase === 'probe-failed' && /web \(http, OnChaos\): 502/.test(e.detail ?? '')));
  const shown = await runCli(['hub', '--hub-dir', hub.dir, 'result', run.id], ws.stateDir);
  t.regex(shown.stdout, new RegExp(`resilience score: ${String(result?.resilienceScore).replace('.', '\\.')}`));
  t.regex(shown.stdout, /probe web \(http, OnChaos, experiment\): \d+\/\d+ passed; first failure FAILED: 502/);
  const runs = await runCli(['hub', '--hub-dir', hub.dir, 'runs'], ws.stateDir);
  t.regex(runs.stdout, new RegExp(`${run.id} .* completed score `));
  agent.kill('SIGTERM');
  await finish(agent);
});
