// SPDX-License-Identifier: Apache-2.0
/**
 * What the agent owes the hub for one run: numbered log lines (kept until the hub acknowledges
 * them, resent after any failure) and status events. Bounded: past `maxEntries` unacknowledged
 * lines the oldest are dropped and a line saying so is shipped in their place.
 * (Buffering on disk across agent restarts is still to come.)
 */
import type { LogEntry, StatusRequest } from '../protocol/messages.js';

type Level = LogEntry['level'];
type StatusEvent = StatusRequest['events'][number];

const PINO_LEVELS: Readonly<Record<number, Level>> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };
const OMIT = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'v']);
const MAX_MESSAGE = 8000;

export class RunOutbox {
  readonly #maxEntries: number;
  #logs: LogEntry[] = [];
  #nextSeq = 1;
  #dropped = 0;
  #status: StatusEvent[] = [];

  constructor(maxEntries = 20_000) {
    this.#maxEntries = maxEntries;
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
    if (this.#logs.length >= this.#maxEntries) {
      this.#logs.shift();
      this.#dropped += 1;
    }
    this.#logs.push({ seq: this.#nextSeq++, at: new Date().toISOString(), level, message: message.slice(0, MAX_MESSAGE), ...(fields ? { fields } : {}) });
  }

  status(event: Omit<StatusEvent, 'at'>): void {
    this.#status.push({ at: new Date().toISOString(), ...event });
  }

  /** Lines not yet acknowledged (the first `limit`). */
  pendingLogs(limit: number): LogEntry[] {
    if (this.#dropped > 0) {
      const dropped = this.#dropped;
      this.#dropped = 0;
      this.add('warn', `${dropped} log line(s) dropped: the hub was unreachable for too long`);
    }
    return this.#logs.slice(0, limit);
  }

  acknowledge(ackedThrough: number): void {
    this.#logs = this.#logs.filter((e) => e.seq > ackedThrough);
  }

  takeStatus(limit: number): StatusEvent[] {
    return this.#status.slice(0, limit);
  }

  statusSent(count: number): void {
    this.#status = this.#status.slice(count);
  }

  get empty(): boolean {
    return this.#logs.length === 0 && this.#status.length === 0 && this.#dropped === 0;
  }
}
