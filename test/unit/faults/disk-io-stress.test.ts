// SPDX-License-Identifier: Apache-2.0
// linux-disk-io-stress without root: its params (Harness spellings, bounds named), the split of
// the size over the workers, a plan that refuses names already taken, the intent record naming
// every file, and a revert that deletes them (verified) and is idempotent.
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import test from 'ava';

import { bytesPerWorker, linuxDiskIoStress } from '../../../src/faults/linux-disk-io-stress.js';
import type { FaultContext } from '../../../src/faults/types.js';
import { FAKE_CONTEXT } from '../../helpers/fake.js';

function dirs(t: import('ava').ExecutionContext): { dir: string; ctx: FaultContext } {
  const base = mkdtempSync(path.join(tmpdir(), 'faultd-dio-unit-'));
  t.teardown(() => rmSync(base, { recursive: true, force: true }));
  const dir = path.join(base, 'data');
  const proc = path.join(base, 'proc');
  mkdirSync(dir);
  mkdirSync(proc);
  return { dir, ctx: { ...FAKE_CONTEXT, procRoot: proc } };
}

test('bytesPerWorker splits the size evenly in whole 4 KiB blocks', (t) => {
  t.is(bytesPerWorker(16 * 1024 * 1024, 2), 8 * 1024 * 1024);
  t.is(bytesPerWorker(10_000, 1), 8192);
  t.is(bytesPerWorker(4095, 1), 0);
});

test('params: Harness spellings, defaults, and bounds named in every refusal', (t) => {
  const { dir, ctx } = dirs(t);
  const ok = linuxDiskIoStress.validateParams({ volumeMountPath: dir, fileSystemUtilisationPercentage: '20%', workers: '2', ioRate: '10Mi' }, ctx);
  t.true(ok.ok);
  t.like(ok.ok ? ok.params : {}, { fileSystemUtilisationPercentage: 20, workers: 2, ioRate: 10 * 1024 * 1024, keepFree: 256 * 1024 * 1024 });
  t.deepEqual(linuxDiskIoStress.paramAliases['FILESYSTEM_UTILIZATION_PERCENTAGE'], 'fileSystemUtilisationPercentage');
  t.deepEqual(linuxDiskIoStress.paramAliases['VOLUME_MOUNT_PATH'], 'volumeMountPath');
  const refused = (params: Record<string, unknown>) => {
    const r = linuxDiskIoStress.validateParams({ volumeMountPath: dir, ...params }, ctx);
    return r.ok ? [] : r.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  };
  t.deepEqual(refused({ workers: 0 }), ['workers: must be in 1–64']);
  t.deepEqual(refused({ ioRate: '1k' }), ['ioRate: must be in 4Ki–1Ti bytes/s']);
  t.deepEqual(refused({ iops: 0 }), ['iops: must be in 1–1000000']);
  t.deepEqual(refused({ iops: 2.5 }), ['iops: must be a whole number in 1–1000000']);
  t.deepEqual(refused({ ioRate: '1Mi', iops: 200 }), ['iops: give ioRate (bytes/s) or iops (writes/s), not both']);
  t.is(linuxDiskIoStress.paramAliases['IOPS'], 'iops');
  const iops = linuxDiskIoStress.validateParams({ volumeMountPath: dir, iops: '200' }, ctx);
  t.like(iops.ok ? iops.params : {}, { iops: 200 });
  t.deepEqual(refused({ fileSystemUtilisationPercentage: 101 }), ['fileSystemUtilisationPercentage: must be in 0.01–100']);
  t.deepEqual(refused({ fileSystemUtilisationBytes: '1Mi', fileSystemUtilisationPercentage: 1 }), ['fileSystemUtilisationPercentage: give at most one of fileSystemUtilisationPercentage (0.01–100) or fileSystemUtilisationBytes']);
  t.deepEqual(refused({ volumeMountPath: path.join(dir, 'missing') }), ['volumeMountPath: must be an existing directory; it does not exist']);
  t.deepEqual(refused({ volumeMountPath: 'relative' }), ['volumeMountPath: must be an absolute directory path']);
});

