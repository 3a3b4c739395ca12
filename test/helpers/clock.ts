// SPDX-License-Identifier: Apache-2.0
/**
 * The system clock for tests that change it, independent of faultd's code: Python's
 * clock_gettime_ns reads CLOCK_REALTIME bracketed by CLOCK_BOOTTIME (of 21 reads, the one
 * with the smallest bracket), and ctypes clock_adjtime(ADJ_SETOFFSET) steps it.
 *
 * The reference is anchor + elapsed CLOCK_BOOTTIME, what faultd's revert promises (time the
 * machine spends suspended counts as elapsed). BOOTTIME − MONOTONIC is kept with each reading
 * so that a failure says whether the machine suspended meanwhile.
 *
 * Someone else may set the clock while a test runs: a platform agent after the host paused the
 * VM, chrony with a hardware reference, an operator. CI once saw it (the guard's own step undone
 * at once, a revert "5 ms off"). `guardClock` therefore also watches every clock set (a timerfd
 * with TFD_TIMER_CANCEL_ON_SET, in a Python child): `foreignSteps(...)` lists the sets whose size
 * matches none the test and faultd make, and a residual is only asserted when there are none.
 *
 * Time namespaces do not virtualise CLOCK_REALTIME, so a test that moves the real clock takes
 * `guardClock(t)` first: at teardown the clock goes back to the guard's anchor + elapsed time.
 */
import { execFileSync, spawn } from 'node:child_process';

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

/** Prints `<boottime ns> <change of REALTIME − BOOTTIME in ns>` for every clock set, from the moment it prints `ready`. */
const WATCH = `
import ctypes, errno, os, sys, time
libc = ctypes.CDLL(None, use_errno=True)
class timespec(ctypes.Structure):
    _fields_ = [('tv_sec', ctypes.c_long), ('tv_nsec', ctypes.c_long)]
class itimerspec(ctypes.Structure):
    _fields_ = [('it_interval', timespec), ('it_value', timespec)]
fd = libc.timerfd_create(0, 0)  # CLOCK_REALTIME
if fd < 0:
    raise OSError(ctypes.get_errno(), 'timerfd_create')
gap = lambda: time.clock_gettime_ns(time.CLOCK_REALTIME) - time.clock_gettime_ns(time.CLOCK_BOOTTIME)
last = gap()
print('ready', flush=True)
while True:
    spec = itimerspec()
    spec.it_value.tv_sec = 2 ** 33  # far away: only a clock set ends the read
    if libc.timerfd_settime(fd, 3, ctypes.byref(spec), None) < 0:  # TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET
        raise OSError(ctypes.get_errno(), 'timerfd_settime')
    for attempt in (0, 1):
        now = gap()
        if abs(now - last) > 50000:
            print(time.clock_gettime_ns(time.CLOCK_BOOTTIME), now - last, flush=True)
            last = now
        if attempt == 0:
            try:
                os.read(fd, 8)
            except OSError as e:
                if e.errno != errno.ECANCELED:
                    raise
`;

export interface ClockStep {
  /** CLOCK_BOOTTIME when it was seen. */
  readonly atNs: bigint;
  /** How far the set moved CLOCK_REALTIME (positive: forward). */
  readonly byNs: bigint;
}

/** How close a set must be to an expected size to count as the test's or faultd's. */
const STEP_MATCH_NS = 50_000_000n;

/** The anchor of a guarded test, with the clock sets seen since. */
export interface GuardedClock extends ClockPair {
  /** Every clock set seen since the anchor (a few ms late at most). */
  readonly steps: () => readonly ClockStep[];
  /**
   * The sets whose size matches none of `expectedNs` (± 50 ms, either sign): the test's own steps
   * and faultd's (its offsets, and the restores back from them). Foreign: someone else set the clock.
   */
  readonly foreignSteps: (...expectedNs: bigint[]) => ClockStep[];
}

