// SPDX-License-Identifier: Apache-2.0
/**
 * What the agent owes the hub for one run, on disk: `<stateDir>/runs/<runId>.jsonl`, one JSON
 * line per change of the run's outbox (a log line, a status event, an acknowledgement, the
 * result). It lets an agent that was restarted (kill -9, reboot, `systemctl restart`) send the
 * rest of a run's logs and its result. Log lines are written without fsync (they survive the
 * process, not a power cut); the start, status events and the result are fdatasync'd. When the
 * file outgrows `compactBytes` it is rewritten with only what is still owed (temp file,
 * fsync, rename), so its size stays bounded by the outbox's own bounds.
 */
import { closeSync, fdatasyncSync, fstatSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';

import { z } from 'zod';

import { LogEntry, ResultRequest, StatusEvent } from '../protocol/messages.js';

export const RUNS_DIR = 'runs';
const SUFFIX = '.jsonl';
const DEFAULT_COMPACT_BYTES = 8 * 2 ** 20;

export const JournalStart = z.object({
  t: z.literal('start'),
  runId: z.string().min(1),
  /** The boot the run started in: a different one at recovery means the host rebooted. */
  bootId: z.string(),
  pid: z.number().int().positive(),
  at: z.iso.datetime(),
  /** The sequence number the next log line gets (kept across compaction). */
  nextSeq: z.number().int().positive(),
});
export type JournalStart = z.infer<typeof JournalStart>;

export const JournalRecord = z.discriminatedUnion('t', [
  JournalStart,
  z.object({ t: z.literal('log'), e: LogEntry }),
  z.object({ t: z.literal('status'), e: StatusEvent }),
  z.object({ t: z.literal('acked'), through: z.number().int().nonnegative() }),
  z.object({ t: z.literal('sent'), count: z.number().int().positive() }),
  z.object({ t: z.literal('result'), result: ResultRequest }),
]);
export type JournalRecord = z.infer<typeof JournalRecord>;

export interface JournalContents {
  readonly file: string;
  readonly records: JournalRecord[];
  /** Lines that did not parse (a torn last line is not counted). */
  readonly invalidLines: number;
}

export class RunJournal {
  readonly file: string;
  readonly #compactBytes: number;
  #fd: number;
  #bytes: number;

  private constructor(file: string, fd: number, bytes: number, compactBytes: number) {
    this.file = file;
    this.#fd = fd;
    this.#bytes = bytes;
    this.#compactBytes = compactBytes;
  }

  /** Creates the journal of a new run (its directory too, mode 0700) and writes `start` durably. */
  static create(stateDir: string, start: JournalStart, compactBytes = DEFAULT_COMPACT_BYTES): RunJournal {
    const dir = path.join(stateDir, RUNS_DIR);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const file = path.join(dir, `${start.runId}${SUFFIX}`);
    const journal = new RunJournal(file, openSync(file, 'w', 0o600), 0, compactBytes);
    journal.write(start, true);
    return journal;
  }

  /** Reopens a recovered journal to append to it. */
  static reopen(contents: JournalContents, compactBytes = DEFAULT_COMPACT_BYTES): RunJournal {
    const fd = openSync(contents.file, 'a', 0o600);
    return new RunJournal(contents.file, fd, fstatSync(fd).size, compactBytes);
  }

  /** Journals left by earlier agent processes, oldest first by name order of their run ids. */
  static list(stateDir: string): string[] {
    const dir = path.join(stateDir, RUNS_DIR);
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return [];
    }
    return names.filter((n) => n.endsWith(SUFFIX)).sort().map((n) => path.join(dir, n));
  }

  /** Reads and validates a journal; a last line without its newline (a torn write) is ignored. */
  static read(file: string): JournalContents {
    const lines = readFileSync(file, 'utf8').split('\n');
    lines.pop();
    const records: JournalRecord[] = [];
    let invalidLines = 0;
    for (const line of lines) {
      if (!line) continue;
      let json: unknown;
      try {
        json = JSON.parse(line);
      } catch {
        invalidLines += 1;
        continue;
      }
      const parsed = JournalRecord.safeParse(json);
      if (parsed.success) records.push(parsed.data);
      else invalidLines += 1;
    }
    return { file, records, invalidLines };
  }

  write(record: JournalRecord, durable = false): void {
    const line = `${JSON.stringify(record)}\n`;
    this.#bytes += writeSync(this.#fd, line);
    if (durable) fdatasyncSync(this.#fd);
  }

  /** True once the file has grown past the point where it should be rewritten. */
  get wantsCompaction(): boolean {
    return this.#bytes > this.#compactBytes;
  }

  /** Replaces the file's contents with `records` atomically (temp file, fsync, rename). */
  replace(records: readonly JournalRecord[]): void {
    const temp = `${this.file}.tmp`;
    const fd = openSync(temp, 'w', 0o600);
    let bytes = 0;
    try {
      for (const record of records) bytes += writeSync(fd, `${JSON.stringify(record)}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, this.file);
    syncDirectory(path.dirname(this.file));
    closeSync(this.#fd);
    this.#fd = openSync(this.file, 'a', 0o600);
    this.#bytes = bytes;
  }

  close(): void {
    if (this.#fd < 0) return;
    closeSync(this.#fd);
    this.#fd = -1;
  }

  /** The hub has everything: the journal goes. */
  remove(): void {
    this.close();
    rmSync(this.file, { force: true });
  }
}

function syncDirectory(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
