// SPDX-License-Identifier: Apache-2.0
/**
 * What the agent owes the hub for one run, on disk: `<stateDir>/runs/<runId>.jsonl`, one JSON
 * line per change of the run's outbox (a log line, a status event, an acknowledgement, the
 * result). It lets an agent that was restarted (kill -9, reboot, `systemctl restart`) send the
 * rest of a run's logs, its status events and its result. Log lines and status events are
 * written without fsync (they survive the process), and synced before they are shipped
 * (`sync`), so a power cut can lose only what the hub never saw and never makes a sequence
 * number the hub has be handed out again; the start and the result are fdatasync'd at once. When the
 * file outgrows `compactBytes` (or twice its last rewrite) it is rewritten with only what is
 * still owed (temp file, fsync, rename), so its size stays bounded by the outbox's own bounds.
 * A write that fails (disk full, I/O error) never stops the run: the journal turns itself off,
 * says why through `onFailure`, and the outbox goes on in memory.
 */
import { closeSync, fdatasyncSync, fstatSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, truncateSync } from 'node:fs';
import path from 'node:path';

import { z } from 'zod';

import { replaceFileDurably, syncDirectory, writeFully } from '../host/durable-file.js';
import { LogEntry, ResultRequest, StatusEvent } from '../protocol/messages.js';

export const RUNS_DIR = 'runs';
/** Run ids become file names: only these characters (the protocol allows no others). */
const SAFE_RUN_ID = /^[A-Za-z0-9_-]{1,64}$/;
const SUFFIX = '.jsonl';
const DEFAULT_COMPACT_BYTES = 8 * 2 ** 20;

export const JournalStart = z.object({
  t: z.literal('start'),
  runId: z.string().regex(SAFE_RUN_ID),
  /** The boot the run started in: a different one at recovery means the host rebooted. */
  bootId: z.string(),
  pid: z.number().int().positive(),
  /**
   * The agent process's start time (clock ticks since boot): with pid, it survives pid reuse.
   * Absent in journals of faultd before 2026-11-25, which are checked by pid alone.
   */
  startTime: z.number().int().nonnegative().optional(),
  at: z.iso.datetime(),
  /** The sequence number the next log line gets (kept across compaction). */
  nextSeq: z.number().int().positive(),
  /**
   * The sequence number the next status event gets (kept across compaction). Absent in
   * journals of faultd before 2026-12, whose status events are numbered when read back.
   */
  nextStatusSeq: z.number().int().positive().optional(),
});
export type JournalStart = z.infer<typeof JournalStart>;

export const JournalRecord = z.discriminatedUnion('t', [
  JournalStart,
  z.object({ t: z.literal('log'), e: LogEntry }),
  z.object({ t: z.literal('status'), e: StatusEvent }),
  z.object({ t: z.literal('acked'), through: z.number().int().nonnegative() }),
  /** The hub acknowledged every status event through this seq. */
  z.object({ t: z.literal('status-acked'), through: z.number().int().nonnegative() }),
  /** Journals of faultd before 2026-12: the first `count` status events went out (unnumbered). */
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
  #threshold: number;
  #onFailure: (error: unknown) => void = () => undefined;
  #failed = false;
  #unsynced = false;

  private constructor(file: string, fd: number, bytes: number, compactBytes: number) {
    this.file = file;
    this.#fd = fd;
    this.#bytes = bytes;
    this.#compactBytes = compactBytes;
    this.#threshold = compactBytes;
  }

  /**
   * Creates the journal of a new run (its directory too, mode 0700) and writes `start` durably,
   * with the directory entry fsync'd. Throws if that fails (the caller runs without a journal).
   */
  static create(stateDir: string, start: JournalStart, compactBytes = DEFAULT_COMPACT_BYTES): RunJournal {
    if (!SAFE_RUN_ID.test(start.runId)) throw new Error(`run id ${JSON.stringify(start.runId)} is not a safe file name`);
    const dir = path.join(stateDir, RUNS_DIR);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const file = path.join(dir, `${start.runId}${SUFFIX}`);
    const fd = openSync(file, 'w', 0o600);
    const journal = new RunJournal(file, fd, 0, compactBytes);
    const line = Buffer.from(`${JSON.stringify(start)}\n`);
    writeFully(fd, line);
    journal.#bytes += line.length;
    fdatasyncSync(fd);
    syncDirectory(dir);
    return journal;
  }

  /** Reopens a recovered journal to append to it, cutting a torn last line first. */
  static reopen(contents: JournalContents, compactBytes = DEFAULT_COMPACT_BYTES): RunJournal {
    const text = readFileSync(contents.file, 'utf8');
    if (text !== '' && !text.endsWith('\n')) truncateSync(contents.file, Buffer.byteLength(text.slice(0, text.lastIndexOf('\n') + 1)));
    const fd = openSync(contents.file, 'a', 0o600);
    return new RunJournal(contents.file, fd, fstatSync(fd).size, compactBytes);
  }

  /** Where a failed write is reported (once); the journal is off after it. */
  onFailure(report: (error: unknown) => void): void {
    this.#onFailure = report;
  }

  /** Journals left by earlier agent processes (in name order). */
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
    if (this.#failed) return;
    try {
      const line = Buffer.from(`${JSON.stringify(record)}\n`);
      writeFully(this.#fd, line);
      this.#bytes += line.length;
      this.#unsynced = !durable;
      if (durable) fdatasyncSync(this.#fd);
    } catch (error) {
      this.#fail(error);
    }
  }

  /** fdatasync, if anything was written since the last one (before log lines are shipped). */
  sync(): void {
    if (this.#failed || !this.#unsynced) return;
    try {
      fdatasyncSync(this.#fd);
      this.#unsynced = false;
    } catch (error) {
      this.#fail(error);
    }
  }

  /** True once the file has grown past the point where it should be rewritten. */
  get wantsCompaction(): boolean {
    return !this.#failed && this.#bytes > this.#threshold;
  }

  /**
   * Replaces the file's contents with `records` atomically (temp file, fsync, rename). The next
   * rewrite waits until the file has doubled, so a large backlog is not rewritten per line.
   */
  replace(records: readonly JournalRecord[]): void {
    if (this.#failed) return;
    try {
      this.#replace(records);
    } catch (error) {
      this.#fail(error);
    }
  }

  #fail(error: unknown): void {
    this.#failed = true;
    this.#onFailure(error);
  }

  #replace(records: readonly JournalRecord[]): void {
    const bytes = replaceFileDurably(this.file, records.map((r) => `${JSON.stringify(r)}\n`).join(''), 0o600);
    closeSync(this.#fd);
    this.#fd = openSync(this.file, 'a', 0o600);
    this.#bytes = bytes;
    this.#threshold = Math.max(this.#compactBytes, 2 * bytes);
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
