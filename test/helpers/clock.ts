// SPDX-License-Identifier: Apache-2.0
/**
 * The system clock for tests that change it, independent of faultd's code: Python's
 * clock_gettime_ns reads CLOCK_REALTIME paired with CLOCK_MONOTONIC (of 21 reads, the one
 * with the smallest monotonic bracket), and ctypes clock_adjtime(ADJ_SETOFFSET) steps it.
 * Time namespaces do not virtualise CLOCK_REALTIME, so a test that moves the real clock takes
 * `guardClock(t)` first: at teardown the clock goes back to the guard's anchor + elapsed
 * CLOCK_MONOTONIC, and a residual over 1 ms fails the test.
 */
import { execFileSync } from 'node:child_process';

const PYTHON = 'python3';

const READ = `
import time
best = None
for _ in range(21):
    a = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
    r = time.clock_gettime_ns(time.CLOCK_REALTIME)
    b = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
    if best is None or b - a < best[2]:
        best = (r, (a + b) // 2, b - a)
print(best[0], best[1])
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
  readonly monotonicNs: bigint;
}

/** CLOCK_REALTIME and CLOCK_MONOTONIC read together by another process. */
export function readClocks(): ClockPair {
  const [real, mono] = execFileSync(PYTHON, ['-c', READ], { encoding: 'utf8' }).trim().split(' ');
  return { realtimeNs: BigInt(real ?? '0'), monotonicNs: BigInt(mono ?? '0') };
}

/** How far CLOCK_REALTIME is now from `anchor` realtime + elapsed CLOCK_MONOTONIC (positive: ahead). */
export function clockOffsetNs(anchor: ClockPair, now: ClockPair = readClocks()): bigint {
  return now.realtimeNs - (anchor.realtimeNs + (now.monotonicNs - anchor.monotonicNs));
}

export function stepClockNs(offsetNs: bigint): void {
  execFileSync(PYTHON, ['-c', STEP, String(offsetNs)]);
}

const abs = (n: bigint): bigint => (n < 0n ? -n : n);

/**
 * Anchors the clock now; at teardown steps it back to anchor + elapsed when it is more than
 * 100 µs off, and throws when more than 1 ms is left. Returns the anchor.
 */
export function guardClock(t: { teardown(fn: () => void): void }): ClockPair {
  const anchor = readClocks();
  t.teardown(() => {
    const off = clockOffsetNs(anchor);
    if (abs(off) > 100_000n) stepClockNs(-off);
    const left = clockOffsetNs(anchor);
    if (abs(left) > 1_000_000n) throw new Error(`the clock guard left CLOCK_REALTIME ${left} ns from its anchor + elapsed time`);
  });
  return anchor;
}

/** Milliseconds, with µs: `-5400000.012`. */
export const nsToMs = (ns: bigint): number => Number(ns / 1000n) / 1000;