test.serial('the default volumeMountPath (the home directory, $HOME) is checked as a given one: missing, forbidden or relative is refused at validation, saying it was the default', (t) => {
  const { dir, ctx } = dirs(t);
  const home = process.env['HOME'];
  t.teardown(() => {
    if (home === undefined) delete process.env['HOME'];
    else process.env['HOME'] = home;
  });
  const issuesWithHome = (value: string) => {
    process.env['HOME'] = value;
    const r = linuxDiskIoStress.validateParams({ fileSystemUtilisationBytes: '64Ki' }, ctx);
    return r.ok ? [] : r.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  };
  const note = (value: string) => ` (${JSON.stringify(value)} is the default: the home directory of the user faultd runs as; give volumeMountPath)`;
  t.deepEqual(issuesWithHome('/nonexistent'), [`volumeMountPath: must be an existing directory; it does not exist${note('/nonexistent')}`]);
  t.deepEqual(issuesWithHome('/run'), [`volumeMountPath: must not be under /proc, /sys, /dev, /run (symbolic links resolved)${note('/run')}`]);
  t.deepEqual(issuesWithHome('relative/home'), [`volumeMountPath: must be an absolute directory path${note('relative/home')}`]);
  t.deepEqual(issuesWithHome(dir), [], 'an existing home directory is taken');
  process.env['HOME'] = dir;
  const taken = linuxDiskIoStress.validateParams({ fileSystemUtilisationBytes: '64Ki' }, ctx);
  t.like(taken.ok ? taken.params : {}, { volumeMountPath: dir });
});

test('the plan names every file in the intent record; revert deletes them, verified, and is idempotent', async (t) => {
  const { dir, ctx } = dirs(t);
  const v = linuxDiskIoStress.validateParams({ volumeMountPath: dir, fileSystemUtilisationBytes: '64Ki', workers: 2, keepFree: '1Mi' }, ctx);
  if (!v.ok) return t.fail(JSON.stringify(v.issues));
  const planned = await linuxDiskIoStress.plan('f-unit', v.params, ctx);
  const files = planned.revert['files'] as string[];
  t.is(files.length, 2);
  t.true(files.every((f) => path.dirname(f) === dir && /\/\.faultd-io-[0-9a-f]{8}-[01]$/.test(f)));
  t.true(planned.changes.some((c) => c.includes('--file-bytes=32768') && c.includes('--workers=2')));
  for (const f of files) writeFileSync(f, 'x'); // as the stressor would have made them
  const reverted = await linuxDiskIoStress.revert(planned.revert, ctx);
  t.is(reverted.outcome, 'reverted');
  t.false(files.some((f) => existsSync(f)));
  t.is((await linuxDiskIoStress.revert(planned.revert, ctx)).outcome, 'already-absent');
});

test('a plan whose file names are taken is refused: the revert would delete what is not the fault\'s', async (t) => {
  const { dir, ctx } = dirs(t);
  const v = linuxDiskIoStress.validateParams({ volumeMountPath: dir, fileSystemUtilisationBytes: '64Ki', keepFree: '1Mi' }, ctx);
  if (!v.ok) return t.fail(JSON.stringify(v.issues));
  const first = await linuxDiskIoStress.plan('f-taken', v.params, ctx);
  const [file] = first.revert['files'] as string[];
  writeFileSync(file ?? '', 'someone else');
  await t.throwsAsync(linuxDiskIoStress.plan('f-taken', v.params, ctx), { message: /already exist\(s\).*nothing was started/ });
  t.true(existsSync(file ?? ''));
});

test('iops goes to the stressor as --rate-iops (split over the workers there), named in the plan\'s target', async (t) => {
  const { dir, ctx } = dirs(t);
  const v = linuxDiskIoStress.validateParams({ volumeMountPath: dir, fileSystemUtilisationBytes: '64Ki', workers: 2, iops: 200, keepFree: '1Mi' }, ctx);
  if (!v.ok) return t.fail(JSON.stringify(v.issues));
  const planned = await linuxDiskIoStress.plan('f-iops', v.params, ctx);
  t.true(planned.changes.some((c) => c.includes('--rate-iops=200') && !c.includes('--rate-bps')), planned.changes.join('\n'));
  t.regex(planned.target, /2 writer\(s\) at 200 writes\/s of 4\.00 KiB/);
});
