// SPDX-License-Identifier: Apache-2.0
/**
 * linux-time-chaos (Harness name and tunables): moves CLOCK_REALTIME by `offset` for the
 * duration, with `disableNTP` (default true) stopping the NTP daemons (SIGSTOP) so none steps
 * it back. Before anything changes, the ledger holds the boot id, an anchor (CLOCK_REALTIME read
 * with CLOCK_MONOTONIC and CLOCK_BOOTTIME), the kernel's NTP state, the RTC's distance from the
 * clock and (before the first SIGSTOP) the daemons stopped; the anchor is taken again once they
 * are stopped and recorded before the step. The step is one atomic
 * clock_adjtime(ADJ_SETOFFSET). The revert puts the clock at anchor + elapsed time with a
 * second atomic step, verifies it within 1 ms, continues the daemons; a second revert finds the
 * clock where it belongs and steps nothing. After a reboot, see time/other-boot.ts.
 */
import { z } from 'zod';

import { FaultdError } from '../errors.js';
import { CAP, hasCapability } from '../host/facts.js';
import { booleanParam, paramsObject } from './params.js';
import { ProcessRecord, recordOf } from './process/record.js';
import { signalNumber } from './process/selector-params.js';
import { isStopped, STATE_WAIT_MS, stateOf, waitForState } from './process/process-state.js';
import { describeProcess, type ProcessInfo } from './process/targets.js';
import { absNs, AnchorRecord, anchorOf, clockErrorNs, formatNs, NS_PER_MS, NsText, restoreFromAnchor, sameKernelTimeline } from './time/clock-anchor.js';
import { NTP_DAEMON_NAMES, runningNtpDaemons, serviceOfProcess } from './time/ntp-daemons.js';
import { formatOffsetMs, offsetParam } from './time/offset.js';
import { formatDurationMs } from '../units.js';
import { revertAcrossBoot } from './time/other-boot.js';
import { readRtcSeconds } from './time/rtc.js';
import { defineInjector, RevertError, type ActiveFault, type FaultContext } from './types.js';

/** The restore's target: CLOCK_REALTIME within 1 ms of anchor + elapsed time. */
export const RESTORE_TOLERANCE_NS = 1_000_000n;
const SYS_ROOT = '/sys';
const STA_UNSYNC = 0x40;

function params() {
  return {
    offset: offsetParam(),
    disableNTP: booleanParam({ name: 'disableNTP', default: true, description: `stop the NTP daemons (${NTP_DAEMON_NAMES.join(', ')}) with SIGSTOP for the duration; SIGCONT at revert` }),
  };
}

export const TimeChaosRevertSchema = z.object({
  /** The fault's ledger id: the revert stops its running check (absent in records before 2026-12-06). */
  faultId: z.string().optional(),
  bootId: z.string().min(1),
  offsetNs: NsText,
  /** Taken before the step; apply records a fresh one just before it. */
  anchor: AnchorRecord,
  /** The kernel's NTP state before the fault (adjtimex): informational. */
  kernelNtp: z.object({ status: z.number().int(), clockState: z.number().int() }),
  /** RTC minus CLOCK_REALTIME before the fault (ms); absent without an RTC. */
  rtcMinusRealtimeMs: z.number().optional(),
  disableNTP: z.boolean(),
  /** The NTP daemons stopped, recorded before the first SIGSTOP. */
  stoppedDaemons: z.array(ProcessRecord).optional(),
});
export type TimeChaosRevert = z.infer<typeof TimeChaosRevertSchema>;

/** RTC minus CLOCK_REALTIME in ms, or undefined without an RTC. */
function rtcMinusRealtimeMs(sysRoot: string, realtimeNs: bigint): number | undefined {
  const rtc = readRtcSeconds(sysRoot);
  return rtc === undefined ? undefined : rtc * 1000 - Number(realtimeNs / NS_PER_MS);
}

