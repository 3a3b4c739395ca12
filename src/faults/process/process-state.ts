// SPDX-License-Identifier: Apache-2.0
/**
 * The run state of recorded targets, as /proc/<pid>/stat shows it, and the wait for a state
 * after a signal (SIGSTOP → T, SIGCONT → not T). Deadlines run on CLOCK_MONOTONIC, so a fault
 * that steps the system clock (linux-time-chaos stops the NTP daemons with these) cannot stretch
 * or cut a wait.
 */
import { setTimeout as sleep } from 'node:timers/promises';

import { monotonicMs } from '../../monotonic.js';
import type { ProcessRecord } from './record.js';
import { isExited, readProcess } from './targets.js';

/** How long a SIGSTOP or SIGCONT may take to show in /proc/<pid>/stat. */
export const STATE_WAIT_MS = 1000;

export const isStopped = (state: string | undefined): boolean => state === 'T' || state === 't';

/** The state of `t` now, or undefined when it is gone or its pid belongs to another process. */
export function stateOf(t: ProcessRecord, procRoot: string): string | undefined {
  const now = readProcess(procRoot, t.pid);
  return now && now.startTime === t.startTime ? now.state : undefined;
}

/**
 * Waits until `done(state)` holds for every target still there; the ones for which it does not.
 * A target that exited meanwhile (gone, or a zombie that is not reaped yet) is not waited for.
 */
export async function waitForState(targets: readonly ProcessRecord[], done: (state: string) => boolean, procRoot: string): Promise<ProcessRecord[]> {
  const deadline = monotonicMs() + STATE_WAIT_MS;
  for (;;) {
    const pending = targets.filter((t) => {
      const state = stateOf(t, procRoot);
      return state !== undefined && !isExited(state) && !done(state);
    });
    if (!pending.length || monotonicMs() >= deadline) return pending;
    await sleep(5);
  }
}
