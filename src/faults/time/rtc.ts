// SPDX-License-Identifier: Apache-2.0
/**
 * The hardware clock as the kernel's RTC class shows it: /sys/class/rtc/rtc0/since_epoch
 * (whole seconds, UTC: what `hwclock --show --utc` reads through RTC_RD_TIME). linux-time-chaos
 * records how far it was from the system clock before the fault, so that after a reboot it can
 * say whether the clock the host booted with came from an RTC that was right.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

/** The RTC's time in seconds since the epoch, or undefined when there is no rtc0 (or it cannot be read). */
export function readRtcSeconds(sysRoot: string): number | undefined {
  try {
    const text = readFileSync(path.join(sysRoot, 'class/rtc/rtc0/since_epoch'), 'utf8').trim();
    return /^\d+$/.test(text) ? Number(text) : undefined;
  } catch {
    return undefined;
  }
}
