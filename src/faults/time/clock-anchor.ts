// SPDX-License-Identifier: Apache-2.0
/**
 * The arithmetic of linux-time-chaos, apart from the kernel: an anchor (CLOCK_REALTIME read
 * with CLOCK_MONOTONIC and CLOCK_BOOTTIME) taken before the step, and what CLOCK_REALTIME
 * should read later had nobody stepped it: anchor realtime + elapsed CLOCK_BOOTTIME.
 * BOOTTIME is CLOCK_MONOTONIC plus time suspended (equal on a host that never suspends), so a
 * suspend during the fault does not count as skew. Both are slewed with CLOCK_REALTIME by NTP
 * and neither is stepped, so the difference stays exact over the fault.
 */
import { z } from 'zod';

import type { ClockReading } from '../../native/addon.js';

/** A nanosecond count as the ledger keeps it: a decimal string (it exceeds 2^53). */
export const NsText = z.string().regex(/^-?\d+$/, { error: 'must be a whole number of nanoseconds' });

export const AnchorRecord = z.object({ realtimeNs: NsText, monotonicNs: NsText, boottimeNs: NsText, bracketNs: z.number().nonnegative() });
export type AnchorRecord = z.infer<typeof AnchorRecord>;

/** The clock calls linux-time-chaos makes (the addon's, or a fake in tests). */
export interface SystemClock {
  clockRead(): ClockReading;
  clockStep(offsetNs: bigint): void;
}

export const NS_PER_MS = 1_000_000n;

export function anchorOf(r: ClockReading): AnchorRecord {
  return { realtimeNs: String(r.realtimeNs), monotonicNs: String(r.monotonicNs), boottimeNs: String(r.boottimeNs), bracketNs: r.bracketNs };
}

/** CLOCK_REALTIME as it should read at `now` had it not been stepped since `anchor`. */
export function expectedRealtimeNs(anchor: AnchorRecord, now: ClockReading): bigint {
  return BigInt(anchor.realtimeNs) + (now.boottimeNs - BigInt(anchor.boottimeNs));
}

/** How far CLOCK_REALTIME is from that expectation at `now` (positive: ahead). */
export function clockErrorNs(anchor: AnchorRecord, now: ClockReading): bigint {
  return now.realtimeNs - expectedRealtimeNs(anchor, now);
}

export const absNs = (ns: bigint): bigint => (ns < 0n ? -ns : ns);

/** `1.234 ms` / `-0.012 ms` (µs precision). */
export function formatNs(ns: bigint): string {
  return `${(Number(ns / 1000n) / 1000).toFixed(3)} ms`;
}

export interface Restore {
  /** Clock error before the restore (the skew still in place). */
  readonly errorBeforeNs: bigint;
  /** The step made (0 when the clock was already within the tolerance). */
  readonly stepNs: bigint;
  /** Clock error after it: what the restore left. */
  readonly residualNs: bigint;
}

/**
 * Puts CLOCK_REALTIME back to anchor + elapsed BOOTTIME with one relative step of minus the
 * error now (the step is atomic and the error stays constant between the read and the step, so
 * the residual is the read's own pairing error, well under a microsecond). Idempotent: within
 * `toleranceNs` of the expectation nothing is stepped.
 */
export function restoreFromAnchor(anchor: AnchorRecord, clock: SystemClock, toleranceNs: bigint): Restore {
  const errorBeforeNs = clockErrorNs(anchor, clock.clockRead());
  if (absNs(errorBeforeNs) <= toleranceNs) return { errorBeforeNs, stepNs: 0n, residualNs: errorBeforeNs };
  clock.clockStep(-errorBeforeNs);
  return { errorBeforeNs, stepNs: -errorBeforeNs, residualNs: clockErrorNs(anchor, clock.clockRead()) };
}

/**
 * Whether the kernel that took `anchor` still runs, although the boot id changed (a container's
 * boot id changes at each of its boots; the kernel, and its clocks, go on): CLOCK_BOOTTIME has
 * gone on from the anchor, and CLOCK_REALTIME reads anchor + elapsed, or that plus the step,
 * within `toleranceNs`. After a real reboot BOOTTIME started again near 0 and the clock came
 * from the RTC, NTP or the platform, which would have to match the old timeline to the
 * millisecond to pass.
 */
export function sameKernelTimeline(anchor: AnchorRecord, offsetNs: bigint, now: ClockReading, toleranceNs: bigint): boolean {
  if (now.boottimeNs < BigInt(anchor.boottimeNs)) return false;
  const error = clockErrorNs(anchor, now);
  return absNs(error - offsetNs) <= toleranceNs || absNs(error) <= toleranceNs;
}
