// SPDX-License-Identifier: Apache-2.0
/** Small statistics helpers for the benchmark. */

export function mean(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0) / Math.max(1, values.length);
}

/** Sample standard deviation. */
export function sd(values: readonly number[]): number {
  if (values.length < 2) return 0;
  const m = mean(values);
  return Math.sqrt(values.reduce((a, v) => a + (v - m) ** 2, 0) / (values.length - 1));
}

/** Nearest-rank percentile (`q` in 0–1) of unsorted values; NaN for none. */
export function percentile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? Number.NaN;
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

/** Groups consecutive values in chunks of `size` and averages each complete chunk. */
export function chunkMeans(values: readonly number[], size: number): number[] {
  const out: number[] = [];
  for (let i = 0; i + size <= values.length; i += size) out.push(mean(values.slice(i, i + size)));
  return out;
}
