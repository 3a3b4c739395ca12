// SPDX-License-Identifier: Apache-2.0
/** Waiting for a benchmarked child process (a hub, an agent) to say it is up. */
import type { ChildProcess } from 'node:child_process';

/** Resolves at the first stdout chunk matching `pattern`; rejects after `timeoutMs`. */
export function waitForLine(child: ChildProcess, pattern: RegExp, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${String(pattern)} within ${timeoutMs} ms`)), timeoutMs);
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      if (pattern.test(chunk)) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
}
