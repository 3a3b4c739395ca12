// SPDX-License-Identifier: Apache-2.0
import test from 'ava';

import { Runner, type PhaseChange } from '../../../src/engine/runner.js';
import type { Experiment, FaultSpec } from '../../../src/experiment/schema.js';
import { FAKE_CONTEXT, fakeRunner, SILENT } from '../../helpers/fake.js';

function fault(id: string, durationMs: number, params: Record<string, unknown> = {}): FaultSpec {
  return { id, kind: 'fake', durationMs, rampTimeMs: 0, params, weight: 10 };
}

const setup = (t: import('ava').ExecutionContext) => fakeRunner(t);

const run = (runner: Runner, steps: FaultSpec[][], signal = new AbortController().signal) =>
  runner.run({ name: 'x', steps: steps.map((faults, i) => ({ name: `s${i}`, faults })), probes: [] } satisfies Experiment, signal);

test('faults of one step run in parallel: two 2 s faults take about 2 s', async (t) => {
  const { runner } = await setup(t);
  const started = Date.now();
  const result = await run(runner, [[fault('a', 2000), fault('b', 2000)]]);
  const elapsed = Date.now() - started;
  t.is(result.verdict, 'completed');
  t.true(elapsed >= 1990 && elapsed < 3000, `took ${elapsed} ms`);
});

test('steps run serially: two steps of 2 s take about 4 s', async (t) => {
  const { runner } = await setup(t);
  const started = Date.now();
  const result = await run(runner, [[fault('a', 2000)], [fault('b', 2000)]]);
  const elapsed = Date.now() - started;
  t.is(result.verdict, 'completed');
  t.true(elapsed >= 3990 && elapsed < 5000, `took ${elapsed} ms`);
});

test('every fault goes intent → applied → reverted in the ledger', async (t) => {
  const { runner, ledger } = await setup(t);
  await run(runner, [[fault('a', 10)]]);
  const events = (await ledger.replay()).records.map((r) => r.event);
  t.deepEqual(events, ['intent', 'applied', 'reverted']);
});

test('abort reverts running faults at once and skips later steps', async (t) => {
  const { runner, events } = await setup(t);
  const controller = new AbortController();
  setTimeout(() => controller.abort(), 100);
  const started = Date.now();
  const result = await run(runner, [[fault('a', 60_000)], [fault('b', 1000)]], controller.signal);
  t.true(Date.now() - started < 1000);
  t.is(result.verdict, 'aborted');
  t.deepEqual(result.faults.map((f) => f.status), ['aborted', 'skipped']);
  t.deepEqual(events, ['apply:r1-a', 'revert:r1-a']);
});

test('a failed apply is reverted and ends the experiment after its step', async (t) => {
  const { runner, events } = await setup(t);
  const result = await run(runner, [[fault('a', 50, { applyFails: true }), fault('b', 50)], [fault('c', 50)]]);
  t.is(result.verdict, 'failed');
  t.deepEqual(result.faults.map((f) => f.status), ['failed', 'completed', 'skipped']);
  t.true(events.includes('revert:r1-a'));
  t.false(events.includes('apply:r1-c'));
});

test('a fault that ends on its own fails and is still reverted', async (t) => {
  const { runner, events } = await setup(t);
  const result = await run(runner, [[fault('a', 5000, { endsAfterMs: 50 })]]);
  t.is(result.faults[0]?.status, 'failed');
  t.is(result.faults[0]?.error, 'died');
  t.deepEqual(events, ['apply:r1-a', 'revert:r1-a']);
});

test('a failed revert makes the verdict revert-failed and is recorded with the manual fix', async (t) => {
  const { runner, ledger } = await setup(t);
  const result = await run(runner, [[fault('revertfails', 10)]]);
  t.is(result.verdict, 'revert-failed');
  t.like(result.faults[0]?.revert, { ok: false, leftover: 'a thing', manualFix: 'rm thing' });
  const entry = (await ledger.entries()).get('r1-revertfails');
  t.is(entry?.state, 'revert-failed');
});

