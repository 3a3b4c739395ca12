// SPDX-License-Identifier: Apache-2.0
/**
 * linux-time-chaos next to `date -s`, same run, same offsets. Each trial anchors the clock
 * (CLOCK_REALTIME with CLOCK_BOOTTIME, read by Python in another process: test/helpers/clock.ts)
 * and measures, against anchor + elapsed CLOCK_BOOTTIME:
 * - the offset in place against the one asked, after faultd's apply and after the peer's
 *   `date -s "@<anchor + elapsed + offset>"`;
 * - the restore error after faultd's revert and after the peer's `date -s "@<anchor + elapsed>"`,
 *   the expected time computed just before forking date, as a script would.
 * The clock is put back from the trial's own anchor at the end of every trial, whatever happened.
 */
import { spawnSync } from 'node:child_process';

import { linuxTimeChaos } from '../src/faults/linux-time-chaos.js';
import type { FaultContext } from '../src/faults/types.js';
import { clockOffsetNs, readClocks, stepClockNs, type ClockPair } from '../test/helpers/clock.js';
import type { StartFault } from './process.js';
import { median, percentile } from './stats.js';

const TRIALS = Number(process.env['BENCH_TIME_TRIALS'] ?? 20);
const OFFSETS: readonly [string, bigint][] = [['-1h30m', -5_400_000_000_000n], ['+10m', 600_000_000_000n]];
const HOLD_MS = 200;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const absUs = (ns: bigint): number => Math.abs(Number(ns)) / 1e3;
/** Below this a difference is within the resolution of a paired read in another process. */
const READ_FLOOR_US = 0.1;

/** `date -s "@<seconds>.<nanoseconds>"` for CLOCK_REALTIME = anchor + elapsed boottime + `plusNs`, computed now. */
function dateSet(ctx: FaultContext, anchor: ClockPair, plusNs: bigint): void {
  const target = anchor.realtimeNs + (ctx.native.clockRead().boottimeNs - anchor.boottimeNs) + plusNs;
  const text = `@${target / 1_000_000_000n}.${String(target % 1_000_000_000n).padStart(9, '0')}`;
  const done = spawnSync('date', ['-u', '-s', text], { stdio: 'ignore' });
  if (done.status !== 0) throw new Error(`date -s ${text} failed`);
}

/** Puts the clock back to `anchor` + elapsed when it is more than 100 µs off. */
function putBack(anchor: ClockPair): void {
  const off = clockOffsetNs(anchor);
  if (off > 100_000n || off < -100_000n) stepClockNs(-off);
}

function row(label: string, ours: number[], theirs: number[]): string {
  const stats = (v: number[]) => `${median(v).toFixed(3)} / ${percentile(v, 0.99).toFixed(3)} / ${Math.max(...v).toFixed(3)}`;
  // faultd's error is at the read's resolution: the ratio is given against that floor.
  const ratio = median(ours) < READ_FLOOR_US ? `> ${Math.floor(median(theirs) / READ_FLOOR_US)}` : (median(theirs) / median(ours)).toFixed(0);
  return `| ${label} | ${stats(ours)} | ${stats(theirs)} | ${ratio} |`;
}

export async function timeChaos(ctx: FaultContext, startFault: StartFault): Promise<string[]> {
  // The addon's clockRead and Python's CLOCK_BOOTTIME are one clock: the anchor's boottime half is comparable.
  const applied = { faultd: [] as number[], date: [] as number[] };
  const restored = { faultd: [] as number[], date: [] as number[] };
  for (let i = 0; i < TRIALS; i++) {
    const [offset, offsetNs] = OFFSETS[i % OFFSETS.length] ?? OFFSETS[0] ?? ['+10m', 600_000_000_000n];
    let anchor = readClocks();
    try {
      const fault = await startFault(linuxTimeChaos, { offset, disableNTP: false }, ctx);
      applied.faultd.push(absUs(clockOffsetNs(anchor) - offsetNs));
      await sleep(HOLD_MS);
      await fault.stop();
      restored.faultd.push(absUs(clockOffsetNs(anchor)));
    } finally {
      putBack(anchor);
    }
    anchor = readClocks();
    try {
      dateSet(ctx, anchor, offsetNs);
      applied.date.push(absUs(clockOffsetNs(anchor) - offsetNs));
      await sleep(HOLD_MS);
      dateSet(ctx, anchor, 0n);
      restored.date.push(absUs(clockOffsetNs(anchor)));
    } finally {
      putBack(anchor);
    }
  }
  console.log(`time: ${JSON.stringify({ applied, restored })}`);
  return [
    `${TRIALS} trials (offsets ${OFFSETS.map(([o]) => o).join(' and ')} in turn, held ${HOLD_MS} ms), |error| in µs against anchor + elapsed CLOCK_BOOTTIME, read by another process:`,
    '',
    '| µs: median / p99 / max | faultd | date -s (peer) | date / faultd (median) |',
    '|---|---|---|---|',
    row('offset in place − offset asked', applied.faultd, applied.date),
    row('restore error (target ≤ 1000 µs)', restored.faultd, restored.date),
    '',
    "faultd steps with clock_adjtime(ADJ_SETOFFSET), relative and atomic, from its own paired read; `date -s` sets an absolute time computed before its fork and exec, so the time those take is its error. faultd's figures are at the resolution of the measuring read (Python's paired clock_gettime, ~0.1 µs), so its ratio is a lower bound. The peer's figures are what a careful script gets (expected time computed just before forking date).",
  ];
}
