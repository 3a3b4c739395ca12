// SPDX-License-Identifier: Apache-2.0
// The stressor faults start the executable their context names: the argv it gets (as the
// helper's command line expects it), a missing executable refused before anything changes, and
// the doctor notes naming the context's path.
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import test from 'ava';

import { stressorSupportNotes } from '../../../src/faults/stressor-fault.js';
import { startStressor } from '../../../src/faults/stressor-process.js';
import type { FaultContext } from '../../../src/faults/types.js';
import { FAKE_CONTEXT } from '../../helpers/fake.js';

/** A stand-in faultd-stressor that records its argv, waits for "go", reports ready and idles. */
function fakeStressor(t: import('ava').ExecutionContext): { file: string; argvFile: string } {
  const dir = mkdtempSync(path.join(tmpdir(), 'faultd-fake-stressor-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'faultd-stressor');
  const argvFile = path.join(dir, 'argv');
  writeFileSync(file, `#!/bin/sh\nprintf '%s\\n' "$@" > '${argvFile}'\nread go\n[ "$go" = go ] || exit 9\necho '{"event":"ready"}'\nexec sleep 30\n`);
  chmodSync(file, 0o755);
  return { file, argvFile };
}

/** A recordApplied that keeps what it is given. */
function record(into: unknown[]): (revert: unknown) => Promise<void> {
  return (revert) => {
    into.push(revert);
    return Promise.resolve();
  };
}

const planned = { tag: 'f-unit', bootId: FAKE_CONTEXT.host.bootId, cgroups: [] };

test('startStressor runs the context stressor with the mode, its args and the common options', async (t) => {
  const { file, argvFile } = fakeStressor(t);
  const ctx: FaultContext = { ...FAKE_CONTEXT, stressorPath: file };
  const recorded: unknown[] = [];
  const handle = await startStressor(planned, 'cpu', ['--workers=1', '--load-pct=5'], ctx, record(recorded), new AbortController().signal);
  t.teardown(() => {
    try {
      process.kill(handle.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  });
  t.deepEqual(readFileSync(argvFile, 'utf8').trim().split('\n'), ['cpu', '--workers=1', '--load-pct=5', '--tag=f-unit', '--wait-go', `--parent-pid=${process.pid}`]);
  t.like(recorded[0], { tag: 'f-unit', pid: handle.pid, startTime: 1 });
  process.kill(handle.pid, 'SIGTERM');
  t.is(await handle.exit, 'killed by SIGTERM');
});

test('a missing stressor is FAULTD_ERR_NATIVE_LOAD with the fix, and nothing is recorded', async (t) => {
  const recorded: unknown[] = [];
  await t.throwsAsync(
    startStressor(planned, 'memory', ['--workers=1', '--bytes-per-worker=4096'], FAKE_CONTEXT, record(recorded), new AbortController().signal),
    { code: 'FAULTD_ERR_NATIVE_LOAD', message: 'stressor executable /nonexistent/faultd-stressor is missing: run `npm run build`' },
  );
  t.deepEqual(recorded, []);
});

test('doctor names the stressor of the context, or says it is missing', (t) => {
  const { file } = fakeStressor(t);
  const present = stressorSupportNotes({ ...FAKE_CONTEXT, stressorPath: file });
  t.true(present.ok);
  t.true(present.notes.includes(`stressor: ${file}`));
  const absent = stressorSupportNotes(FAKE_CONTEXT);
  t.false(absent.ok);
  t.true(absent.notes.includes('stressor executable /nonexistent/faultd-stressor is missing: run `npm run build`'));
});