test('every phase transition of every fault is reported as it happens, the short ones and the failed path too', async (t) => {
  const { ledger, registry } = await setup(t);
  const changes: PhaseChange[] = [];
  const runner = new Runner({ registry, ledger, ctx: FAKE_CONTEXT, runId: 'r1', owner: { pid: 1, startTime: 1 }, logger: SILENT, onPhase: (c) => changes.push(c) });
  const result = await run(runner, [[fault('a', 10), { ...fault('ramped', 10), rampTimeMs: 5 }, fault('broken', 10, { applyFails: true })]]);
  t.is(result.verdict, 'failed');
  const phasesOf = (id: string) => changes.filter((c) => c.faultId === id).map((c) => c.phase);
  t.deepEqual(phasesOf('a'), ['applying', 'running', 'reverting', 'done']);
  t.deepEqual(phasesOf('ramped'), ['ramp-before', 'applying', 'running', 'reverting', 'ramp-after', 'done']);
  t.deepEqual(phasesOf('broken'), ['applying', 'reverting', 'done']);
  t.like(changes.find((c) => c.faultId === 'a' && c.phase === 'running'), { kind: 'fake', target: 'nothing' });
});

test('a fault aborted before it applied still ends with done; a phase listener that throws stops nothing', async (t) => {
  const { ledger, registry, events } = await setup(t);
  const changes: string[] = [];
  const runner = new Runner({
    registry, ledger, ctx: FAKE_CONTEXT, runId: 'r1', owner: { pid: 1, startTime: 1 }, logger: SILENT,
    onPhase: (c) => {
      changes.push(`${c.faultId}:${c.phase}`);
      throw new Error('listener broke');
    },
  });
  const controller = new AbortController();
  setTimeout(() => controller.abort(), 50);
  const result = await run(runner, [[{ ...fault('slow', 10), rampTimeMs: 60_000 }, fault('b', 60_000)]], controller.signal);
  t.is(result.verdict, 'aborted');
  t.deepEqual(changes.filter((c) => c.startsWith('slow:')), ['slow:ramp-before', 'slow:done']);
  t.deepEqual(changes.filter((c) => c.startsWith('b:')), ['b:applying', 'b:running', 'b:reverting', 'b:done']);
  t.deepEqual(events, ['apply:r1-b', 'revert:r1-b'], 'reverted although every listener call threw');
});

test('a fault whose plan claims what another fault of the step changes fails before its intent; the other runs', async (t) => {
  const { runner, ledger, events } = await setup(t);
  const result = await run(runner, [[fault('a', 50, { exclusive: ['systemd-unit:db.service'] }), fault('b', 50, { claims: ['systemd-unit:web.service', 'systemd-unit:db.service'] })]]);
  t.deepEqual(result.faults.map((f) => f.status), ['completed', 'failed']);
  t.regex(result.faults[1]?.error ?? '', /fault "a" of the same step already changes systemd-unit:db\.service; put them in separate steps/);
  t.deepEqual(events, ['apply:r1-a', 'revert:r1-a']);
  const intents = (await ledger.replay()).records.filter((r) => r.event === 'intent').map((r) => r.faultId);
  t.deepEqual(intents, ['r1-a']);
});

test('two plans claiming the same thing: exactly one of them runs; claims end with their step', async (t) => {
  const { runner, events } = await setup(t);
  const result = await run(runner, [[fault('a', 50, { claims: ['x'] }), fault('b', 50, { claims: ['x'] })], [fault('c', 50, { claims: ['x'] })]]);
  t.is(result.faults.filter((f) => f.status === 'failed').length, 1);
  t.is(result.faults.filter((f) => f.status === 'completed').length, 1);
  t.is(result.faults[2]?.status, 'skipped', 'a failed fault ends the experiment after its step');
  t.is(events.filter((e) => e.startsWith('apply:')).length, 1);
  const separate = await run(runner, [[fault('d', 50, { claims: ['y'] })], [fault('e', 50, { claims: ['y'] })]]);
  t.deepEqual(separate.faults.map((f) => f.status), ['completed', 'completed']);
});
