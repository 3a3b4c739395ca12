// SPDX-License-Identifier: Apache-2.0
/**
 * Replacing a file so that a crash at any point leaves either the old contents or the new ones,
 * whole: temp file beside it (its mode set at creation), fsync, rename, directory fsync. Used
 * for the access key, run journals and the recovery notes (the ledger has its own async path).
 */
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';

/** fsync of a directory, so that a rename or a new entry in it is on disk. */
export function syncDirectory(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Writes all of `data` to `fd` (a write may take only part of it, e.g. on a nearly full disk). */
export function writeFully(fd: number, data: Buffer): void {
  for (let offset = 0; offset < data.length; ) offset += writeSync(fd, data, offset, data.length - offset);
}

/**
 * Writes `text` to `file` atomically and durably; returns the bytes written. If any step fails
 * (disk full), the old file is untouched and the temp file is removed.
 */
export function replaceFileDurably(file: string, text: string, mode: number): number {
  const temp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.new`);
  const data = Buffer.from(text);
  try {
    const fd = openSync(temp, 'w', mode);
    try {
      writeFully(fd, data);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, file);
  } catch (error) {
    rmSync(temp, { force: true });
    throw error;
  }
  syncDirectory(path.dirname(file));
  return data.length;
}