/** Starts the watch of clock sets; resolves once it is armed. */
async function watchClockSets(t: { teardown(fn: () => void): void }): Promise<{ steps: ClockStep[]; stop: () => void }> {
  const child = spawn(PYTHON, ['-c', WATCH], { stdio: ['ignore', 'pipe', 'inherit'] });
  const steps: ClockStep[] = [];
  const stop = (): void => {
    if (child.exitCode === null) child.kill('SIGKILL');
  };
  t.teardown(stop);
  await new Promise<void>((resolve, reject) => {
    let buffered = '';
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`the clock-set watch exited (${code}) before it was armed`)));
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      buffered += chunk;
      for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
        const line = buffered.slice(0, nl).trim();
        buffered = buffered.slice(nl + 1);
        if (line === 'ready') resolve();
        const [at, by] = line.split(' ');
        if (at && by) steps.push({ atNs: BigInt(at), byNs: BigInt(by) });
      }
    });
  });
  return { steps, stop };
}

const describeSteps = (steps: readonly ClockStep[]): string => steps.map((s) => `${nsToMs(s.byNs)} ms`).join(', ');

/**
 * Anchors the clock now and watches every clock set; at teardown steps the clock back to anchor +
 * elapsed when it is more than 100 µs off, and throws when more than 1 ms is left, unless someone
 * else set the clock after that step (then it says so and leaves the clock to them).
 */
export async function guardClock(t: { teardown(fn: () => void | Promise<void>): void; log(...values: unknown[]): void }): Promise<GuardedClock> {
  const watch = await watchClockSets(t);
  const anchor = readClocks();
  t.teardown(async () => {
    const off = clockOffsetNs(anchor);
    const before = watch.steps.length;
    if (abs(off) > 100_000n) stepClockNs(-off);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const left = clockOffsetNs(anchor);
    const after = watch.steps.slice(before).filter((s) => abs(s.byNs + off) > STEP_MATCH_NS);
    watch.stop();
    if (abs(left) <= 1_000_000n) return;
    if (after.length) {
      t.log(`the clock guard stepped CLOCK_REALTIME by ${nsToMs(-off)} ms, then someone else set it by ${describeSteps(after)}: left to them (${nsToMs(left)} ms from the anchor's time line)`);
      return;
    }
    throw new Error(`the clock guard left CLOCK_REALTIME ${left} ns from its anchor + elapsed BOOTTIME (${off} ns before its step; suspended ${suspendedSinceNs(anchor)} ns since the anchor)`);
  });
  const foreignSteps = (...expectedNs: bigint[]): ClockStep[] =>
    watch.steps.filter((s) => !expectedNs.some((e) => abs(abs(s.byNs) - abs(e)) <= STEP_MATCH_NS));
  return { ...anchor, steps: () => [...watch.steps], foreignSteps };
}

/**
 * Asserts CLOCK_REALTIME within 1 ms of anchor + elapsed time, unless someone else set the clock
 * since the anchor (a set of none of the sizes `expectedNs`): then the residual is not faultd's to
 * answer for, and the test logs it instead. Returns the residual (ms).
 */
export function assertBackOnTimeline(
  t: { true(value: boolean, message?: string): void; log(...values: unknown[]): void },
  anchor: GuardedClock,
  what: string,
  ...expectedNs: bigint[]
): number {
  const now = readClocks();
  const residual = nsToMs(clockOffsetNs(anchor, now));
  const foreign = anchor.foreignSteps(...expectedNs);
  if (foreign.length) {
    t.log(`${what}: CLOCK_REALTIME ${residual} ms from anchor + elapsed time, not asserted: someone else set the clock meanwhile (by ${describeSteps(foreign)})`);
    return residual;
  }
  t.true(Math.abs(residual) <= 1, `${what}: CLOCK_REALTIME ${residual} ms from anchor + elapsed CLOCK_BOOTTIME (target ≤ 1 ms; suspended ${nsToMs(suspendedSinceNs(anchor, now))} ms since the anchor)`);
  return residual;
}

/** Milliseconds, with µs: `-5400000.012`. */
export const nsToMs = (ns: bigint): number => Number(ns / 1000n) / 1000;
