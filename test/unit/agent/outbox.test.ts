// SPDX-License-Identifier: Apache-2.0
// The run outbox and its journal: what a restarted agent rebuilds, torn writes, bounds, compaction.
import { appendFileSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import test from 'ava';

import { MAX_STATUS_EVENTS, RunOutbox } from '../../../src/agent/outbox.js';
import { RunJournal, type JournalStart } from '../../../src/agent/run-journal.js';

function stateDir(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'faultd-outbox-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const start = (runId = 'run_a'): JournalStart => ({ t: 'start', runId, bootId: 'b', pid: 42, startTime: 7, at: new Date().toISOString(), nextSeq: 1 });

function journaled(dir: string, compactBytes?: number): { outbox: RunOutbox; journal: RunJournal } {
  const s = start();
  const journal = RunJournal.create(dir, s, compactBytes);
  return { outbox: new RunOutbox({ journal: { start: s, file: journal } }), journal };
}

function reload(file: string): RunOutbox {
  const contents = RunJournal.read(file);
  return RunOutbox.restore(contents.records, RunJournal.reopen(contents));
}

test('a restarted agent rebuilds exactly what was still owed: unacknowledged lines, unsent status, the result', (t) => {
  const dir = stateDir(t);
  const { outbox, journal } = journaled(dir);
  for (let i = 1; i <= 5; i += 1) outbox.add('info', `line ${i}`);
  outbox.status({ phase: 'running' });
  outbox.status({ faultId: 'cpu', phase: 'applied' });
  outbox.acknowledge(3);
  outbox.acknowledgeStatus(1);
  outbox.setResult({ verdict: 'completed', faults: [] });
  journal.close();
  t.is(statSync(journal.file).mode & 0o777, 0o600);

  const again = reload(journal.file);
  t.deepEqual(again.pendingLogs(100).map((e) => e.message), ['line 4', 'line 5']);
  t.deepEqual(again.pendingStatus(10).map((e) => e.phase), ['applied']);
  t.deepEqual(again.result, { verdict: 'completed', faults: [] });
  again.add('warn', 'after the restart');
  t.deepEqual(again.pendingLogs(100).map((e) => e.seq), [4, 5, 6], 'numbering continues where it stopped');
});

test('a torn last line (a crash mid-write) is ignored; a garbled line is counted, not fatal', (t) => {
  const dir = stateDir(t);
  const { outbox, journal } = journaled(dir);
  outbox.add('info', 'kept');
  journal.close();
  appendFileSync(journal.file, 'not json\n{"t":"log","e":{"seq":2,');
  const contents = RunJournal.read(journal.file);
  t.is(contents.invalidLines, 1);
  const again = RunOutbox.restore(contents.records, RunJournal.reopen(contents));
  t.deepEqual(again.pendingLogs(10).map((e) => e.message), ['kept']);
});

test('bounded: past the line or byte limit the oldest lines go, and one note spans their numbers', (t) => {
  const byCount = new RunOutbox({ limits: { maxEntries: 3 } });
  for (let i = 1; i <= 5; i += 1) byCount.add('info', `line ${i}`);
  t.deepEqual(
    byCount.pendingLogs(10).map((e) => [e.seq, e.span, e.message]),
    [
      [1, 3, '3 log line(s) dropped (1–3): the hub was unreachable for too long'],
      [4, undefined, 'line 4'],
      [5, undefined, 'line 5'],
    ],
  );
  const byBytes = new RunOutbox({ limits: { maxBytes: 3000 } });
  for (let i = 1; i <= 10; i += 1) byBytes.add('info', 'x'.repeat(1000));
  t.true(byBytes.pendingLogs(100).length <= 4);
});

test('the journal is rewritten with only what is owed once it outgrows its limit, so its size stays bounded', (t) => {
  const dir = stateDir(t);
  const { outbox, journal } = journaled(dir, 64 * 1024);
  let largest = 0;
  for (let i = 1; i <= 5000; i += 1) {
    outbox.add('info', `line ${i} ${'y'.repeat(100)}`);
    if (i % 10 === 0) outbox.acknowledge(i - 2);
    largest = Math.max(largest, statSync(journal.file).size);
  }
  journal.close();
  t.true(largest < 80 * 1024, `largest journal ${largest} bytes`);
  const again = reload(journal.file);
  t.deepEqual(again.pendingLogs(10).map((e) => e.seq), [4999, 5000]);
  again.add('info', 'next');
  t.is(again.pendingLogs(10).at(-1)?.seq, 5001);
  t.true(readFileSync(journal.file, 'utf8').startsWith('{"t":"start"'));
});

test('journals are listed for recovery and removed once delivered', (t) => {
  const dir = stateDir(t);
  const a = RunJournal.create(dir, start('run_a'));
  const b = RunJournal.create(dir, start('run_b'));
  t.deepEqual(RunJournal.list(dir).map((f) => path.basename(f)), ['run_a.jsonl', 'run_b.jsonl']);
  a.remove();
  b.close();
  t.deepEqual(RunJournal.list(dir).map((f) => path.basename(f)), ['run_b.jsonl']);
  t.deepEqual(RunJournal.list(path.join(dir, 'nothing')), []);
});

test('batches stay under a byte budget; lines the hub refused become notes under the same numbers, also after a restart', (t) => {
  const dir = stateDir(t);
  const { outbox, journal } = journaled(dir);
  for (let i = 1; i <= 10; i += 1) outbox.add('info', 'z'.repeat(1000));
  const batch = outbox.pendingLogs(500, 5000);
  t.true(batch.length >= 1 && batch.length < 10, `${batch.length} lines`);
  t.is(outbox.pendingLogs(500, 1).length, 1, 'at least one line, whatever the budget');
  outbox.add('info', 'huge fields', { blob: 'b'.repeat(100_000) });
  t.regex(JSON.stringify(outbox.pendingLogs(500).at(-1)?.fields), /bytes of fields left out/);
  outbox.replaceRefused([2, 3], 'PAYLOAD_TOO_LARGE: the body is larger than 262144 bytes');
  const refused = (o: RunOutbox) => o.pendingLogs(500).filter((e) => e.seq === 2 || e.seq === 3).map((e) => e.message);
  t.deepEqual(refused(outbox), ['log line 2 left out: the hub refused it (PAYLOAD_TOO_LARGE: the body is larger than 262144 bytes)', 'log line 3 left out: the hub refused it (PAYLOAD_TOO_LARGE: the body is larger than 262144 bytes)']);
  journal.close();
  const again = reload(journal.file);
  t.deepEqual(refused(again), refused(outbox));
  t.deepEqual(again.pendingLogs(500).map((e) => e.seq), outbox.pendingLogs(500).map((e) => e.seq), 'one entry per number');
});

test('a journal write that fails (the file is gone from under it) is reported once and the run goes on in memory', (t) => {
  const dir = stateDir(t);
  const s = start();
  const journal = RunJournal.create(dir, s);
  const failures: unknown[] = [];
  journal.onFailure((error) => failures.push(error));
  const outbox = new RunOutbox({ journal: { start: s, file: journal } });
  journal.close(); // every later write hits a closed descriptor
  t.notThrows(() => {
    outbox.add('info', 'one');
    outbox.add('info', 'two');
  });
  t.is(failures.length, 1);
  t.deepEqual(outbox.pendingLogs(10).map((e) => e.message), ['one', 'two']);
  t.throws(() => RunJournal.create(dir, start('../escape')), { message: /not a safe file name/ });
});

test('status events are numbered in order, kept until acknowledged, and numbered on after a restart and a compaction', (t) => {
  const dir = stateDir(t);
  const { outbox, journal } = journaled(dir, 4 * 1024);
  outbox.status({ phase: 'running' });
  outbox.status({ faultId: 'cpu', phase: 'applying' });
  outbox.status({ faultId: 'cpu', phase: 'running', detail: 'cgroup x' });
  t.deepEqual(outbox.pendingStatus(10).map((e) => [e.seq, e.phase]), [[1, 'running'], [2, 'applying'], [3, 'running']]);
  t.deepEqual(outbox.pendingStatus(2).map((e) => e.seq), [1, 2], 'a batch is the oldest events');
  outbox.acknowledgeStatus(2);
  t.deepEqual(outbox.pendingStatus(10).map((e) => e.seq), [3]);
  t.true(outbox.statusOwed);
  outbox.acknowledgeStatus(3);
  t.false(outbox.statusOwed);
  t.true(outbox.empty);
  // Enough log lines to compact the journal: the next status number survives it.
  for (let i = 1; i <= 100; i += 1) outbox.add('info', `line ${i} ${'y'.repeat(100)}`);
  outbox.acknowledge(100);
  t.false(readFileSync(journal.file, 'utf8').includes('"applying"'), 'the journal was compacted');
  journal.close();
  const compacted = reload(journal.file);
  compacted.status({ faultId: 'cpu', phase: 'reverting' });
  const again = reload(journal.file);
  t.deepEqual(again.pendingStatus(10).map((e) => [e.seq, e.phase]), [[4, 'reverting']], 'numbering continues after a compaction');
  again.status({ faultId: 'cpu', phase: 'done' });
  t.deepEqual(again.pendingStatus(10).map((e) => e.seq), [4, 5]);
  again.acknowledgeStatus(5);
  again.status({ phase: 'finished' });
  const third = reload(journal.file);
  t.deepEqual(third.pendingStatus(10).map((e) => [e.seq, e.phase]), [[6, 'finished']], 'acknowledged events are not resent after a restart');
});

test('a journal of an agent before numbered status (no seq, "sent" records) is read back and its events numbered', (t) => {
  const dir = stateDir(t);
  const file = path.join(dir, 'runs', 'run_a.jsonl');
  const journal = RunJournal.create(dir, start());
  journal.close();
  const at = new Date().toISOString();
  appendFileSync(file, [
    JSON.stringify({ t: 'status', e: { at, phase: 'running' } }),
    JSON.stringify({ t: 'status', e: { at, faultId: 'cpu', phase: 'running' } }),
    JSON.stringify({ t: 'sent', count: 1 }),
    JSON.stringify({ t: 'status', e: { at, faultId: 'cpu', phase: 'done' } }),
    '',
  ].join('\n'));
  const contents = RunJournal.read(file);
  t.is(contents.invalidLines, 0);
  const outbox = RunOutbox.restore(contents.records, RunJournal.reopen(contents));
  t.deepEqual(outbox.pendingStatus(10).map((e) => [e.seq, e.faultId, e.phase]), [[2, 'cpu', 'running'], [3, 'cpu', 'done']]);
  outbox.status({ phase: 'finished' });
  t.is(outbox.pendingStatus(10).at(-1)?.seq, 4);
});

test('status events past the bound become one note spanning their numbers; refused ones a note too, also after a restart', (t) => {
  const dir = stateDir(t);
  const { outbox, journal } = journaled(dir);
  for (let i = 1; i <= MAX_STATUS_EVENTS + 3; i += 1) outbox.status({ faultId: `f${i}`, phase: 'running' });
  const pending = outbox.pendingStatus(MAX_STATUS_EVENTS + 10);
  t.is(pending.length, MAX_STATUS_EVENTS);
  t.like(pending[0], { seq: 1, span: 4, phase: 'dropped', detail: '4 status event(s) dropped (1–4): the hub was unreachable for too long' });
  t.like(pending[1], { seq: 5, faultId: 'f5' });
  t.deepEqual(pending.map((e) => e.seq + (e.span ?? 1) - 1), Array.from({ length: MAX_STATUS_EVENTS }, (_, i) => i + 4), 'no number left out');
  outbox.replaceRefusedStatus(outbox.pendingStatus(3), 'PAYLOAD_TOO_LARGE: too big');
  const head = (o: RunOutbox) => o.pendingStatus(2).map((e) => [e.seq, e.span, e.phase, e.detail]);
  t.deepEqual(head(outbox), [
    [1, 6, 'left-out', '6 status event(s) left out (1–6): the hub refused them (PAYLOAD_TOO_LARGE: too big)'],
    [7, undefined, 'running', undefined],
  ]);
  journal.close();
  const again = reload(journal.file);
  t.deepEqual(head(again), head(outbox));
  t.is(again.pendingStatus(MAX_STATUS_EVENTS).length, outbox.pendingStatus(MAX_STATUS_EVENTS).length);
  again.status({ phase: 'finished' });
  t.is(again.pendingStatus(MAX_STATUS_EVENTS).at(-1)?.seq, MAX_STATUS_EVENTS + 4);
});

test('status batches stay under a byte budget too, so a backlog of long events is never refused whole (413)', (t) => {
  const outbox = new RunOutbox();
  for (let i = 0; i < 300; i += 1) outbox.status({ faultId: `f${i}`, phase: 'running', detail: 'x'.repeat(2000) });
  const batch = outbox.pendingStatus(500, 192 * 1024);
  t.true(batch.length > 1 && batch.length < 300, `${batch.length} events`);
  t.true(Buffer.byteLength(JSON.stringify(batch)) <= 192 * 1024 + 4096);
  t.is(outbox.pendingStatus(500).length, 300, 'without a budget, the count limit alone');
});
