// SPDX-License-Identifier: Apache-2.0
/**
 * The system clock for tests that change it, independent of faultd's code: Python's
 * clock_gettime_ns reads CLOCK_REALTIME bracketed by CLOCK_BOOTTIME (of 21 reads, the one
 * with the smallest bracket), and ctypes clock_adjtime(ADJ_SETOFFSET) steps it.
 *
 * The reference is anchor + elapsed CLOCK_BOOTTIME, as faultd's own revert (src/faults/time):
 * time a VM spends paused or suspended moves REALTIME and BOOTTIME together but not MONOTONIC,
 * so a MONOTONIC reference would take such a pause for a residual of faultd's (seen in CI: a
 * revert 5 ms "off", a guard 4.4 s "off"). The difference BOOTTIME − MONOTONIC is kept with each
 * reading so that tests can log how much of that happened while they ran.
 *
 * Time namespaces do not virtualise CLOCK_REALTIME, so a test that moves the real clock takes
 * `guardClock(t)` first: at teardown the clock goes back to the guard's anchor + elapsed time.
 */
import { execFileSync } from 'node:child_process';

const PYTHON = 'python3';

const READ = `
import time
best = None
for _ in range(21):
    a = time.clock_gettime_ns(time.CLOCK_BOOTTIME)
    r = time.clock_gettime_ns(time.CLOCK_REALTIME)
    b = time.clock_gettime_ns(time.CLOCK_BOOTTIME)
    m = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
    if best is None or b - a < best[2]:
        best = (r, (a + b) // 2, b - a, b - m)
print(best[0], best[1], best[3])
`;

/** Steps CLOCK_REALTIME by argv[1] ns (microsecond resolution, no ADJ_NANO: STA_NANO is left alone). */
const STEP = `
import ctypes, sys
ns = int(sys.argv[1])
buf = ctypes.create_string_buffer(208)
ctypes.c_int.from_buffer(buf, 0).value = 0x0100  # ADJ_SETOFFSET
us = ns // 1000
sec, usec = divmod(us, 1000000)
ctypes.c_long.from_buffer(buf, 72).value = sec
ctypes.c_long.from_buffer(buf, 80).value = usec
libc = ctypes.CDLL(None, use_errno=True)
if libc.clock_adjtime(0, buf) < 0:
    raise OSError(ctypes.get_errno(), 'clock_adjtime')
`;

export interface ClockPair {
  readonly realtimeNs: bigint;
  readonly boottimeNs: bigint;
  /** CLOCK_BOOTTIME − CLOCK_MONOTONIC: time spent suspended or paused since boot. */
  readonly suspendedNs: bigint;
}

/** CLOCK_REALTIME and CLOCK_BOOTTIME read together by another process. */
export function readClocks(): ClockPair {
  const [real, boot, suspended] = execFileSync(PYTHON, ['-c', READ], { encoding: 'utf8' }).trim().split(' ');
  return { realtimeNs: BigInt(real ?? '0'), boottimeNs: BigInt(boot ?? '0'), suspendedNs: BigInt(suspended ?? '0') };
}

/** How far CLOCK_REALTIME is now from `anchor` realtime + elapsed CLOCK_BOOTTIME (positive: ahead). */
export function clockOffsetNs(anchor: ClockPair, now: ClockPair = readClocks()): bigint {
  return now.realtimeNs - (anchor.realtimeNs + (now.boottimeNs - anchor.boottimeNs));
}

/** How long the machine was suspended or paused since `anchor` (BOOTTIME ran on, MONOTONIC did not). */
export function suspendedSinceNs(anchor: ClockPair, now: ClockPair = readClocks()): bigint {
  return now.suspendedNs - anchor.suspendedNs;
}

export function stepClockNs(offsetNs: bigint): void {
  execFileSync(PYTHON, ['-c', STEP, String(offsetNs)]);
}

const abs = (n: bigint): bigint => (n < 0n ? -n : n);

/** Steps are not retried more often than this: a clock that keeps moving has another owner. */
const GUARD_ATTEMPTS = 3;

/**
 * Anchors the clock now; at teardown steps it back to anchor + elapsed when it is more than
 * 100 µs off, and throws when more than 1 ms is left. A step undone at once by someone else (a
 * platform agent setting the clock) is tried again, twice; the error then lists every reading.
 * Returns the anchor.
 */
export function guardClock(t: { teardown(fn: () => void): void }): ClockPair {
  const anchor = readClocks();
  t.teardown(() => {
    const seen: string[] = [];
    for (let attempt = 1; attempt <= GUARD_ATTEMPTS; attempt += 1) {
      const now = readClocks();
      const off = clockOffsetNs(anchor, now);
      seen.push(`${off} ns off (suspended ${suspendedSinceNs(anchor, now)} ns since the anchor)`);
      if (abs(off) <= 1_000_000n) {
        if (abs(off) > 100_000n) stepClockNs(-off);
        return;
      }
      stepClockNs(-off);
    }
    const left = clockOffsetNs(anchor);
    if (abs(left) > 1_000_000n) {
      throw new Error(`the clock guard left CLOCK_REALTIME ${left} ns from its anchor + elapsed BOOTTIME; before each step: ${seen.join('; ')}`);
    }
  });
  return anchor;
}

/** Milliseconds, with µs: `-5400000.012`. */
export const nsToMs = (ns: bigint): number => Number(ns / 1000n) / 1000;
