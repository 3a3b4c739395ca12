// SPDX-License-Identifier: Apache-2.0
/**
 * What the agent owes the hub for one run: numbered log lines and numbered status events (each
 * kept until the hub acknowledges it, resent after any failure; the hub stores a number once)
 * and, at the end, the result. Every change is
 * also written to the run's journal on disk (run-journal.ts), so that a restarted agent can
 * rebuild the outbox and finish the delivery. Bounded: past `maxEntries` unacknowledged lines,
 * or `maxBytes` of them, the oldest are dropped and one note spanning their sequence numbers is
 * shipped in their place; status events likewise past MAX_STATUS_EVENTS.
 */
import type { LogEntry, ResultRequest, StatusEvent } from '../protocol/messages.js';
import type { JournalRecord, JournalStart, RunJournal } from './run-journal.js';

type Level = LogEntry['level'];
/** A status event in the outbox: always numbered. */
export type NumberedStatus = StatusEvent & { readonly seq: number };

const PINO_LEVELS: Readonly<Record<number, Level>> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };
const OMIT = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'v']);
const MAX_MESSAGE = 8000;
/** A line's structured fields beyond this (JSON) are replaced by a note: one line stays small. */
const MAX_FIELDS_JSON = 16 * 1024;
/** Unacknowledged status events kept; past it the oldest become one note spanning their numbers. */
export const MAX_STATUS_EVENTS = 5000;

/** The last sequence number an entry (log line or status event) stands for. */
function lastSeqOf(entry: { readonly seq: number; readonly span?: number | undefined }): number {
  return entry.seq + (entry.span ?? 1) - 1;
}

export interface OutboxLimits {
  readonly maxEntries: number;
  readonly maxBytes: number;
}

const DEFAULT_LIMITS: OutboxLimits = { maxEntries: 20_000, maxBytes: 8 * 2 ** 20 };

interface Pending {
  readonly entry: LogEntry;
  readonly bytes: number;
}

export class RunOutbox {
  readonly #limits: OutboxLimits;
  readonly #journal: RunJournal | undefined;
  readonly #start: JournalStart | undefined;
  #logs: Pending[] = [];
  #logBytes = 0;
  #nextSeq = 1;
  #status: NumberedStatus[] = [];
  #nextStatusSeq = 1;
  #result: ResultRequest | undefined;

  /** `start` and `journal` together make the outbox persistent (the journal already holds `start`). */
  constructor(options: { limits?: Partial<OutboxLimits>; journal?: { start: JournalStart; file: RunJournal } } = {}) {
    this.#limits = { ...DEFAULT_LIMITS, ...options.limits };
    this.#journal = options.journal?.file;
    this.#start = options.journal?.start;
    if (this.#start) {
      this.#nextSeq = this.#start.nextSeq;
      this.#nextStatusSeq = this.#start.nextStatusSeq ?? 1;
    }
  }

  /** Rebuilds the outbox of a journal read back from disk (see RunJournal.read) and keeps appending to it. */
  static restore(records: readonly JournalRecord[], journal: RunJournal, limits?: Partial<OutboxLimits>): RunOutbox {
    const start = records.find((r): r is JournalStart => r.t === 'start');
    if (!start) throw new Error(`${journal.file}: no start record`);
    const outbox = new RunOutbox({ ...(limits ? { limits } : {}), journal: { start, file: journal } });
    for (const record of records) outbox.#apply(record);
    return outbox;
  }

  /** The run this outbox belongs to, as its journal started it (undefined without a journal). */
  get start(): JournalStart | undefined {
    return this.#start;
  }

  get result(): ResultRequest | undefined {
    return this.#result;
  }

  /** Adds one pino JSON line (as the run's logger writes it). */
  addPinoLine(line: string): void {
    let record: Record<string, unknown>;
    try {
      record = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return;
    }
    const fields = Object.fromEntries(Object.entries(record).filter(([key]) => !OMIT.has(key)));
    this.add(PINO_LEVELS[Number(record['level'])] ?? 'info', typeof record['msg'] === 'string' ? record['msg'] : '', Object.keys(fields).length ? fields : undefined);
  }

