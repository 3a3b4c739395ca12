// SPDX-License-Identifier: Apache-2.0
/**
 * Probe modes in the runner, with fake faults and fake checks (test/helpers/fake-probe.ts):
 * SOT before the first apply, EOT after the last revert, OnChaos only while applied,
 * Continuous over its window, stopOnFailure aborting and reverting at once, and the score.
 */
import test from 'ava';

import type { Experiment, FaultSpec } from '../../../src/experiment/schema.js';
import type { Evaluation } from '../../../src/probes/evaluation.js';
import { parseProbe } from '../../../src/probes/schema.js';
import type { ProbeScope, ProbeSpec } from '../../../src/probes/types.js';
import type { EventLog } from '../../helpers/fake.js';
import { fakeChecks } from '../../helpers/fake-probe.js';
import { fakeSession } from '../../helpers/session.js';

function fault(id: string, durationMs: number, weight = 10): FaultSpec {
  return { id, kind: 'fake', durationMs, rampTimeMs: 0, params: {}, weight };
}

function probe(name: string, mode: string, scope: ProbeScope, runProperties: Record<string, unknown> = {}): ProbeSpec {
  const parsed = parseProbe({ name, type: 'http', mode, url: `http://127.0.0.1:1/${name}`, criteria: { responseCode: 200 }, runProperties: { probeTimeout: '1s', interval: '10ms', probePollingInterval: '100ms', ...runProperties } });
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
  return { ...parsed.probe, scope, cutBy: [] };
}

function experiment(steps: FaultSpec[][], probes: ProbeSpec[]): Experiment {
  return { name: 'x', steps: steps.map((faults, i) => ({ name: `s${i}`, faults })), probes };
}

const EXPERIMENT: ProbeScope = { level: 'experiment' };

async function runWith(t: import('ava').ExecutionContext, exp: Experiment, healthy: (target: string) => boolean = () => true, signal = new AbortController().signal) {
  const events: EventLog = [];
  const checks = fakeChecks(events, healthy);
  const { session } = await fakeSession(t, { createCheck: checks.createCheck, events });
  const evaluations: Evaluation[] = [];
  const result = await session.run(exp, { runId: 'r1', signal, onEvaluation: (e) => evaluations.push(e) });
  return { result, events, evaluations, checks };
}

/** Index of the first event equal to `name`, failing the test when absent. */
function at(events: EventLog, name: string): number {
  const index = events.indexOf(name);
  if (index < 0) throw new Error(`${name} not in ${events.join(' ')}`);
  return index;
}

test('SOT evaluates before the first apply, EOT after the last revert, Edge at both', async (t) => {
  const exp = experiment([[fault('a', 100)], [fault('b', 100)]], [probe('sot', 'SOT', EXPERIMENT), probe('eot', 'EOT', EXPERIMENT), probe('edge', 'Edge', EXPERIMENT)]);
  const { result, events, evaluations, checks } = await runWith(t, exp);
  t.is(result.verdict, 'completed');
  const sot = at(events, 'check:http://127.0.0.1:1/sot');
  const eot = events.lastIndexOf('check:http://127.0.0.1:1/eot');
  t.true(sot < at(events, 'apply:r1-a'));
  t.true(eot > at(events, 'revert:r1-b'));
  t.is(events.filter((e) => e === 'check:http://127.0.0.1:1/sot').length, 1);
  t.deepEqual(
    evaluations.filter((e) => e.probe === 'edge').map((e) => e.phase),
    ['SOT', 'EOT'],
  );
  t.true(events.lastIndexOf('check:http://127.0.0.1:1/edge') > at(events, 'revert:r1-b'));
  t.is(result.probes?.resilienceScore, 100);
  t.is(checks.closed(), 3);
});

test('OnChaos evaluates only while its fault is applied', async (t) => {
  const exp = experiment([[fault('a', 500)]], [probe('chaos', 'OnChaos', { level: 'fault', step: 0, faultId: 'a' })]);
  const { events, evaluations } = await runWith(t, exp);
  const checks = events.map((e, i) => (e === 'check:http://127.0.0.1:1/chaos' ? i : -1)).filter((i) => i >= 0);
  t.true(checks.length >= 3, `only ${checks.length} evaluations in 500 ms at 100 ms`);
  for (const index of checks) {
    t.true(index > at(events, 'apply:r1-a') && index < at(events, 'revert:r1-a'), `check at ${index} outside the applied window: ${events.join(' ')}`);
  }
  t.true(evaluations.every((e) => e.phase === 'OnChaos'));
});

test('a step-level OnChaos probe runs while any fault of its step is applied, and not in other steps', async (t) => {
  const exp = experiment([[fault('a', 500), fault('b', 250)], [fault('c', 300)]], [probe('step1', 'OnChaos', { level: 'step', step: 0 })]);
  const { events } = await runWith(t, exp);
  const last = events.lastIndexOf('check:http://127.0.0.1:1/step1');
  t.true(last < at(events, 'revert:r1-a'), 'it stopped when the last fault of its step reverted');
  t.true(last < at(events, 'apply:r1-c'), 'it never ran in step 2');
  t.true(at(events, 'check:http://127.0.0.1:1/step1') > Math.min(at(events, 'apply:r1-a'), at(events, 'apply:r1-b')));
});

