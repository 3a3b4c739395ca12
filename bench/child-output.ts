// SPDX-License-Identifier: Apache-2.0
/** Waiting for a benchmarked child process (a hub, an agent, faultd run) to say it is up. */
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

/** Resolves with the first whole stdout line that `match` accepts; rejects if the child exits first. */
export function readLine(child: ChildProcess, match: (line: string) => boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffer = '';
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      buffer += chunk;
      const line = buffer.split('\n').find(match);
      if (line !== undefined) resolve(line);
    });
    child.once('exit', () => reject(new Error(`exited before the expected line: ${buffer.slice(-500)}`)));
  });
}
