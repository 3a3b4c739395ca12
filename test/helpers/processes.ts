// SPDX-License-Identifier: Apache-2.0
/** Process inspection for tests: find stressors by tag, wait for pids to go. */
import { readdirSync, readFileSync } from 'node:fs';

/** Pids of faultd-stressor processes whose argv contains `needle` (e.g. a run id). */
export function stressorsMatching(needle: string): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const argv = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0');
      if ((argv[0] ?? '').endsWith('faultd-stressor') && argv.some((a) => a.includes(needle))) {
        const state = /\) (\S)/.exec(readFileSync(`/proc/${name}/stat`, 'utf8'))?.[1];
        if (state !== 'Z') pids.push(Number(name));
      }
    } catch {
      // exited while scanning
    }
  }
  return pids;
}

export async function waitUntil(check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (await check()) return true;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return check();
}

/** Sum of schedstat run time (ns) over the threads of `pid`. */
export function runTimeNs(pid: number): number {
  let total = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      total += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // thread exited
    }
  }
  return total;
}