  add(level: Level, message: string, fields?: Record<string, unknown>): void {
    const json = fields ? JSON.stringify(fields) : '';
    const kept = fields && json.length > MAX_FIELDS_JSON ? { fieldsDropped: `${json.length} bytes of fields left out` } : fields;
    const entry: LogEntry = { seq: this.#nextSeq, at: new Date().toISOString(), level, message: message.slice(0, MAX_MESSAGE), ...(kept ? { fields: kept } : {}) };
    this.#record({ t: 'log', e: entry });
  }

  /**
   * Replaces lines the hub refused for good (400/413) by a short note under the same numbers,
   * so that the hub's contiguous acknowledgement can move past them.
   */
  replaceRefused(seqs: readonly number[], why: string): void {
    for (const seq of seqs) {
      this.#record({ t: 'log', e: { seq, at: new Date().toISOString(), level: 'warn', message: `log line ${seq} left out: the hub refused it (${why.slice(0, 500)})` } });
    }
  }

  /**
   * Queues a status event under the run's next status number. Journaled without fsync, like a
   * log line, and synced before it is shipped: the runner calls this on its way to a revert,
   * which must not wait for the disk.
   */
  status(event: Omit<StatusEvent, 'at' | 'seq' | 'span'>): void {
    this.#record({ t: 'status', e: { seq: this.#nextStatusSeq, at: new Date().toISOString(), ...event } });
  }

  /** The run's result: kept (durably) until the hub has it. */
  setResult(result: ResultRequest): void {
    this.#record({ t: 'result', result }, true);
  }

  /** Lines not yet acknowledged, synced to the journal: at most `limit` of them and about `maxBytes` of JSON (at least one). */
  pendingLogs(limit: number, maxBytes = Infinity): LogEntry[] {
    const batch: LogEntry[] = [];
    let bytes = 0;
    for (const pending of this.#logs) {
      if (batch.length >= limit || (batch.length > 0 && bytes + pending.bytes > maxBytes)) break;
      batch.push(pending.entry);
      bytes += pending.bytes;
    }
    // Lines leave for the hub only once they are on disk: after a power cut, the journal never
    // hands out again a sequence number the hub already has.
    if (batch.length > 0) this.#journal?.sync();
    return batch;
  }

  acknowledge(ackedThrough: number): void {
    if (!this.#logs.some((p) => p.entry.seq <= ackedThrough)) return;
    this.#record({ t: 'acked', through: ackedThrough });
  }

  /** Status events not yet acknowledged, in seq order, synced to the journal: at most `limit` of them and about `maxBytes` of JSON (at least one). */
  pendingStatus(limit: number, maxBytes = Infinity): NumberedStatus[] {
    const batch: NumberedStatus[] = [];
    let bytes = 0;
    for (const event of this.#status) {
      const size = Buffer.byteLength(JSON.stringify(event));
      if (batch.length >= limit || (batch.length > 0 && bytes + size > maxBytes)) break;
      batch.push(event);
      bytes += size;
    }
    // As for log lines: after a power cut, no number the hub has is handed out again.
    if (batch.length > 0) this.#journal?.sync();
    return batch;
  }

  /** The hub has every status event through `ackedThrough` (an older hub's 204: through the batch). */
  acknowledgeStatus(ackedThrough: number): void {
    if (!this.#status.some((e) => lastSeqOf(e) <= ackedThrough)) return;
    this.#record({ t: 'status-acked', through: ackedThrough });
  }

  /**
   * Replaces status events the hub refused for good (400/413) by one note spanning their
   * numbers, so that the hub's contiguous acknowledgement can move past them.
   */
  replaceRefusedStatus(events: readonly NumberedStatus[], why: string): void {
    const first = events[0];
    const last = events.at(-1);
    if (!first || !last) return;
    const span = lastSeqOf(last) - first.seq + 1;
    this.#record({ t: 'status', e: { seq: first.seq, span, at: new Date().toISOString(), phase: 'left-out', detail: `${span} status event(s) left out (${first.seq}–${lastSeqOf(last)}): the hub refused them (${why.slice(0, 500)})` } });
  }

  /**
   * The hub acknowledges less than it once did (its database was restored from a backup): the
   * events from `ackedThrough` + 1 up to the oldest one still pending are gone from here too. One
   * note spanning them goes first, so the acknowledgement (and the result behind it) can move on.
   */
  noteLostStatus(ackedThrough: number): void {
    const head = this.#status[0];
    if (!head || ackedThrough >= head.seq - 1) return;
    const from = ackedThrough + 1;
    const span = head.seq - from;
    this.#record({ t: 'status', e: { seq: from, span, at: new Date().toISOString(), phase: 'lost', detail: `${span} status event(s) lost (${from}–${head.seq - 1}): the hub had acknowledged them and no longer has them` } });
  }

  /** True while a status event waits for the hub's acknowledgement (the result waits for none). */
  get statusOwed(): boolean {
    return this.#status.length > 0;
  }

  get empty(): boolean {
    return this.#logs.length === 0 && this.#status.length === 0;
  }

  /** Applies a change and journals it; rewrites the journal when it has grown too long. */
  #record(record: JournalRecord, durable = false): void {
    this.#apply(record);
    if (!this.#journal) return;
    this.#journal.write(record, durable);
    if (this.#journal.wantsCompaction) this.#journal.replace(this.#snapshot());
  }

  #apply(record: JournalRecord): void {
    switch (record.t) {
      case 'start':
        return;
      case 'log': {
        // UTF-8 may take 3 bytes a character; 128 covers the line's own keys.
        const bytes = 3 * record.e.message.length + (record.e.fields ? JSON.stringify(record.e.fields).length : 0) + 128;
        // Pending lines are in seq order: only a number not above the last one can be a
        // replacement, so new lines (and a replayed journal) skip the search.
        const last = this.#logs.at(-1)?.entry.seq ?? 0;
        const same = record.e.seq <= last ? this.#logs.findIndex((p) => p.entry.seq === record.e.seq) : -1;
        if (same >= 0) {
          // A refused line replaced by its note (replaceRefused); a drop note keeps its span.
          const replaced = this.#logs[same];
          const span = replaced?.entry.span;
          this.#logBytes += bytes - (replaced?.bytes ?? 0);
          this.#logs[same] = { entry: span === undefined ? record.e : { ...record.e, span }, bytes };
          return;
        }
        // A replacement for a line that was dropped meanwhile: the drop note covers it.
        if (record.e.seq <= last) return;
        this.#logs.push({ entry: record.e, bytes });
        this.#logBytes += bytes;
        this.#nextSeq = Math.max(this.#nextSeq, record.e.seq + (record.e.span ?? 1));
        this.#dropOldest();
        return;
      }
      case 'status':
        this.#applyStatus(record.e);
        return;
      case 'acked':
        this.#logs = this.#logs.filter((p) => {
          if (p.entry.seq > record.through) return true;
          this.#logBytes -= p.bytes;
          return false;
        });
        return;
      case 'status-acked':
        this.#status = this.#status.filter((e) => lastSeqOf(e) > record.through);
        return;
      case 'sent':
        // A journal of faultd before 2026-12: the first `count` events went out.
        this.#status = this.#status.slice(record.count);
        return;
      case 'result':
        this.#result = record.result;
        return;
    }
  }

  /**
   * Adds a status event, or a note replacing the pending events its span covers (refused or
   * dropped). An event of an older journal has no number: it gets the next one.
   */
  #applyStatus(event: StatusEvent): void {
    const numbered: NumberedStatus = { ...event, seq: event.seq ?? this.#nextStatusSeq };
    const last = this.#status.at(-1)?.seq ?? 0;
    if (numbered.seq <= last) {
      // A note in place of events already pending: it takes their place.
      const end = lastSeqOf(numbered);
      const at = this.#status.findIndex((e) => lastSeqOf(e) >= numbered.seq);
      const covered = this.#status.filter((e) => e.seq >= numbered.seq && lastSeqOf(e) <= end).length;
      if (at >= 0) this.#status.splice(at, covered, numbered);
      return;
    }
    this.#status.push(numbered);
    this.#nextStatusSeq = Math.max(this.#nextStatusSeq, lastSeqOf(numbered) + 1);
    while (this.#status.length > MAX_STATUS_EVENTS) {
      // The two oldest become one note spanning their numbers: nothing leaves a gap.
      const [head, next] = this.#status;
      if (!head || !next) return;
      const span = lastSeqOf(next) - head.seq + 1;
      const note: NumberedStatus = { seq: head.seq, span, at: head.at, phase: 'dropped', detail: `${span} status event(s) dropped (${head.seq}–${lastSeqOf(next)}): the hub was unreachable for too long` };
      this.#status.splice(0, 2, note);
    }
  }

  /**
   * Keeps the outbox within its limits by dropping the oldest lines. They become one note at
   * the head that spans their sequence numbers (`span`), so the hub can acknowledge past them
   * and everything after them still arrives: a dropped line leaves no gap.
   */
  #dropOldest(): void {
    const over = (): boolean => this.#logs.length > this.#limits.maxEntries || (this.#logBytes > this.#limits.maxBytes && this.#logs.length > 1);
    while (over()) {
      const head = this.#logs[0];
      if (!head) return;
      const isNote = head.entry.span !== undefined;
      const victim = isNote ? this.#logs[1] : head;
      if (!victim) return;
      const from = head.entry.seq;
      const span = victim.entry.seq + (victim.entry.span ?? 1) - from;
      const note: LogEntry = { seq: from, span, at: head.entry.at, level: 'warn', message: `${span} log line(s) dropped (${from}–${from + span - 1}): the hub was unreachable for too long` };
      const noteBytes = 3 * note.message.length + 128;
      this.#logs.splice(0, isNote ? 2 : 1, { entry: note, bytes: noteBytes });
      this.#logBytes += noteBytes - head.bytes - (isNote ? victim.bytes : 0);
    }
  }

  /** What is still owed, as the records of a fresh journal. */
  #snapshot(): JournalRecord[] {
    const start = this.#start;
    if (!start) return [];
    return [
      { ...start, nextSeq: this.#nextSeq, nextStatusSeq: this.#nextStatusSeq },
      ...this.#logs.map((p): JournalRecord => ({ t: 'log', e: p.entry })),
      ...this.#status.map((e): JournalRecord => ({ t: 'status', e })),
      ...(this.#result ? [{ t: 'result', result: this.#result } as const] : []),
    ];
  }
}
