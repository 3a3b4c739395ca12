// SPDX-License-Identifier: Apache-2.0
/**
 * The root pino logger. `json` writes pino's JSON lines to stdout (journald, log shippers);
 * `text` renders each record as one human line through a caller-supplied writer (the terminal
 * view, which keeps its live lines below the log). Secrets are redacted in both formats.
 */
import { pino, type Logger } from 'pino';

export type LogFormat = 'text' | 'json';

/** Paths that must never reach a log (tokens and keys arrive with the agent). */
const REDACT_PATHS = ['token', 'accessToken', 'accessKey', 'newAccessKey', 'authorization', '*.token', '*.accessToken', '*.accessKey', '*.newAccessKey', '*.authorization', 'headers.authorization', '*.headers.authorization'];

const LEVEL_NAMES: Readonly<Record<number, string>> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const OMIT = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'v']);

function renderValue(value: unknown): string {
  if (value && typeof value === 'object' && 'message' in value) return JSON.stringify(value.message);
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return /[\s"=]/.test(text) ? JSON.stringify(text) : text;
}

/** Formats one pino JSON record as `HH:MM:SS LEVEL message key=value ...`. */
export function renderTextLine(json: string): string {
  const record = JSON.parse(json) as Record<string, unknown>;
  const time = new Date(Number(record['time'])).toISOString().slice(11, 19);
  const level = LEVEL_NAMES[Number(record['level'])] ?? 'INFO';
  const fields = Object.entries(record)
    .filter(([key]) => !OMIT.has(key))
    .map(([key, value]) => `${key}=${renderValue(value)}`);
  return `${time} ${level.padEnd(5)} ${typeof record['msg'] === 'string' ? record['msg'] : ''}${fields.length ? ` ${fields.join(' ')}` : ''}`;
}

export function createLogger(format: LogFormat, writeText: (line: string) => void, level = 'info'): Logger {
  const stream =
    format === 'json'
      ? { write: (line: string) => process.stdout.write(line) }
      : { write: (line: string) => writeText(renderTextLine(line)) };
  return pino({ level, base: { pid: process.pid }, redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, stream);
}