/** Continues the daemons the fault stopped that are still stopped (this boot only); the ones continued, and those gone. */
async function continueDaemons(daemons: readonly ProcessRecord[], ctx: FaultContext): Promise<{ continued: ProcessRecord[]; gone: ProcessRecord[] }> {
  // Only the ones still stopped: a second revert signals nothing.
  const stopped = daemons.filter((t) => isStopped(stateOf(t, ctx.procRoot)));
  const outcomes = stopped.map((t) => ({ t, outcome: ctx.native.killProcess(t.pid, t.startTime, signalNumber('SIGCONT')) }));
  const still = await waitForState(stopped, (state) => !isStopped(state), ctx.procRoot);
  if (still.length) {
    const pids = still.map((t) => t.pid).join(' ');
    throw new RevertError(`NTP daemon ${still.map(describeProcess).join(', ')} still stopped after SIGCONT`, `NTP daemon(s) ${pids} stopped (state T)`, `kill -CONT ${pids}`);
  }
  const gone = daemons.filter((t) => stateOf(t, ctx.procRoot) === undefined && !stopped.includes(t));
  return { continued: outcomes.filter((o) => o.outcome === 'signalled').map((o) => o.t), gone: [...gone, ...outcomes.filter((o) => o.outcome !== 'signalled').map((o) => o.t)] };
}

/** How far the clock may move from the step before the fault counts as undone by someone else (leap seconds aside, only a step moves it). */
const RESET_TOLERANCE_NS = 100n * NS_PER_MS;

/**
 * The revert in the boot of the fault: clock from the anchor, then the daemons continued. The
 * clock is stepped only while it still carries the fault's step (within RESET_TOLERANCE_NS):
 * one that someone else set meanwhile (an NTP daemon, the platform after a VM pause, an
 * operator) is left as they set it, since their time is likely truer than the anchor's.
 */
async function revertSameBoot(r: TimeChaosRevert, ctx: FaultContext): Promise<{ outcome: 'reverted' | 'already-absent'; detail: string }> {
  const offsetNs = BigInt(r.offsetNs);
  const errorNow = clockErrorNs(r.anchor, ctx.native.clockRead());
  if (absNs(errorNow) > RESTORE_TOLERANCE_NS && absNs(errorNow - offsetNs) > RESET_TOLERANCE_NS) {
    const { continued } = await continueDaemons(r.stoppedDaemons ?? [], ctx);
    const daemonText = continued.length ? `; continued NTP daemon ${continued.map(describeProcess).join(', ')}` : '';
    return {
      outcome: 'reverted',
      detail: `the clock no longer carries the fault's step of ${formatNs(offsetNs)}: it reads ${formatNs(errorNow)} from anchor + elapsed time, so someone else set it during the fault (an NTP daemon, the platform, an operator); left as they set it${daemonText}`,
    };
  }
  let restore;
  try {
    restore = restoreFromAnchor(r.anchor, ctx.native, RESTORE_TOLERANCE_NS);
  } catch (error) {
    // The clock stays wrong, but the NTP daemons that could set it right are not left frozen.
    await continueDaemons(r.stoppedDaemons ?? [], ctx).catch(() => undefined);
    const errorAfter = clockErrorNs(r.anchor, ctx.native.clockRead());
    throw new RevertError(`cannot step the clock back: ${(error as Error).message}`, `CLOCK_REALTIME is ${formatNs(errorAfter)} from anchor + elapsed time`, 'faultd revert --remnants with CAP_SYS_TIME (steps from the recorded anchor), or date -u -s "<the true UTC time>"', { cause: error });
  }
  if (absNs(restore.residualNs) > RESTORE_TOLERANCE_NS) {
    throw new RevertError(`CLOCK_REALTIME is ${formatNs(restore.residualNs)} from anchor + elapsed time after the step back (target ≤ 1 ms)`, `the system clock is ${formatNs(restore.residualNs)} off`, 'faultd revert --remnants (steps again from the recorded anchor)');
  }
  const daemons = r.stoppedDaemons ?? [];
  const { continued, gone } = await continueDaemons(daemons, ctx);
  const clockText = restore.stepNs === 0n
    ? `clock already at anchor + elapsed time (${formatNs(restore.errorBeforeNs)} from it): nothing stepped`
    : `clock stepped by ${formatNs(restore.stepNs)} to anchor + elapsed time, residual ${formatNs(restore.residualNs)}`;
  const daemonText = [continued.length ? `continued NTP daemon ${continued.map(describeProcess).join(', ')}` : '', gone.length ? `already gone: ${gone.map((t) => t.pid).join(', ')}` : ''].filter(Boolean).join('; ');
  const did = restore.stepNs !== 0n || continued.length > 0;
  return { outcome: did ? 'reverted' : 'already-absent', detail: [clockText, daemonText].filter(Boolean).join('; ') };
}

