// SPDX-License-Identifier: Apache-2.0
/**
 * Parsing of the human units faultd accepts: Harness durations (`1m25s`, `1h3m2s`, bare numbers
 * as seconds, plus `ms`) and byte sizes (`512Mi`, `2Gi`, Harness/stress-ng `30m`, `1G`, bytes as a
 * number, or a percentage of total memory such as `35%`). Pure functions; errors are strings the
 * schema layer turns into field messages.
 */

const DURATION_PART = /(\d+(?:\.\d+)?)(ms|h|m|s)/gy;
const UNIT_MS: Readonly<Record<string, number>> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1 };

/** Parses a duration to milliseconds; undefined when the text is not a duration. */
export function parseDurationMs(input: string | number): number | undefined {
  if (typeof input === 'number') return Number.isFinite(input) && input >= 0 ? Math.round(input * 1000) : undefined;
  const text = input.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  if (text === '') return undefined;
  DURATION_PART.lastIndex = 0;
  let total = 0;
  let consumed = 0;
  for (let match = DURATION_PART.exec(text); match; match = DURATION_PART.exec(text)) {
    total += Number(match[1]) * (UNIT_MS[match[2] ?? ''] ?? Number.NaN);
    consumed = DURATION_PART.lastIndex;
  }
  return consumed === text.length && Number.isFinite(total) ? Math.round(total) : undefined;
}

/** Formats milliseconds the way Harness writes durations (`1m25s`, `250ms`). */
export function formatDurationMs(ms: number): string {
  if (ms === 0) return '0s';
  if (ms < 1000) return `${ms}ms`;
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  const s = (ms % 60_000) / 1000;
  return `${h ? `${h}h` : ''}${m ? `${m}m` : ''}${s ? `${Number(s.toFixed(3))}s` : ''}`;
}

/** A comma list (`"a,b"`, Harness) or a YAML list of strings, trimmed, without empty entries. */
export function listOf(value: string | readonly string[]): string[] {
  const items = typeof value === 'string' ? value.split(',') : value;
  return items.map((item) => item.trim()).filter((item) => item !== '');
}

const BYTE_UNITS: Readonly<Record<string, number>> = {
  '': 1, b: 1,
  k: 1024, kb: 1024, ki: 1024, kib: 1024,
  m: 1024 ** 2, mb: 1024 ** 2, mi: 1024 ** 2, mib: 1024 ** 2,
  g: 1024 ** 3, gb: 1024 ** 3, gi: 1024 ** 3, gib: 1024 ** 3,
  t: 1024 ** 4, tb: 1024 ** 4, ti: 1024 ** 4, tib: 1024 ** 4,
};

/** A byte amount: absolute, or a percentage of a base the caller supplies (e.g. MemTotal). */
export type ByteAmount = { readonly bytes: number } | { readonly percent: number };

/**
 * Parses `512Mi`, `2Gi`, `30m`, `1G`, `1073741824`, `35%`. Units are binary (k = 1024), as in
 * stress-ng and Harness. Undefined when the text is not a size.
 */
export function parseByteAmount(input: string | number): ByteAmount | undefined {
  if (typeof input === 'number') return Number.isSafeInteger(input) && input >= 0 ? { bytes: input } : undefined;
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z%]*)\s*$/.exec(input);
  if (!match) return undefined;
  const value = Number(match[1]);
  const unit = (match[2] ?? '').toLowerCase();
  if (unit === '%') return value <= 100 ? { percent: value } : undefined;
  const factor = BYTE_UNITS[unit];
  return factor === undefined ? undefined : { bytes: Math.round(value * factor) };
}

/** Formats bytes with binary units (`1.50 GiB`). */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(2)} ${units[unit] ?? ''}`;
}
