// SPDX-License-Identifier: Apache-2.0
/** Tunables of the netem faults, in Harness's names and units (ms numbers, percentages). */
import { z } from 'zod';

import { parseDurationMs } from '../../units.js';
import { numberParam, optionalParsedParam, type Param } from '../params.js';

/** ARCHITECTURE.md §4: latency ≤ 10 min. */
export const MAX_LATENCY_MS = 600_000;

export function percentParam(name: string, fallback: number, description: string): Param<number> {
  return numberParam({ name, min: 0, max: 100, default: fallback, unit: '%', description });
}

export function correlationParam(): Param<number> {
  return percentParam('correlation', 0, 'how much each random decision depends on the previous one (netem correlation)');
}

/** Milliseconds as a number (Harness) or a duration string ("200ms", "1.5s"). */
export function millisParam(name: string, fallback: number, description: string, min = 0): Param<number> {
  const parsed = optionalParsedParam(
    {
      name,
      type: 'ms',
      default: `${fallback}`,
      min,
      max: MAX_LATENCY_MS,
      bounds: `${min}–${MAX_LATENCY_MS} ms`,
      parse: (v) => (typeof v === 'number' ? v : /^\s*\d+(\.\d+)?\s*$/.test(v) ? Number(v) : parseDurationMs(v)),
      formatHint: 'milliseconds, as a number or like "200ms"',
      description,
    },
    String(fallback),
  );
  return parsed as Param<number>;
}

export const DISTRIBUTIONS = ['uniform', 'normal', 'pareto', 'paretonormal'] as const;

export function distributionParam(): Param<(typeof DISTRIBUTIONS)[number]> {
  return {
    schema: z.enum(DISTRIBUTIONS, { error: `must be one of ${DISTRIBUTIONS.join(', ')}` }).optional().transform((v) => v ?? 'uniform'),
    doc: { name: 'distribution', type: 'enum', default: 'uniform', bounds: DISTRIBUTIONS.join(' | '), description: 'shape of the jitter (normal, pareto, paretonormal need jitter > 0)' },
  };
}