/** How often a running fault checks that its step still holds. */
const RESET_CHECK_MS = 1000;
/** The checks of running faults, by fault id: the revert stops them. */
const resetWatches = new Map<string, NodeJS.Timeout>();

/**
 * Resolves (the fault ended early) once the clock is no longer where the step put it: something
 * stepped it (an NTP daemon that systemd's watchdog restarted, an operator). CLOCK_REALTIME −
 * CLOCK_BOOTTIME moves only with steps: NTP slewing and frequency changes move both alike.
 */
function watchForReset(faultId: string, anchor: AnchorRecord, offsetNs: bigint, ctx: FaultContext): Promise<string> {
  return new Promise<string>((resolve) => {
    const timer = setInterval(() => {
      const moved = clockErrorNs(anchor, ctx.native.clockRead()) - offsetNs;
      if (absNs(moved) <= RESET_TOLERANCE_NS) return;
      clearInterval(timer);
      resetWatches.delete(faultId);
      resolve(`the clock was stepped by ${formatNs(moved)} during the fault (by an NTP daemon started again, or by someone else): the offset no longer holds`);
    }, RESET_CHECK_MS);
    timer.unref();
    resetWatches.set(faultId, timer);
  });
}

/** Time between the start of a fault and the watchdog's deadline that apply and revert may take. */
const WATCHDOG_MARGIN_MS = 5000;

/**
 * Why stopping the NTP daemons for `durationMs` would not hold, if it would not: systemd kills
 * a stopped daemon whose unit has a watchdog once it expires (systemd-timesyncd: WatchdogSec=3min)
 * and Restart= starts it again, free to set the clock back mid-fault. A daemon on sd-event pings
 * at ½ to ¾ of the period after its last ping, so at the SIGSTOP as little as a quarter of the
 * period may be left: that quarter, less a margin, bounds the duration. Read over D-Bus; when
 * systemd cannot be reached there is no watchdog to fear.
 */
async function watchdogProblem(daemons: readonly ProcessInfo[], durationMs: number, ctx: FaultContext): Promise<string | undefined> {
  for (const d of daemons) {
    const unit = serviceOfProcess(ctx.procRoot, d.pid);
    if (!unit) continue;
    let watchdogUs: number | null;
    try {
      watchdogUs = (await ctx.native.systemdUnitPlanFacts(unit)).watchdogUs;
    } catch {
      continue;
    }
    const watchdogMs = watchdogUs === null ? 0 : watchdogUs / 1000;
    const longestMs = watchdogMs / 4 - WATCHDOG_MARGIN_MS;
    if (watchdogMs > 0 && durationMs > longestMs) {
      return `must be at most ${formatDurationMs(Math.max(0, longestMs))} while ${d.comm} (pid ${d.pid}) of ${unit} is stopped (disableNTP): the unit has WatchdogSec=${formatDurationMs(watchdogMs)}, the daemon pings its watchdog at ½–¾ of that, so a quarter of it (less ${formatDurationMs(WATCHDOG_MARGIN_MS)} for apply and revert) may be all that is left when it stops; then systemd kills it and starts it again, free to set the clock back mid-fault (it is ${formatDurationMs(durationMs)}). Shorten the fault, or stop ${unit} yourself and set disableNTP false`;
    }
  }
  return undefined;
}

