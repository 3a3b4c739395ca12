// SPDX-License-Identifier: Apache-2.0
/**
 * The `offset` of linux-time-chaos in Harness's notation, `(+/-)[hours]h[minutes]m[seconds]s`
 * (`+24h`, `-13h12m`, `-3h12m16s`), bounded: at least 1 s and at most 7 days either way. A week
 * covers what skews test (token and certificate windows of hours to days, day and week
 * rollovers) while keeping a mistyped offset from moving a host's clock by years.
 */
import { z } from 'zod';

import type { Param } from '../params.js';

export const MIN_OFFSET_MS = 1000;
export const MAX_OFFSET_MS = 7 * 24 * 3_600_000;

const OFFSET = /^([+-])?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/;
const RANGE = '1s–168h (7 days) either way';
const FORMAT = 'a signed offset like "+24h", "-1h30m" or "-3h12m16s"';

/** Milliseconds of `+1h30m` (negative for `-…`), or undefined when it is not in the notation. */
export function parseOffsetMs(text: string): number | undefined {
  const match = OFFSET.exec(text.trim());
  if (!match || (match[2] === undefined && match[3] === undefined && match[4] === undefined)) return undefined;
  const ms = Number(match[2] ?? 0) * 3_600_000 + Number(match[3] ?? 0) * 60_000 + Number(match[4] ?? 0) * 1000;
  return Number.isSafeInteger(ms) ? (match[1] === '-' ? -ms : ms) : undefined;
}

/** `+1h30m`, `-10m`, `+1d…` never: hours stay hours, as Harness writes them. */
export function formatOffsetMs(ms: number): string {
  const abs = Math.abs(ms);
  const h = Math.floor(abs / 3_600_000);
  const m = Math.floor((abs % 3_600_000) / 60_000);
  const s = (abs % 60_000) / 1000;
  const body = `${h ? `${h}h` : ''}${m ? `${m}m` : ''}${s || (!h && !m) ? `${Number(s.toFixed(3))}s` : ''}`;
  return `${ms < 0 ? '-' : '+'}${body}`;
}

/** The required `offset` param (Harness's docs give no default, so faultd asks for one). */
export function offsetParam(): Param<number> {
  const schema = z
    .union([z.string(), z.undefined()], { error: `must be ${FORMAT}, in ${RANGE}` })
    .transform((value, ctx) => {
      if (value === undefined) {
        ctx.addIssue({ code: 'custom', message: `is required: ${FORMAT}, in ${RANGE}` });
        return z.NEVER;
      }
      const ms = parseOffsetMs(value);
      if (ms === undefined) {
        ctx.addIssue({ code: 'custom', input: value, message: `must be ${FORMAT}, in ${RANGE}` });
        return z.NEVER;
      }
      if (Math.abs(ms) < MIN_OFFSET_MS || Math.abs(ms) > MAX_OFFSET_MS) {
        ctx.addIssue({ code: 'custom', input: value, message: `must be in ${RANGE}` });
        return z.NEVER;
      }
      return ms;
    });
  return {
    schema,
    doc: { name: 'offset', type: 'offset', default: '(required)', bounds: RANGE, description: 'how far to move the system clock: (+/-)[hours]h[minutes]m[seconds]s, e.g. +24h, -13h12m' },
  };
}
