// SPDX-License-Identifier: Apache-2.0
/**
 * The error class of every native failure, in the shape of Node's own system errors:
 * `code` ('EPERM'), negative `errno`, `syscall`, optional kernel `detail`, and a message
 * `<syscall> <code>[: <detail>]` (e.g. `RTM_NEWQDISC ENOENT: Specified qdisc kind is unknown`).
 */
import { getSystemErrorName } from 'node:util';

export class NativeSystemError extends Error {
  override readonly name = 'NativeSystemError';
  readonly code: string;
  readonly errno: number;
  readonly syscall: string;
  readonly detail: string | undefined;

  constructor(errno: number, syscall: string, detail?: string) {
    const code = safeErrorName(errno);
    super(`${syscall} ${code}${detail ? `: ${detail}` : ''}`);
    this.code = code;
    this.errno = -Math.abs(errno);
    this.syscall = syscall;
    this.detail = detail;
  }
}

function safeErrorName(errno: number): string {
  try {
    return getSystemErrorName(-Math.abs(errno));
  } catch {
    return `E${Math.abs(errno)}`;
  }
}

/** The factory handed to the addon's init(). */
export function makeSystemError(errno: number, syscall: string, detail?: string): Error {
  return new NativeSystemError(errno, syscall, detail);
}
