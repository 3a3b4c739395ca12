// SPDX-License-Identifier: Apache-2.0
/**
 * The agent's access-key file: refused unless only its owner can read it (mode 0600 or
 * stricter), and replaced atomically on key rotation (temp file 0600, fsync, rename, directory
 * fsync), so a crash at any point leaves either the old key or the new one, whole.
 */
import { readFileSync, statSync } from 'node:fs';

import { FaultdError, messageOf } from '../errors.js';
import { replaceFileDurably } from '../host/durable-file.js';
import { ACCESS_KEY_PREFIX } from '../protocol/constants.js';

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
  replaceFileDurably(file, `${key}\n`, 0o600);
}
