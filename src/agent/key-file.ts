// SPDX-License-Identifier: Apache-2.0
/**
 * The agent's access-key file: refused unless only its owner can read it (mode 0600 or
 * stricter), and replaced atomically on key rotation (temp file 0600, fsync, rename, directory
 * fsync), so a crash at any point leaves either the old key or the new one, whole.
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, statSync, writeSync } from 'node:fs';
import path from 'node:path';

import { FaultdError, messageOf } from '../errors.js';
import { ACCESS_KEY_PREFIX } from '../protocol/messages.js';

export function readAccessKey(file: string): string {
  let mode: number;
  let text: string;
  try {
    mode = statSync(file).mode & 0o777;
    text = readFileSync(file, 'utf8').trim();
  } catch (error) {
    throw new FaultdError('FAULTD_ERR_AGENT_CONFIG', `cannot read the access key file ${file}: ${messageOf(error)}`, { cause: error });
  }
  if ((mode & 0o077) !== 0) {
    throw new FaultdError('FAULTD_ERR_AGENT_CONFIG', `the access key file ${file} has mode ${mode.toString(8).padStart(4, '0')}; it must be readable by its owner only: chmod 600 ${file}`);
  }
  if (!text.startsWith(ACCESS_KEY_PREFIX)) throw new FaultdError('FAULTD_ERR_AGENT_CONFIG', `${file} does not hold a faultd access key (${ACCESS_KEY_PREFIX}…)`);
  return text;
}

export function writeAccessKey(file: string, key: string): void {
  const temp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.new`);
  const fd = openSync(temp, 'w', 0o600);
  try {
    writeSync(fd, `${key}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temp, file);
  const dir = openSync(path.dirname(file), 'r');
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
}
