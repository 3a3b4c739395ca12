// SPDX-License-Identifier: Apache-2.0
import test from 'ava';

import { ledgerCrashReverter, onCrashRevert, revertAfterCrash } from '../../../src/engine/crash-revert.js';
import { FAKE_CONTEXT, fakeRunner, SILENT } from '../../helpers/fake.js';

const waitFor = async (check: () => boolean) => {
  while (!check()) await new Promise((resolve) => setTimeout(resolve, 10));
};

test('after an internal error, faults are reverted from the ledger even when the run never stops', async (t) => {
  // This process owns the faults, as the crashing faultd does.
  const { ledger, events, registry, runner } = await fakeRunner(t, { pid: process.pid, startTime: 1 });
  const abort = new AbortController();
  t.teardown(() => abort.abort());
  const faults = [{ id: 'a', kind: 'fake', durationMs: 60_000, rampTimeMs: 0, params: {}, weight: 10 }];
  void runner.run({ name: 'x', steps: [{ name: 's', faults }], probes: [] }, abort.signal);
  await waitFor(() => events.includes('apply:r1-a'));
  // The run is what broke: its stop never resolves, so the ledger revert runs after the grace.
  const remove = onCrashRevert(ledgerCrashReverter({ ledger, registry, ctx: FAKE_CONTEXT, logger: SILENT }, () => new Promise(() => undefined), 100));
  t.teardown(remove);
  const started = Date.now();
  t.deepEqual(await revertAfterCrash(), { failed: 0 });
  t.true(Date.now() - started < 2000);
  t.true(events.includes('revert:r1-a'));
  t.is((await ledger.entries()).get('r1-a')?.state, 'reverted');
  t.is(await revertAfterCrash(), undefined, 'a reverter runs once');
});

test('without a registered reverter (a command that holds no faults) nothing is done', async (t) => {
  t.is(await revertAfterCrash(), undefined);
});
