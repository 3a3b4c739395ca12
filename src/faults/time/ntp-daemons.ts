// SPDX-License-Identifier: Apache-2.0
/**
 * The NTP daemons that could step the clock back during linux-time-chaos: chronyd, ntpd
 * (also OpenNTPD's), systemd-timesyncd, found by `comm` in /proc. With `disableNTP` they are
 * stopped (SIGSTOP) for the duration through the start-time-checked pidfds of
 * linux-process-stop and continued (SIGCONT) at revert, so they neither step nor slew the clock
 * and resume where they were. A systemd unit stop over D-Bus could replace this later; SIGSTOP
 * needs no bus, works for daemons started outside systemd, and leaves each unit's state and
 * configuration untouched.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

import { parseProcCgroup } from '../../host/cgroup.js';
import { listProcesses, selectProcesses, type ProcessInfo } from '../process/targets.js';

/** `comm` of the NTP clients faultd knows (the kernel cuts `systemd-timesyncd` to 15 bytes). */
export const NTP_DAEMON_NAMES = ['chronyd', 'ntpd', 'systemd-timesyncd', 'openntpd'] as const;

const isStopped = (state: string): boolean => state === 'T' || state === 't';

/** The NTP daemons running now, never faultd or its own; those already stopped by someone else are left out. */
export function runningNtpDaemons(procRoot: string): ProcessInfo[] {
  const selection = selectProcesses(listProcesses(procRoot), { processNames: [...NTP_DAEMON_NAMES], exclude: [] }, process.pid);
  return selection.targets.filter((p) => !isStopped(p.state));
}

/**
 * The systemd service `pid` runs in (`systemd-timesyncd.service`), from its cgroup path (the
 * unified hierarchy's, or v1's name=systemd); undefined outside a service or when it is gone.
 */
export function serviceOfProcess(procRoot: string, pid: number): string | undefined {
  let text: string;
  try {
    text = readFileSync(path.join(procRoot, String(pid), 'cgroup'), 'utf8');
  } catch {
    return undefined;
  }
  const paths = parseProcCgroup(text);
  const systemdPath = paths.get('name=systemd') ?? paths.get('');
  return systemdPath?.split('/').filter((part) => part.endsWith('.service')).pop();
}
