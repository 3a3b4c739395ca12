// SPDX-License-Identifier: Apache-2.0
/**
 * The format of faultd's log records, apart from pino: which fields are secret, and how a JSON
 * record reads as one human line. Used by the pino logger (log.ts) and by the idle agent's own
 * small logger (lean-log.ts), so both write the same lines.
 */

export type LogFormat = 'text' | 'json';

/** Paths that must never reach a log (tokens and keys arrive with the agent). */
export const REDACT_PATHS = ['token', 'accessToken', 'accessKey', 'newAccessKey', 'authorization', '*.token', '*.accessToken', '*.accessKey', '*.newAccessKey', '*.authorization', 'headers.authorization', '*.headers.authorization'];

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
