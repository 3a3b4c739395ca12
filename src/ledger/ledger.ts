// SPDX-License-Identifier: Apache-2.0
/**
 * The write-ahead rollback ledger: `<stateDir>/ledger.jsonl`, one JSON line per event,
 * fdatasync'd before the call returns, so that a record is on disk before the kernel change it
 * describes is made. Replay validates every line and drops a torn last line (a crash mid-write).
 * Compaction keeps only unresolved faults: temp file, fsync, rename, directory fsync.
 * Several faultd processes may share one state dir: a flock on `ledger.lock` orders them.
 */
import { constants } from 'node:fs';
import { mkdir, open, readFile, rename, stat, truncate, type FileHandle } from 'node:fs/promises';
import path from 'node:path';

import { FaultdError, messageOf } from '../errors.js';
import type { NativeAddon } from '../native/addon.js';
import {
  LEDGER_VERSION,
  LedgerRecordSchema,
  type FaultEntry,
  type LedgerRecord,
  type NewLedgerRecord,
} from './record.js';
import { monotonicMs } from '../monotonic.js';

export const LEDGER_FILE = 'ledger.jsonl';

export interface ReplayReport {
  readonly records: LedgerRecord[];
  /** Lines that were not valid records (line number and reason); a torn last line is not one. */
  readonly invalidLines: { line: number; reason: string }[];
  readonly tornTail: boolean;
}

/** Parses ledger text. A last line without its newline is a torn write and is ignored. */
export function parseLedger(text: string): ReplayReport {
  const records: LedgerRecord[] = [];
  const invalidLines: { line: number; reason: string }[] = [];
  const lines = text.split('\n');
  const tail = lines.pop() ?? '';
  lines.forEach((line, index) => {
    if (line.trim() === '') return;
    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch (error) {
      invalidLines.push({ line: index + 1, reason: messageOf(error) });
      return;
    }
    const parsed = LedgerRecordSchema.safeParse(json);
    if (parsed.success) records.push(parsed.data);
    else invalidLines.push({ line: index + 1, reason: parsed.error.issues.map((i) => i.message).join('; ') });
  });
  return { records, invalidLines, tornTail: tail !== '' };
}

/** Folds records into the state of each fault, in first-seen order. */
export function foldLedger(records: readonly LedgerRecord[]): Map<string, FaultEntry> {
  const entries = new Map<string, FaultEntry>();
  for (const record of records) {
    if (record.event === 'intent') {
      entries.set(record.faultId, { faultId: record.faultId, intent: record, revert: record.revert, state: 'intent', lastRecord: record });
      continue;
    }
    const entry = entries.get(record.faultId);
    if (!entry) continue; // an orphan without intent (compacted away): nothing to revert
    entries.set(record.faultId, {
      ...entry,
      revert: record.event === 'applied' ? record.revert : entry.revert,
      state: record.event,
      lastRecord: record,
    });
  }
  return entries;
}

/** True while a fault may still have state on the host. */
export function isUnresolved(entry: FaultEntry): boolean {
  return entry.state !== 'reverted';
}

/** flock without blocking (the native addon's `tryLock`). */
export type FileLocker = Pick<NativeAddon, 'tryLock'>;

/** How long a ledger operation waits for another faultd's lock before giving up. */
const LOCK_TIMEOUT_MS = 10_000;
const LOCK_RETRY_MS = 2;

export class Ledger {
  readonly stateDir: string;
  readonly file: string;
  readonly #lockFile: string;
  readonly #locker: FileLocker;
  #handle: FileHandle | undefined;
  #lockHandle: FileHandle | undefined;
  #queue: Promise<unknown> = Promise.resolve();

  /**
   * `locker` serialises processes: appends hold a shared flock on `ledger.lock`, while opening
   * (torn-tail repair) and compaction hold it exclusively, so a compaction never renames the
   * file under another faultd's pending append.
   */
  constructor(stateDir: string, locker: FileLocker) {
    this.stateDir = stateDir;
    this.file = path.join(stateDir, LEDGER_FILE);
    this.#lockFile = path.join(stateDir, 'ledger.lock');
    this.#locker = locker;
  }

