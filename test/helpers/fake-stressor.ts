// SPDX-License-Identifier: Apache-2.0
/**
 * A stand-in for build/Release/faultd-stressor (a context's stressorPath) for unit tests of
 * faults that start one: it ignores its arguments, waits for faultd's "go", prints `events`
 * (one JSON line each), then idles until SIGTERM or until the process that started it is gone
 * (as the real one dies with faultd). Its folder is removed when the test file ends.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export function fakeStressorFile(after: (fn: () => void) => void, events: readonly Record<string, unknown>[]): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'faultd-fake-stressor-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'faultd-stressor');
  const lines = events.map((e) => `echo '${JSON.stringify(e)}'`).join('\n');
  writeFileSync(file, `#!/bin/sh\nread go\n${lines}\ntrap 'exit 0' TERM\nwhile kill -0 $PPID 2>/dev/null; do sleep 0.02; done\n`);
  chmodSync(file, 0o755);
  return file;
}
