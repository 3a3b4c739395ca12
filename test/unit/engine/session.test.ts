// SPDX-License-Identifier: Apache-2.0
/**
 * The session's order (ledger open → remnants reverted → crash revert registered → run →
 * compact when clean → crash revert settled → ledger closed), and a failure at each stage.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';

import test, { type ExecutionContext } from 'ava';

import type { CrashReverter } from '../../../src/engine/crash-revert.js';
import { failedRemnants, Session, type CrashGuard } from '../../../src/engine/session.js';
import type { Experiment, FaultSpec } from '../../../src/experiment/schema.js';
import { isFaultdError } from '../../../src/errors.js';
import { Ledger } from '../../../src/ledger/ledger.js';
import { workspace } from '../../helpers/cli.js';
import { FAKE_CONTEXT, FAKE_NATIVE, fakeInjector, SILENT, type EventLog } from '../../helpers/fake.js';

const SELF = { pid: process.pid, startTime: 1 };
/** A faultd that died: FAKE_NATIVE says every process is gone. */
const DEAD = { pid: 999_999, startTime: 1 };

function experiment(...faults: FaultSpec[]): Experiment {
  return { name: 'x', steps: [{ name: 's', faults }], probes: [] };
}

function fault(id: string, durationMs: number): FaultSpec {
  return { id, kind: 'fake', durationMs, rampTimeMs: 0, params: {}, weight: 10 };
}

/** A guard that records what the session registers and lets the test play main.ts. */
class RecordingGuard implements CrashGuard {
  reverter: CrashReverter | undefined;
  readonly events: EventLog;
  constructor(events: EventLog) {
    this.events = events;
  }
  register(reverter: CrashReverter): () => void {
    this.events.push('guard:register');
    this.reverter = reverter;
    return () => {
      this.events.push('guard:remove');
      this.reverter = undefined;
    };
  }
  settled(): Promise<void> {
    this.events.push('guard:settled');
    return Promise.resolve();
  }
}

/** A real ledger whose open, compact and close are also logged as events. */
function spiedLedger(stateDir: string, events: EventLog): Ledger {
  const ledger = new Ledger(stateDir, FAKE_NATIVE);
  for (const method of ['open', 'compact', 'close'] as const) {
    const original = ledger[method].bind(ledger) as () => Promise<unknown>;
    Object.assign(ledger, {
      [method]: async () => {
        events.push(`ledger:${method}`);
        return original();
      },
    });
  }
  return ledger;
}

/** A ledger holding one applied fake fault of a dead faultd (a remnant). */
async function withRemnant(stateDir: string, faultId: string): Promise<void> {
  const ledger = new Ledger(stateDir, FAKE_NATIVE);
  await ledger.open();
  await ledger.append({ event: 'intent', faultId, runId: 'r0', kind: 'fake', target: 'nothing', bootId: FAKE_CONTEXT.host.bootId, owner: DEAD, revert: { id: faultId } });
  await ledger.append({ event: 'applied', faultId, revert: { id: faultId } });
  await ledger.close();
}

function setup(t: ExecutionContext, stateDir?: string, onCrash?: () => void) {
  const ws = workspace();
  t.teardown(() => ws.remove());
  const events: EventLog = [];
  const guard = new RecordingGuard(events);
  const ledger = spiedLedger(stateDir ?? ws.stateDir, events);
  const session = new Session({ ledger, registry: new Map([['fake', fakeInjector(events)]]), ctx: FAKE_CONTEXT, owner: SELF, logger: SILENT, crashGuard: guard, crashGraceMs: 100, ...(onCrash ? { onCrash } : {}) });
  t.teardown(() => session.close());
  return { ws, events, guard, ledger, session };
}

test('the order: ledger open, remnants reverted, crash revert registered, run, compact, settled, close', async (t) => {
  const { ws, events, session } = setup(t);
  await withRemnant(ws.stateDir, 'r0-old');
  const remnants = await session.open();
  t.deepEqual(remnants.map((r) => r.faultId), ['r0-old']);
  t.deepEqual(failedRemnants(remnants), []);
  const result = await session.run(experiment(fault('a', 20)), { runId: 'r1', signal: new AbortController().signal });
  t.is(result.verdict, 'completed');
  await session.close();
  t.deepEqual(events, ['ledger:open', 'revert:r0-old', 'guard:register', 'apply:r1-a', 'revert:r1-a', 'ledger:compact', 'guard:remove', 'guard:settled', 'ledger:close']);
});

test('a clean run leaves an empty ledger; a run whose revert failed is not compacted', async (t) => {
  const { ledger, events, session } = setup(t);
  await session.open();
  await session.run(experiment(fault('a', 10)), { runId: 'r1', signal: new AbortController().signal });
  t.deepEqual((await ledger.replay()).records, []);
  const failed = await session.run(experiment(fault('revertfails', 10)), { runId: 'r2', signal: new AbortController().signal });
  t.is(failed.verdict, 'revert-failed');
  t.is((await ledger.entries()).get('r2-revertfails')?.state, 'revert-failed');
  t.is(events.filter((e) => e === 'ledger:compact').length, 1);
});

