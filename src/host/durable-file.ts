// SPDX-License-Identifier: Apache-2.0
/**
 * Replacing a file so that a crash at any point leaves either the old contents or the new ones,
 * whole: temp file beside it (its mode set at creation), fsync, rename, directory fsync. Used
 * for the access key, run journals and the recovery notes (the ledger has its own async path).
 */
import { closeSync, fsyncSync, openSync, renameSync, writeSync } from 'node:fs';
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

/** Writes `text` to `file` atomically and durably; returns the bytes written. */
export function replaceFileDurably(file: string, text: string, mode: number): number {
  const temp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.new`);
  const fd = openSync(temp, 'w', mode);
  let bytes = 0;
  try {
    bytes = writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temp, file);
  syncDirectory(path.dirname(file));
  return bytes;
}