  /** Creates the state dir (0700) and drops a torn tail so the next append starts a fresh line. */
  async open(): Promise<ReplayReport> {
    try {
      await mkdir(this.stateDir, { recursive: true, mode: 0o700 });
      this.#lockHandle = await open(this.#lockFile, constants.O_RDWR | constants.O_CREAT, 0o600);
    } catch (error) {
      throw new FaultdError('FAULTD_ERR_STATE_DIR', `cannot create state dir ${this.stateDir}: ${messageOf(error)}`, {
        cause: error,
      });
    }
    return this.#withLock('exclusive', async () => {
      const text = await this.#readText();
      const report = parseLedger(text);
      if (report.tornTail) await truncate(this.file, text.lastIndexOf('\n') + 1);
      await this.#openForAppend();
      return report;
    });
  }

  /** Replays the file as it is now (read-only; usable without open()). */
  async replay(): Promise<ReplayReport> {
    return parseLedger(await this.#readText());
  }

  /** Current state of every fault in the ledger. */
  async entries(): Promise<Map<string, FaultEntry>> {
    return foldLedger((await this.replay()).records);
  }

  /** Appends one record and returns once it is on disk (fdatasync). Appends are serialised. */
  async append(record: NewLedgerRecord): Promise<LedgerRecord> {
    const full = LedgerRecordSchema.parse({ v: LEDGER_VERSION, ts: new Date().toISOString(), ...record });
    const bytes = Buffer.from(`${JSON.stringify(full)}\n`);
    const write = this.#queue.then(() =>
      this.#withLock('shared', async () => {
        if (!this.#handle) throw new FaultdError('FAULTD_ERR_LEDGER_IO', 'ledger used before open()');
        try {
          await this.#reopenIfReplaced();
          let offset = 0;
          while (offset < bytes.length) {
            const { bytesWritten } = await this.#handle.write(bytes, offset, bytes.length - offset);
            offset += bytesWritten;
          }
          await this.#handle.datasync();
        } catch (error) {
          throw new FaultdError('FAULTD_ERR_LEDGER_IO', `cannot write ${this.file}: ${messageOf(error)}`, { cause: error });
        }
      }),
    );
    this.#queue = write.catch(() => undefined);
    await write;
    return full;
  }

  /**
   * Rewrites the ledger with only the records of unresolved faults. Crash-safe: the new file is
   * complete and fsync'd before the rename, and the directory is fsync'd after it. Skipped while
   * the ledger has invalid lines, which stay as evidence for a person to look at.
   */
  async compact(): Promise<boolean> {
    await this.#queue;
    return this.#withLock('exclusive', async () => {
      const { records, invalidLines } = await this.replay();
      if (invalidLines.length > 0) return false;
      const entries = foldLedger(records);
      const keep = records.filter((r) => {
        const entry = entries.get(r.faultId);
        return entry !== undefined && isUnresolved(entry);
      });
      const temp = `${this.file}.${process.pid}.tmp`;
      const handle = await open(temp, 'w', 0o600);
      try {
        await handle.writeFile(keep.map((r) => `${JSON.stringify(r)}\n`).join(''));
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temp, this.file);
      await this.#syncDir();
      await this.#openForAppend();
      return true;
    });
  }

  async close(): Promise<void> {
    await this.#queue;
    await this.#handle?.close();
    await this.#lockHandle?.close();
    this.#handle = undefined;
    this.#lockHandle = undefined;
  }

  async #openForAppend(): Promise<void> {
    await this.#handle?.close();
    try {
      this.#handle = await open(this.file, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT, 0o600);
      await this.#syncDir(); // the file's directory entry must be durable before its first record
    } catch (error) {
      throw new FaultdError('FAULTD_ERR_LEDGER_IO', `cannot open ${this.file}: ${messageOf(error)}`, { cause: error });
    }
  }

  /** Another faultd may have compacted (renamed a new file over ours): follow the path. */
  async #reopenIfReplaced(): Promise<void> {
    const [mine, current] = await Promise.all([this.#handle?.stat(), stat(this.file).catch(() => undefined)]);
    if (!mine || !current || mine.ino !== current.ino || mine.dev !== current.dev) await this.#openForAppend();
  }

  async #syncDir(): Promise<void> {
    const dir = await open(this.stateDir, 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  }

  async #withLock<T>(mode: 'shared' | 'exclusive', body: () => Promise<T>): Promise<T> {
    const fd = this.#lockHandle?.fd;
    if (fd === undefined) throw new FaultdError('FAULTD_ERR_LEDGER_IO', 'ledger used before open()');
    const deadline = monotonicMs() + LOCK_TIMEOUT_MS;
    while (!this.#locker.tryLock(fd, mode)) {
      if (monotonicMs() >= deadline) {
        throw new FaultdError('FAULTD_ERR_LEDGER_IO', `${this.#lockFile} stayed locked by another faultd for ${LOCK_TIMEOUT_MS} ms`);
      }
      await new Promise((resolve) => setTimeout(resolve, LOCK_RETRY_MS));
    }
    try {
      return await body();
    } finally {
      this.#locker.tryLock(fd, 'unlock');
    }
  }

  async #readText(): Promise<string> {
    try {
      return await readFile(this.file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return '';
      throw new FaultdError('FAULTD_ERR_LEDGER_IO', `cannot read ${this.file}: ${messageOf(error)}`, { cause: error });
    }
  }
}