test('an unwritable state dir: open fails with the state-dir error, nothing is registered, no run can start', async (t) => {
  const ws = workspace();
  t.teardown(() => ws.remove());
  const file = path.join(ws.dir, 'a-file');
  writeFileSync(file, '');
  const { events, session } = setup(t, path.join(file, 'state'));
  const error = await t.throwsAsync(session.open());
  t.true(isFaultdError(error, 'FAULTD_ERR_STATE_DIR'), String(error));
  t.false(events.includes('guard:register'));
  const refused = t.throws(() => session.start(experiment(fault('a', 10)), { runId: 'r1', signal: new AbortController().signal }));
  t.true(isFaultdError(refused, 'FAULTD_ERR_SESSION_ORDER'));
  t.false(events.some((e) => e.startsWith('apply:')));
});

test('a remnant whose revert fails: open reports it, keeps it revert-failed, and the caller decides', async (t) => {
  const { ws, ledger, session } = setup(t);
  await withRemnant(ws.stateDir, 'r0-revertfails');
  const remnants = await session.open();
  t.deepEqual(failedRemnants(remnants).map((r) => r.faultId), ['r0-revertfails']);
  t.is((await ledger.entries()).get('r0-revertfails')?.state, 'revert-failed');
  t.false(await session.compactIfClean(), 'an unresolved fault keeps the ledger as it is');
});

test('a remnant revert that cannot be recorded: open fails, closes the ledger and registers nothing', async (t) => {
  const { ws, events, ledger, session } = setup(t);
  await withRemnant(ws.stateDir, 'r0-old');
  Object.assign(ledger, { append: () => Promise.reject(new Error('disk gone')) });
  await t.throwsAsync(session.open(), { message: 'disk gone' });
  t.deepEqual(events, ['ledger:open', 'revert:r0-old', 'ledger:close']);
  await session.close();
  t.is(events.filter((e) => e === 'ledger:close').length, 1, 'close after a failed open closes nothing twice');
});

test('a crash during a run: the registered revert aborts the run and reverts what this process holds', async (t) => {
  const { events, guard, ledger, session } = setup(t);
  await session.open();
  const run = session.start(experiment(fault('a', 60_000), fault('b', 60_000)), { runId: 'r1', signal: new AbortController().signal });
  while (!events.includes('apply:r1-b')) await new Promise((resolve) => setTimeout(resolve, 5));
  t.truthy(guard.reverter);
  const started = Date.now();
  t.deepEqual(await guard.reverter?.(), { failed: 0 });
  t.true(Date.now() - started < 2000);
  const result = await run.result;
  t.is(result.verdict, 'aborted');
  t.deepEqual(result.faults.map((f) => f.status), ['aborted', 'aborted']);
  t.true(events.includes('revert:r1-a') && events.includes('revert:r1-b'));
  for (const id of ['r1-a', 'r1-b']) t.not((await ledger.entries()).get(id)?.state, 'applied');
});

test('open twice is refused; close is idempotent', async (t) => {
  const { events, session } = setup(t);
  await session.open();
  const error = await t.throwsAsync(session.open());
  t.true(isFaultdError(error, 'FAULTD_ERR_SESSION_ORDER'));
  await session.close();
  await session.close();
  t.is(events.filter((e) => e === 'ledger:close').length, 1);
});

test('a caller abort reverts at once and the session stays usable', async (t) => {
  const { events, session } = setup(t);
  await session.open();
  const abort = new AbortController();
  const run = session.start(experiment(fault('a', 60_000)), { runId: 'r1', signal: abort.signal });
  while (!events.includes('apply:r1-a')) await new Promise((resolve) => setTimeout(resolve, 5));
  abort.abort('operator');
  t.is((await run.result).verdict, 'aborted');
  t.is((await session.run(experiment(fault('b', 10)), { runId: 'r2', signal: new AbortController().signal })).verdict, 'completed');
});

test('start() passes every phase change of every fault to onPhase, the revert included', async (t) => {
  const { session } = setup(t);
  await session.open();
  t.teardown(() => session.close());
  const changes: string[] = [];
  const result = await session.start(experiment(fault('a', 10), fault('b', 10)), { runId: 'r1', signal: new AbortController().signal, onPhase: (c) => changes.push(`${c.faultId}:${c.phase}`) }).result;
  t.is(result.verdict, 'completed');
  for (const id of ['a', 'b']) t.deepEqual(changes.filter((c) => c.startsWith(`${id}:`)), ['applying', 'running', 'reverting', 'done'].map((p) => `${id}:${p}`));
});

test('a crash tells the owner first (the agent stops polling), then aborts the runs', async (t) => {
  const order: string[] = [];
  const { events, guard, session } = setup(t, undefined, () => order.push('owner told'));
  await session.open();
  const run = session.start(experiment(fault('a', 60_000)), { runId: 'r1', signal: new AbortController().signal });
  while (!events.includes('apply:r1-a')) await new Promise((resolve) => setTimeout(resolve, 5));
  const reverting = guard.reverter?.();
  order.push(`run ${(await run.result).verdict}`);
  await reverting;
  t.deepEqual(order, ['owner told', 'run aborted']);
});

test('a ledger compaction that fails does not hide the run\'s outcome', async (t) => {
  const { ledger, session } = setup(t);
  await session.open();
  Object.assign(ledger, { compact: () => Promise.reject(new Error('disk full')) });
  const result = await session.run(experiment(fault('a', 10)), { runId: 'r1', signal: new AbortController().signal });
  t.is(result.verdict, 'completed');
  t.is(result.faults[0]?.status, 'completed');
});
