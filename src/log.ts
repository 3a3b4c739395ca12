// SPDX-License-Identifier: Apache-2.0
/**
 * The root pino logger. `json` writes pino's JSON lines to stdout (journald, log shippers);
 * `text` renders each record as one human line through a caller-supplied writer (the terminal
 * view, which keeps its live lines below the log). Secrets are redacted in both formats.
 */
import { pino, type Logger } from 'pino';

import { REDACT_PATHS, renderTextLine, type LogFormat } from './log-format.js';

export type { LogFormat } from './log-format.js';

export function createLogger(format: LogFormat, writeText: (line: string) => void, level = 'info'): Logger {
  const stream =
    format === 'json'
      ? { write: (line: string) => process.stdout.write(line) }
      : { write: (line: string) => writeText(renderTextLine(line)) };
  return pino({ level, base: { pid: process.pid }, redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, stream);
}
