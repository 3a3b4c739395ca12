// SPDX-License-Identifier: Apache-2.0
/** Declarations only: the typed surface of build/Release/faultd_native.node. See load.ts. */

/** Outcome of signalling a process identified by (pid, start time). */
export type KillOutcome = 'signalled' | 'absent' | 'mismatch';

export interface NativeAddon {
  /** Version of this surface; load.ts refuses any other. */
  readonly abiVersion: 1;
  /** Must be called once before any other method; supplies the JS error factory used by C++. */
  init(hooks: { makeSystemError(errno: number, syscall: string, detail?: string): Error }): void;
  /** Field 22 of /proc/<pid>/stat (clock ticks since boot), or null when the pid does not exist. */
  processStartTime(pid: number): number | null;
  /**
   * Equivalent to `kill -<signal> <pid>`, but only if the process still has `startTime`
   * (pidfd_open + pidfd_send_signal where the kernel has them). Never signals pid 1.
   */
  killProcess(pid: number, startTime: number, signal: number): KillOutcome;
  /** Signal 0 only tests whether the process is still alive (`signalled`). */
  /** RLIMIT_MEMLOCK in bytes; null means unlimited. Equivalent to `ulimit -l`. */
  memlockLimit(): { soft: number | null; hard: number | null };
  /**
   * flock(2) on `fd` without blocking: true when the lock was taken (or released), false when
   * another open file holds a conflicting lock. Equivalent to `flock -n -s|-x|-u <fd>`.
   */
  tryLock(fd: number, mode: 'shared' | 'exclusive' | 'unlock'): boolean;
}
