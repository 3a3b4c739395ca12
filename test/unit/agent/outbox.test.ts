// SPDX-License-Identifier: Apache-2.0
// The run outbox and its journal: what a restarted agent rebuilds, torn writes, bounds, compaction.
import { appendFileSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import test from 'ava';

import { RunOutbox } from '../../../src/agent/outbox.js';
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
