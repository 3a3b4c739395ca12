// SPDX-License-Identifier: Apache-2.0
/** /proc readers for the benchmark: CPU run time of a process tree, resident memory. */
import { readdirSync, readFileSync } from 'node:fs';

/** Direct children of `pid` (from /proc/<pid>/task/*\/children). */
export function childrenOf(pid: number): number[] {
  const kids: number[] = [];
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const text = readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim();
      if (text) kids.push(...text.split(' ').map(Number));
    }
  } catch {
    // gone
  }
  return kids;
}

/** `pid` and all its descendants. */
export function processTree(pid: number): number[] {
  const all = [pid];
  for (let i = 0; i < all.length; i += 1) all.push(...childrenOf(all[i] ?? 0));
  return all;
}

/**
 * Sum of schedstat run time (ns) over every thread of every process in `pids`; with `comm`,
 * only threads whose name matches it (e.g. the load-carrying workers, not the launcher).
 */
export function runTimeNs(pids: readonly number[], comm?: RegExp): number {
  let total = 0;
  for (const pid of pids) {
    let tids: string[];
    try {
      tids = readdirSync(`/proc/${pid}/task`);
    } catch {
      continue;
    }
    for (const tid of tids) {
      try {
        if (comm && !comm.test(readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8'))) continue;
        total += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
      } catch {
        // thread exited
      }
    }
  }
  return total;
}

/** A field of /proc/<pid>/status in bytes (e.g. RssAnon, VmRSS); 0 when gone. */
export function statusBytes(pid: number, field: string): number {
  try {
    const kb = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return Number(kb ?? 0) * 1024;
  } catch {
    return 0;
  }
}

export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/\) [ZX] /.test(stat);
  } catch {
    return false;
  }
}
