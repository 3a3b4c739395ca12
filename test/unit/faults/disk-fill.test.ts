// SPDX-License-Identifier: Apache-2.0
// linux-disk-fill's arithmetic (df's Use%) and its fallback on a filesystem without fallocate.
import { mkdtempSync, openSync, closeSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { gzipSync } from 'node:zlib';
import path from 'node:path';

import test from 'ava';

import { allocate, bytesToReach, linuxDiskFill, usePercent } from '../../../src/faults/linux-disk-fill.js';
import { FAKE_CONTEXT } from '../../helpers/fake.js';

test('bytes to reach a Use% are counted as df counts it: used / (used + available)', (t) => {
  const usage = { totalBytes: 1000, usedBytes: 200, availableBytes: 750 }; // 50 reserved for root
  t.is(usePercent(usage), (100 * 200) / 950);
  t.is(bytesToReach(50, usage), 275);
  t.is(usePercent({ ...usage, usedBytes: 475, availableBytes: 475 }), 50);
  t.true(bytesToReach(10, usage) <= 0, 'already fuller than asked');
});

test('without fallocate (ENOTSUP, as Node names errno 95) the file is written with random bytes, which no compressing filesystem can store in less', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'faultd-fill-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'f');
  const fd = openSync(file, 'w');
  const how = await allocate(fd, 9 * 1024 * 1024 + 5, () => {
    throw Object.assign(new Error('fallocate ENOTSUP'), { code: 'ENOTSUP', errno: -95, syscall: 'fallocate' });
  }, new AbortController().signal);
  closeSync(fd);
  t.is(how, 'written');
  t.is(statSync(file).size, 9 * 1024 * 1024 + 5);
  const content = readFileSync(file);
  t.true(gzipSync(content).length > content.length * 0.99, 'incompressible');
  const other = openSync(path.join(dir, 'g'), 'w');
  await t.throwsAsync(allocate(other, 10, () => {
    throw Object.assign(new Error('fallocate ENOSPC'), { code: 'ENOSPC' });
  }, new AbortController().signal), { message: /ENOSPC/ }, 'other errors are not papered over');
  closeSync(other);
});

test('a fill file name that is taken is never deleted: refused at plan, and when it appears between plan and apply the revert leaves it', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'faultd-fill-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const params = linuxDiskFill.validateParams({ path: dir, size: '4Ki', keepFree: '1Mi' }, FAKE_CONTEXT);
  if (!params.ok) {
    t.fail(JSON.stringify(params.issues));
    return;
  }
  const planned = await linuxDiskFill.plan('run-1-fill', params.params, FAKE_CONTEXT);
  const file = (planned.revert as { file: string }).file;
  // Someone else's file under that name, written after the plan.
  writeFileSync(file, 'not faultd\'s');
  let recorded: Record<string, unknown> = planned.revert;
  await t.throwsAsync(planned.apply(async (r) => {
    recorded = r;
    await Promise.resolve();
  }, new AbortController().signal), { message: /cannot create .*EEXIST.*nothing was written, and what is there is left alone/ });
  t.is(recorded['created'], false, 'the record says nothing was created');
  const outcome = await linuxDiskFill.revert(recorded, FAKE_CONTEXT);
  t.is(outcome.outcome, 'already-absent');
  t.is(readFileSync(file, 'utf8'), 'not faultd\'s', 'left alone');
  await t.throwsAsync(linuxDiskFill.plan('run-1-fill', params.params, FAKE_CONTEXT), { message: /already exists .*nothing was written/ });
});
