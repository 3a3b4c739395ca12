// SPDX-License-Identifier: Apache-2.0
// The revert of linux-time-chaos after a reboot (boot id changed), on made-up boot facts: left
// to NTP, vouched for by an RTC that was in step, from the platform without an RTC, and the
// failures that name the fix.
import test from 'ava';

import { revertAcrossBoot, type EarlierBootRecord } from '../../../../src/faults/time/other-boot.js';
import { RevertError } from '../../../../src/faults/types.js';

const ANCHOR_MS = 1_780_000_000_000;
const record = (rtcMinusRealtimeMs?: number): EarlierBootRecord => ({
  bootId: 'aaaaaaaa-0000-0000-0000-000000000000',
  anchor: { realtimeNs: `${ANCHOR_MS}000000`, monotonicNs: '5000000000', boottimeNs: '6000000000', bracketNs: 90 },
  ...(rtcMinusRealtimeMs === undefined ? {} : { rtcMinusRealtimeMs }),
});
const later = ANCHOR_MS + 120_000;

test('an NTP daemon running in the new boot: the clock is left to it, and the outcome says so', (t) => {
  const outcome = revertAcrossBoot(record(300), { ntpDaemons: ['chronyd'], rtcSeconds: undefined, realtimeNowMs: later });
  t.is(outcome.outcome, 'already-absent');
  t.regex(outcome.detail, /boot changed .*aaaaaaaa.*NTP daemon chronyd runs in this boot: the clock is left to NTP/);
});

test('no NTP, an RTC recorded in step and the clock in step with it: reverted, naming the RTC figures', (t) => {
  const outcome = revertAcrossBoot(record(-400), { ntpDaemons: [], rtcSeconds: Math.floor(later / 1000), realtimeNowMs: later + 500 });
  t.is(outcome.outcome, 'reverted');
  t.regex(outcome.detail, /set from the RTC at boot \(RTC − clock now -500 ms\), which the intent recorded -400 ms from the system clock/);
});

test('no NTP and an RTC that was off before the fault, or a clock apart from the RTC: a failed revert with the fix', (t) => {
  const offBefore = t.throws(() => revertAcrossBoot(record(90_000), { ntpDaemons: [], rtcSeconds: Math.floor(later / 1000), realtimeNowMs: later }), { instanceOf: RevertError });
  t.regex(offBefore?.message ?? '', /recorded the RTC 90000 ms from the system clock before the fault/);
  t.regex((offBefore).manualFix, /timedatectl set-ntp true/);
  const apart = t.throws(() => revertAcrossBoot(record(0), { ntpDaemons: [], rtcSeconds: Math.floor(later / 1000), realtimeNowMs: later + 3_600_000 }), { instanceOf: RevertError });
  t.regex(apart?.message ?? '', /the clock is -3600000 ms from the RTC/);
});

test('no RTC then or now: the skew could not outlive the boot (the platform set the clock)', (t) => {
  const outcome = revertAcrossBoot(record(), { ntpDaemons: [], rtcSeconds: undefined, realtimeNowMs: later });
  t.is(outcome.outcome, 'already-absent');
  t.regex(outcome.detail, /no RTC, so the skew could not outlive the boot/);
});

test('a clock that reads earlier than the anchor is behind, NTP or not', (t) => {
  for (const ntpDaemons of [[], ['systemd-timesyn']]) {
    const error = t.throws(() => revertAcrossBoot(record(0), { ntpDaemons, rtcSeconds: undefined, realtimeNowMs: ANCHOR_MS - 5_400_000 }), { instanceOf: RevertError });
    t.regex(error?.message ?? '', /5400000 ms before the fault began: it is behind true time/);
  }
});