test('Continuous evaluates over the window and the score counts what overlaps each fault', async (t) => {
  let unhealthy = false;
  const exp = experiment([[fault('a', 600, 10)], [fault('b', 600, 5)]], [probe('web', 'Continuous', EXPERIMENT)]);
  // The service breaks while fault b runs: every evaluation that overlaps b fails.
  const timer = setInterval(() => {
    unhealthy = run.events.includes('apply:r1-b') && !run.events.includes('revert:r1-b');
  }, 1);
  const run = { events: [] as EventLog };
  const checks = fakeChecks(run.events, () => !unhealthy);
  const { session } = await fakeSession(t, { createCheck: checks.createCheck, events: run.events });
  const result = await session.run(exp, { runId: 'r1', signal: new AbortController().signal });
  clearInterval(timer);
  const report = result.probes;
  if (!report) return t.fail('no probe report');
  const a = report.faults.find((f) => f.faultId === 'a');
  const b = report.faults.find((f) => f.faultId === 'b');
  t.is(a?.successPercent, 100);
  t.true(b !== undefined && b.successPercent !== undefined && b.successPercent < 50, `b: ${JSON.stringify(b)}`);
  const expected = (10 * 100 + 5 * (b?.successPercent ?? 0)) / 15;
  t.is(report.resilienceScore, Math.round(expected * 10) / 10);
  t.true((report.probes[0]?.evaluations ?? 0) >= 8);
});

test('stopOnFailure aborts the experiment at the failing evaluation, reverts at once and names the probe', async (t) => {
  let failing = false;
  setTimeout(() => (failing = true), 200);
  const exp = experiment([[fault('a', 30_000)], [fault('b', 100)]], [probe('guard', 'OnChaos', EXPERIMENT, { stopOnFailure: true })]);
  const started = Date.now();
  const { result, events, evaluations } = await runWith(t, exp, () => !failing);
  t.true(Date.now() - started < 2000, 'the 30 s fault was cut short');
  t.is(result.verdict, 'aborted');
  t.is(result.probes?.stoppedBy?.probe, 'guard');
  t.true(events.includes('revert:r1-a'));
  t.false(events.includes('apply:r1-b'), 'the next step was skipped');
  t.deepEqual(
    result.faults.map((f) => f.status),
    ['aborted', 'skipped'],
  );
  const failed = evaluations.find((e) => !e.passed);
  t.truthy(failed);
  t.true(result.probes?.probes[0]?.stoppedExperiment);
});

test('a failing SOT probe with stopOnFailure applies nothing', async (t) => {
  const exp = experiment([[fault('a', 100)]], [probe('pre', 'SOT', EXPERIMENT, { stopOnFailure: true, attempt: 2 })]);
  const { result, events, evaluations } = await runWith(t, exp, () => false);
  t.is(result.verdict, 'aborted');
  t.false(events.some((e) => e.startsWith('apply:')));
  t.is(evaluations.length, 1);
  t.is(evaluations[0]?.attempts, 2, 'both attempts were made before it failed');
  t.is(result.probes?.resilienceScore, undefined, 'no fault ran, so there is no score');
});

test('retries: an evaluation passes at its first passing attempt', async (t) => {
  let calls = 0;
  const exp = experiment([[fault('a', 50)]], [probe('flaky', 'SOT', EXPERIMENT, { attempt: 3 })]);
  const { evaluations } = await runWith(t, exp, () => ++calls >= 2);
  t.is(evaluations[0]?.attempts, 2);
  t.true(evaluations[0]?.passed);
});

test('an experiment without probes has no probe report and so no score', async (t) => {
  const { result } = await runWith(t, experiment([[fault('a', 10)]], []));
  t.is(result.probes, undefined);
});

test('initialDelay holds the first Continuous evaluation', async (t) => {
  const exp = experiment([[fault('a', 600)]], [probe('late', 'Continuous', { level: 'fault', step: 0, faultId: 'a' }, { initialDelay: '400ms' })]);
  const { evaluations } = await runWith(t, exp);
  t.true(evaluations.length >= 1 && evaluations.length <= 3, `${evaluations.length} evaluations in the 200 ms after the 400 ms delay (100 ms apart)`);
});

test('a probe whose target a fault cuts is not evaluated while that fault is applied, unless evaluateWhenCut', async (t) => {
  const cut = (evaluateWhenCut: boolean): ProbeSpec => ({ ...probe('web', 'Continuous', EXPERIMENT), cutBy: ['cutter'], evaluateWhenCut });
  const steps = (): FaultSpec[][] => [[fault('cutter', 500)], [fault('other', 500)]];
  const skipped = await runWith(t, experiment(steps(), [cut(false)]));
  const inside = (events: EventLog) => {
    const from = at(events, 'apply:r1-cutter');
    const to = at(events, 'revert:r1-cutter');
    return events.slice(from, to).filter((e) => e === 'check:http://127.0.0.1:1/web').length;
  };
  t.is(inside(skipped.events), 0, 'no evaluation while the cutting fault was applied');
  t.true(skipped.evaluations.length >= 3, 'it was evaluated in the other step');
  t.true((skipped.result.probes?.probes[0]?.skippedWhileCut ?? 0) >= 3);
  const asked = await runWith(t, experiment(steps(), [cut(true)]));
  t.true(inside(asked.events) >= 3, 'evaluateWhenCut evaluates it anyway');
  t.is(asked.result.probes?.probes[0]?.skippedWhileCut, 0);
});
