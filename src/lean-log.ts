// SPDX-License-Identifier: Apache-2.0
/**
 * The idle agent's logger: the lines pino writes (same fields, order, levels and redaction, and
 * the same human rendering in `text`), in a few lines of code instead of pino and its
 * dependencies, so the idle process stays small (README, "Footprint").
 */
import { REDACT_PATHS, renderTextLine, type LogFormat } from './log-format.js';
import type { LogCall, LogSink } from './log-sink.js';

const LEVELS = { debug: 20, info: 30, warn: 40, error: 50 } as const;
type LevelName = keyof typeof LEVELS;

export interface LeanLoggerOptions {
  readonly format: LogFormat;
  /** Lowest level written (default info). */
  readonly level?: LevelName;
  /** Where each line goes (default stdout; a closed stdout only drops lines). */
  readonly write?: (line: string) => void;
  readonly pid?: number;
  readonly now?: () => number;
}

const CENSOR = '[redacted]';
const REDACT = REDACT_PATHS.map((p) => p.split('.'));

/** A copy of `value` with every REDACT_PATHS path ("*" = any key at that level) censored. */
function redact(value: unknown, paths: readonly (readonly string[])[] = REDACT): unknown {
  if (typeof value !== 'object' || value === null || Array.isArray(value) || paths.length === 0) return value;
  const copy: Record<string, unknown> = { ...(value as Record<string, unknown>) };
  for (const key of Object.keys(copy)) {
    const here = paths.filter((p) => p[0] === '*' || p[0] === key);
    if (here.some((p) => p.length === 1)) copy[key] = CENSOR;
    else if (here.length) copy[key] = redact(copy[key], here.map((p) => p.slice(1)));
  }
  return copy;
}

/** As pino's default serializer does for `err`: type, message and stack of an Error. */
function serializable(value: unknown): unknown {
  return value instanceof Error ? { type: value.name, message: value.message, stack: value.stack } : value;
}

export function createLeanLogger(options: LeanLoggerOptions): LogSink {
  const write = options.write ?? ((line: string) => process.stdout.write(line));
  const pid = options.pid ?? process.pid;
  const now = options.now ?? Date.now;
  const threshold = LEVELS[options.level ?? 'info'];
  const call =
    (level: LevelName): LogCall =>
    (first: object | string, message?: string): void => {
      if (LEVELS[level] < threshold) return;
      const fields = typeof first === 'string' ? {} : (redact(Object.fromEntries(Object.entries(first).map(([k, v]) => [k, serializable(v)]))) as object);
      const msg = typeof first === 'string' ? first : message;
      const json = JSON.stringify({ level: LEVELS[level], time: now(), pid, ...fields, ...(msg === undefined ? {} : { msg }) });
      write(options.format === 'json' ? `${json}\n` : `${renderTextLine(json)}\n`);
    };
  return { debug: call('debug'), info: call('info'), warn: call('warn'), error: call('error') };
}
