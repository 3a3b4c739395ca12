// SPDX-License-Identifier: Apache-2.0
import { appendFileSync, openSync, closeSync, readFileSync, writeFileSync } from 'node:fs';

import test from 'ava';

import { foldLedger, Ledger, parseLedger } from '../../../src/ledger/ledger.js';
import { loadNative } from '../../../src/native/load.js';
import { workspace } from '../../helpers/cli.js';

// The real flock: the ledger's cross-process ordering is part of what is tested.
const native = loadNative();

const owner = { pid: 4242, startTime: 99 };

function intent(faultId: string) {
  return { event: 'intent', faultId, runId: 'r1', kind: 'linux-cpu-stress', target: 't', bootId: 'b', owner, revert: { tag: faultId } } as const;
}

test('records are appended one per line and folded per fault', async (t) => {
  const ws = workspace();
  t.teardown(() => ws.remove());
  const ledger = new Ledger(ws.stateDir, native);
  await ledger.open();
  await ledger.append(intent('a'));
  await ledger.append({ event: 'applied', faultId: 'a', revert: { tag: 'a', pid: 7 } });
  await ledger.append(intent('b'));
  await ledger.append({ event: 'reverted', faultId: 'b', outcome: 'reverted' });
  await ledger.close();
  const text = readFileSync(ledger.file, 'utf8');
  t.is(text.trim().split('\n').length, 4);
  const entries = await ledger.entries();
  t.is(entries.get('a')?.state, 'applied');
  t.deepEqual(entries.get('a')?.revert, { tag: 'a', pid: 7 });
  t.is(entries.get('b')?.state, 'reverted');
});

test('a torn last line is ignored on replay and truncated on open', async (t) => {
  const ws = workspace();
  t.teardown(() => ws.remove());
  const ledger = new Ledger(ws.stateDir, native);
  await ledger.open();
  await ledger.append(intent('a'));
  await ledger.close();
  appendFileSync(ledger.file, '{"v":1,"ts":"2026-11-25T00:00:00.000Z","event":"appl');
  const replay = await ledger.replay();
  t.true(replay.tornTail);
  t.is(replay.records.length, 1);
  t.deepEqual(replay.invalidLines, []);
  await ledger.open();
  await ledger.append({ event: 'reverted', faultId: 'a', outcome: 'reverted' });
  await ledger.close();
  const after = await ledger.replay();
  t.false(after.tornTail);
  t.deepEqual(after.invalidLines, []);
  t.is((await ledger.entries()).get('a')?.state, 'reverted');
});

test('invalid lines in the middle are reported, not fatal', (t) => {
  const good = JSON.stringify({ v: 1, ts: '2026-11-25T00:00:00.000Z', ...intent('a') });
  const report = parseLedger(`${good}\nnot json\n{"v":1,"event":"intent"}\n`);
  t.is(report.records.length, 1);
  t.deepEqual(report.invalidLines.map((l) => l.line), [2, 3]);
});

test('records without intent are ignored by the fold', (t) => {
  const entries = foldLedger([{ v: 1, ts: '2026-11-25T00:00:00.000Z', event: 'reverted', faultId: 'x', outcome: 'reverted' }]);
  t.is(entries.size, 0);
});

test('compaction keeps only unresolved faults', async (t) => {
  const ws = workspace();
  t.teardown(() => ws.remove());
  const ledger = new Ledger(ws.stateDir, native);
  await ledger.open();
  await ledger.append(intent('done'));
  await ledger.append({ event: 'reverted', faultId: 'done', outcome: 'already-absent' });
  await ledger.append(intent('open'));
  await ledger.compact();
  await ledger.append({ event: 'applied', faultId: 'open', revert: { tag: 'open' } });
  await ledger.close();
  const entries = await ledger.entries();
  t.deepEqual([...entries.keys()], ['open']);
  t.is(entries.get('open')?.state, 'applied');
});

test('an unwritable state dir gives FAULTD_ERR_STATE_DIR', async (t) => {
  const ws = workspace();
  t.teardown(() => ws.remove());
  writeFileSync(`${ws.dir}/file`, '');
  const error = await t.throwsAsync(new Ledger(`${ws.dir}/file/state`, native).open());
  t.is((error as { code?: string }).code, 'FAULTD_ERR_STATE_DIR');
});

test('an append waits while another process holds the ledger lock exclusively', async (t) => {
  const ws = workspace();
  t.teardown(() => ws.remove());
  const ledger = new Ledger(ws.stateDir, native);
  await ledger.open();
  t.teardown(() => ledger.close());
  const other = openSync(`${ws.stateDir}/ledger.lock`, 'r'); // a second open file, as another faultd has
  t.teardown(() => closeSync(other));
  t.true(native.tryLock(other, 'exclusive'));
  let done = false;
  const append = ledger.append(intent('a')).then(() => (done = true));
  await new Promise((resolve) => setTimeout(resolve, 100));
  t.false(done, 'append must wait for the lock');
  native.tryLock(other, 'unlock');
  await append;
  t.is((await ledger.entries()).get('a')?.state, 'intent');
});

test("appends follow the file after another faultd's compaction replaced it", async (t) => {
  const ws = workspace();
  t.teardown(() => ws.remove());
  const a = new Ledger(ws.stateDir, native);
  const b = new Ledger(ws.stateDir, native);
  await a.open();
  await b.open();
  await a.append(intent('x'));
  await a.append({ event: 'reverted', faultId: 'x', outcome: 'reverted' });
  t.true(await b.compact());
  await a.append(intent('y'));
  await a.close();
  await b.close();
  t.deepEqual([...(await a.entries()).keys()], ['y']);
});

test('compaction keeps the file while it has invalid lines', async (t) => {
  const ws = workspace();
  t.teardown(() => ws.remove());
  const ledger = new Ledger(ws.stateDir, native);
  await ledger.open();
  await ledger.append(intent('x'));
  appendFileSync(ledger.file, 'garbage\n');
  t.false(await ledger.compact());
  await ledger.close();
  t.regex(readFileSync(ledger.file, 'utf8'), /garbage/);
});
