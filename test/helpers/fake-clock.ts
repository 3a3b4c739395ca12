// SPDX-License-Identifier: Apache-2.0
/**
 * A fake system clock at the addon boundary (clockRead, clockStep, ntpState): three clocks in
 * nanoseconds that `advance` moves together and `clockStep` moves apart (CLOCK_REALTIME only),
 * as the kernel does; `suspend` advances BOOTTIME and REALTIME but not MONOTONIC. Every step is
 * recorded. `readErrorNs` adds a pairing error to each read, to test the tolerance.
 */
import type { ClockReading, NtpState } from '../../src/native/addon.js';

export class FakeClock {
  realtimeNs = 1_780_000_000_000_000_000n;
  monotonicNs = 5_000_000_000n;
  boottimeNs = 6_000_000_000n;
  readErrorNs = 0n;
  /** Steps made, in order (ns). */
  readonly steps: bigint[] = [];
  /** When set, clockStep throws it (e.g. an EPERM without CAP_SYS_TIME). */
  stepFails: Error | undefined;
  ntp: NtpState = { clockState: 0, status: 0x2001, maxErrorUs: 1000, estErrorUs: 10, offsetNs: 0 };

  advance(ms: number): void {
    const ns = BigInt(ms) * 1_000_000n;
    this.realtimeNs += ns;
    this.monotonicNs += ns;
    this.boottimeNs += ns;
  }

  suspend(ms: number): void {
    const ns = BigInt(ms) * 1_000_000n;
    this.realtimeNs += ns;
    this.boottimeNs += ns;
  }

  readonly clockRead = (): ClockReading => ({ realtimeNs: this.realtimeNs + this.readErrorNs, monotonicNs: this.monotonicNs, boottimeNs: this.boottimeNs, bracketNs: 90 });

  readonly clockStep = (offsetNs: bigint): void => {
    if (this.stepFails) throw this.stepFails;
    this.steps.push(offsetNs);
    this.realtimeNs += offsetNs;
    // As the kernel: any step marks the clock unsynchronised.
    this.ntp = { ...this.ntp, status: this.ntp.status | 0x40, clockState: 5 };
  };

  readonly ntpState = (): NtpState => this.ntp;
}
