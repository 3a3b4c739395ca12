// SPDX-License-Identifier: Apache-2.0
/**
 * The revert of linux-time-chaos when the host rebooted since the intent (the boot id changed):
 * the monotonic anchor is from a clock that restarted, so the clock cannot be restored from it.
 * What the host booted with decides, and the outcome says which it was:
 * - an NTP daemon runs now: the clock is left to it (the daemons stopped in the earlier boot
 *   died with it);
 * - no NTP daemon, an RTC the intent recorded in step with the system clock, and the system
 *   clock now in step with the RTC: the clock came from that RTC, which the kernel did not write
 *   while the clock was skewed (a step sets STA_UNSYNC, and the kernel copies the clock to the
 *   RTC only while it is clear; faultd kept the NTP daemons, which would clear it, stopped);
 * - no RTC at all: the clock came from the platform (hypervisor or firmware), which the skew
 *   could not reach;
 * - anything else, or a clock that reads earlier than the fault's anchor (certainly behind):
 *   a failed revert, with the commands that fix it.
 */
import { RevertError, type RevertOutcome } from '../types.js';
import { NS_PER_MS, type AnchorRecord } from './clock-anchor.js';

/** How far apart two clocks with a whole-second RTC may read and still count as in step. */
export const RTC_IN_STEP_MS = 2000;

export interface BootFacts {
  /** `comm` of the NTP daemons running now. */
  readonly ntpDaemons: readonly string[];
  /** The RTC now (seconds since the epoch); undefined without an RTC. */
  readonly rtcSeconds: number | undefined;
  readonly realtimeNowMs: number;
}

export interface EarlierBootRecord {
  readonly bootId: string;
  readonly anchor: AnchorRecord;
  /** RTC minus CLOCK_REALTIME before the fault (ms); absent when there was no RTC. */
  readonly rtcMinusRealtimeMs?: number | undefined;
}

const FIX = 'timedatectl set-ntp true (or chronyc makestep), or date -u -s "<the true UTC time>"';

export function revertAcrossBoot(r: EarlierBootRecord, now: BootFacts): RevertOutcome {
  const anchorMs = Number(BigInt(r.anchor.realtimeNs) / NS_PER_MS);
  const preface = `boot changed since the fault (its boot ${r.bootId.slice(0, 8)}): the monotonic anchor is gone with that boot`;
  if (now.realtimeNowMs < anchorMs) {
    const behindMs = anchorMs - now.realtimeNowMs;
    throw new RevertError(
      `${preface}, and CLOCK_REALTIME reads ${new Date(now.realtimeNowMs).toISOString()}, ${behindMs} ms before the fault began: it is behind true time`,
      `the system clock is at least ${behindMs} ms behind`,
      FIX,
    );
  }
  if (now.ntpDaemons.length) {
    return { outcome: 'already-absent', detail: `${preface}; NTP daemon ${now.ntpDaemons.join(', ')} runs in this boot: the clock is left to NTP (the daemons stopped in the earlier boot ended with it)` };
  }
  if (now.rtcSeconds === undefined) {
    if (r.rtcMinusRealtimeMs === undefined) return { outcome: 'already-absent', detail: `${preface}; there is no RTC, so the skew could not outlive the boot: the clock came from the platform at boot (no NTP daemon runs to confirm it)` };
    throw new RevertError(`${preface}; the RTC the intent recorded cannot be read now and no NTP daemon runs: faultd cannot tell the true time`, 'the system clock is unverified', FIX);
  }
  const rtcNowDiffMs = now.rtcSeconds * 1000 - now.realtimeNowMs;
  const recordedInStep = r.rtcMinusRealtimeMs !== undefined && Math.abs(r.rtcMinusRealtimeMs) <= RTC_IN_STEP_MS;
  if (recordedInStep && Math.abs(rtcNowDiffMs) <= RTC_IN_STEP_MS) {
    return {
      outcome: 'reverted',
      detail: `${preface}; the clock was set from the RTC at boot (RTC − clock now ${rtcNowDiffMs} ms), which the intent recorded ${r.rtcMinusRealtimeMs} ms from the system clock before the fault; the kernel kept STA_UNSYNC set while the clock was skewed, so it did not write the skew to the RTC`,
    };
  }
  const why = recordedInStep ? `the clock is ${rtcNowDiffMs} ms from the RTC, so it did not come from it` : `the intent recorded the RTC ${r.rtcMinusRealtimeMs ?? '?'} ms from the system clock before the fault, so it cannot vouch for the time`;
  throw new RevertError(`${preface}; no NTP daemon runs and ${why}: faultd cannot tell the true time`, 'the system clock is unverified', FIX);
}