export const linuxTimeChaos = defineInjector({
  kind: 'linux-time-chaos',
  summary: 'Move the system clock by an offset for the duration (NTP daemons stopped); restored from a monotonic anchor within 1 ms',
  paramAliases: { OFFSET: 'offset', DISABLE_NTP: 'disableNTP' },
  paramsSchema: () => paramsObject(params()),
  paramDocs: () => Object.values(params()).map((p) => p.doc),
  exclusiveTargets: () => ['clock:realtime'],
  revertSchema: TimeChaosRevertSchema,
  async plan(faultId, p, ctx) {
    const daemons = runningNtpDaemons(ctx.procRoot);
    const tooLong = p.disableNTP && ctx.durationMs !== undefined ? await watchdogProblem(daemons, ctx.durationMs, ctx) : undefined;
    if (tooLong) throw new FaultdError('FAULTD_ERR_INPUT_INVALID', `duration: ${tooLong}`);
    const reading = ctx.native.clockRead();
    const ntp = ctx.native.ntpState();
    const rtc = rtcMinusRealtimeMs(SYS_ROOT, reading.realtimeNs);
    const revert: TimeChaosRevert = {
      faultId,
      bootId: ctx.host.bootId,
      offsetNs: String(BigInt(p.offset) * NS_PER_MS),
      anchor: anchorOf(reading),
      kernelNtp: { status: ntp.status, clockState: ntp.clockState },
      ...(rtc === undefined ? {} : { rtcMinusRealtimeMs: rtc }),
      disableNTP: p.disableNTP,
    };
    const offsetText = formatOffsetMs(p.offset);
    const daemonLine = !p.disableNTP
      ? `disableNTP false: NTP daemons left running${daemons.length ? ` (${daemons.map(describeProcess).join(', ')}: one may step the clock back during the fault)` : ' (none runs now)'}`
      : daemons.length
        ? `SIGSTOP NTP daemon ${daemons.map(describeProcess).join(', ')} for the duration (matched again when the fault starts)`
        : `disableNTP: no NTP daemon runs now (${NTP_DAEMON_NAMES.join(', ')}): nothing to stop`;
    return {
      target: 'CLOCK_REALTIME',
      changes: [
        daemonLine,
        `step CLOCK_REALTIME by ${offsetText} (clock_adjtime ADJ_SETOFFSET, atomic), after recording an anchor: CLOCK_REALTIME with CLOCK_MONOTONIC and CLOCK_BOOTTIME (read bracket ${reading.bracketNs} ns)`,
        `kernel NTP state now: status 0x${ntp.status.toString(16)}${ntp.status & STA_UNSYNC ? ' (STA_UNSYNC)' : ''}, clock state ${ntp.clockState}; RTC ${rtc === undefined ? 'absent' : `${rtc} ms from the system clock`}`,
      ],
      revertSteps: [
        'step CLOCK_REALTIME back to anchor realtime + elapsed CLOCK_BOOTTIME (atomic), verify within 1 ms; nothing when it is already there',
        ...(p.disableNTP ? ['SIGCONT each NTP daemon stopped that is still the same process (pid and start time)'] : []),
        'after a reboot: left to NTP if a daemon runs, else checked against the RTC (see the README)',
      ],
      revert,
      async apply(recordApplied): Promise<ActiveFault> {
        const stopped = p.disableNTP ? runningNtpDaemons(ctx.procRoot).map(recordOf) : [];
        // The daemons go into the ledger before they are stopped (with the plan's anchor: a
        // crash now finds the clock on it and steps nothing), and the fresh anchor only once they
        // are: a daemon can no longer set the clock between the anchor and the step.
        if (stopped.length) await recordApplied({ ...revert, stoppedDaemons: stopped });
        for (const t of stopped) ctx.native.killProcess(t.pid, t.startTime, signalNumber('SIGSTOP'));
        const notYet = await waitForState(stopped, isStopped, ctx.procRoot);
        if (notYet.length) throw new FaultdError('FAULTD_ERR_FAULT_APPLY', `NTP daemon ${notYet.map((t) => t.pid).join(', ')} did not stop within ${STATE_WAIT_MS} ms`);
        // A fresh anchor, as close to the step as it can be; in the ledger before the step.
        const anchor = anchorOf(ctx.native.clockRead());
        await recordApplied({ ...revert, anchor, stoppedDaemons: stopped });
        try {
          ctx.native.clockStep(BigInt(revert.offsetNs));
        } catch (error) {
          throw new FaultdError('FAULTD_ERR_FAULT_APPLY', `cannot step CLOCK_REALTIME by ${offsetText}: ${(error as Error).message}`, { cause: error });
        }
        const measured = clockErrorNs(anchor, ctx.native.clockRead());
        ctx.logger.info({ offset: offsetText, measuredNs: String(measured), stoppedDaemons: stopped.map((t) => ({ pid: t.pid, comm: t.comm })) }, 'clock stepped');
        return {
          measure: () => `clock ${formatNs(clockErrorNs(anchor, ctx.native.clockRead()))} from anchor + elapsed (asked ${offsetText})`,
          ended: p.disableNTP ? watchForReset(faultId, anchor, BigInt(revert.offsetNs), ctx) : new Promise<string>(() => undefined),
        };
      },
    };
  },
  async revert(r, ctx) {
    const watch = r.faultId === undefined ? undefined : resetWatches.get(r.faultId);
    if (watch !== undefined && r.faultId !== undefined) {
      clearInterval(watch);
      resetWatches.delete(r.faultId);
    }
    if (r.bootId === ctx.host.bootId) return revertSameBoot(r, ctx);
    const reading = ctx.native.clockRead();
    if (sameKernelTimeline(r.anchor, BigInt(r.offsetNs), reading, RESTORE_TOLERANCE_NS)) {
      const same = await revertSameBoot(r, ctx);
      return { ...same, detail: `boot id changed (from ${r.bootId.slice(0, 8)}), but CLOCK_BOOTTIME went on from the anchor and the clock still reads it plus the step: the same kernel runs (a container booted again), so the anchor holds; ${same.detail}` };
    }
    const rtcSeconds = readRtcSeconds(SYS_ROOT);
    return revertAcrossBoot(r, { ntpDaemons: runningNtpDaemons(ctx.procRoot).map((d) => d.comm), rtcSeconds, realtimeNowMs: Number(reading.realtimeNs / NS_PER_MS) });
  },
  support(ctx) {
    const capable = hasCapability(ctx.host, CAP.SYS_TIME);
    let ntpLine: string;
    try {
      const ntp = ctx.native.ntpState();
      const daemons = runningNtpDaemons(ctx.procRoot);
      ntpLine = `kernel NTP status 0x${ntp.status.toString(16)}${ntp.status & STA_UNSYNC ? ' (unsynchronised)' : ' (synchronised)'}; NTP daemons: ${daemons.length ? daemons.map((d) => `${d.comm} (${d.pid})`).join(', ') : 'none running'}`;
    } catch (error) {
      ntpLine = `adjtimex cannot be read: ${(error as Error).message}`;
    }
    const rtc = readRtcSeconds(SYS_ROOT);
    return {
      supported: capable,
      notes: [
        capable ? 'CAP_SYS_TIME: clock_adjtime(ADJ_SETOFFSET) steps the clock' : 'no CAP_SYS_TIME: clock_adjtime(ADJ_SETOFFSET) fails with EPERM',
        ntpLine,
        rtc === undefined ? 'no RTC (/sys/class/rtc/rtc0): after a reboot the clock comes from the platform' : 'RTC rtc0 present: after a reboot the revert checks the clock against it',
      ],
    };
  },
});
