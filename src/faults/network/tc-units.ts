// SPDX-License-Identifier: Apache-2.0
/**
 * Rates and sizes in tc's own notation (iproute2 lib/utils_math.c), which Harness tunables use:
 * `1mbit`, `512kbit`, `10gbit`, `100Bps` (bytes/s), a bare number = bits/s; sizes `32kb`,
 * `2mb`, `1500` (bytes), where k/m/g are binary (1024). Suffixes are case-insensitive, as in tc.
 */

const RATE_SUFFIXES: Readonly<Record<string, number>> = {
  bit: 1, kibit: 1024, kbit: 1000, mibit: 1024 ** 2, mbit: 1e6, gibit: 1024 ** 3, gbit: 1e9, tibit: 1024 ** 4, tbit: 1e12,
  bps: 8, kibps: 8 * 1024, kbps: 8000, mibps: 8 * 1024 ** 2, mbps: 8e6, gibps: 8 * 1024 ** 3, gbps: 8e9, tibps: 8 * 1024 ** 4, tbps: 8e12,
};

const SIZE_SUFFIXES: Readonly<Record<string, number>> = {
  '': 1, b: 1, k: 1024, kb: 1024, m: 1024 ** 2, mb: 1024 ** 2, g: 1024 ** 3, gb: 1024 ** 3,
  kbit: 1024 / 8, mbit: (1024 * 1024) / 8, gbit: (1024 * 1024 * 1024) / 8,
};

function split(text: string): { value: number; suffix: string } | undefined {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text);
  if (!match) return undefined;
  return { value: Number(match[1]), suffix: (match[2] ?? '').toLowerCase() };
}

/** A tc rate to bytes per second (truncated like tc); undefined when it is not a rate. */
export function parseTcRate(input: string | number): number | undefined {
  const parts = typeof input === 'number' ? { value: input, suffix: '' } : split(input);
  if (!parts) return undefined;
  const scale = parts.suffix === '' ? 1 : RATE_SUFFIXES[parts.suffix];
  if (scale === undefined) return undefined;
  return Math.floor((parts.value * scale) / 8);
}

/** A tc size to bytes (truncated like tc); undefined when it is not a size. */
export function parseTcSize(input: string | number): number | undefined {
  const parts = typeof input === 'number' ? { value: input, suffix: '' } : split(input);
  if (!parts) return undefined;
  const scale = SIZE_SUFFIXES[parts.suffix];
  if (scale === undefined) return undefined;
  return Math.floor(parts.value * scale);
}

/** Bytes per second as a human rate (`1.00 Mbit/s`). */
export function formatRate(bytesPerSec: number): string {
  const bits = bytesPerSec * 8;
  if (bits >= 1e9) return `${(bits / 1e9).toFixed(2)} Gbit/s`;
  if (bits >= 1e6) return `${(bits / 1e6).toFixed(2)} Mbit/s`;
  if (bits >= 1e3) return `${(bits / 1e3).toFixed(2)} kbit/s`;
  return `${bits} bit/s`;
}
