// SPDX-License-Identifier: Apache-2.0
// linux-disk-io-stress without root: its params (Harness spellings, bounds named), the split of
// the size over the workers, a plan that refuses names already taken, the intent record naming
// every file, the files faultd creates and records by device and inode, and a revert that deletes
// only those (verified), leaves a same-named file of someone else, and is idempotent.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import test from 'ava';

import type { Statfs } from '../../../src/faults/filesystem.js';
import { bytesPerWorker, ioMemoryBytes, linuxDiskIoStress } from '../../../src/faults/linux-disk-io-stress.js';
import { RevertError, type FaultContext } from '../../../src/faults/types.js';
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

/** Plans a 2-worker fault in `dir` and applies it: faultd creates the files, then the stressor cannot start (none in unit tests). The records apply wrote, in order. */
async function applyWithoutStressor(dir: string, ctx: FaultContext, faultId: string) {
  const v = linuxDiskIoStress.validateParams({ volumeMountPath: dir, fileSystemUtilisationBytes: '64Ki', workers: 2, keepFree: '1Mi' }, ctx);
  if (!v.ok) throw new Error(JSON.stringify(v.issues));
  const planned = await linuxDiskIoStress.plan(faultId, v.params, ctx);
  const records: Record<string, unknown>[] = [];
  const applying = planned.apply(async (r) => {
    records.push(r);
    await Promise.resolve();
  }, new AbortController().signal);
  return { planned, records, applying, files: planned.revert['files'] as string[], last: () => records.at(-1) ?? planned.revert };
}

test('the plan names every file in the intent record; apply creates each (O_EXCL) and records its device and inode before the next and before the stressor; revert deletes them, verified, and is idempotent', async (t) => {
  const { dir, ctx } = dirs(t);
  const { planned, records, applying, files, last } = await applyWithoutStressor(dir, ctx, 'f-unit');
  t.is(files.length, 2);
  t.true(files.every((f) => path.dirname(f) === dir && /\/\.faultd-io-[0-9a-f]{8}-[01]$/.test(f)));
  t.true(planned.changes.some((c) => c.includes('--file-bytes=32768') && c.includes('--workers=2') && c.includes('--files-open')));
  t.deepEqual(planned.revert['owned'], [], 'the intent: no file is faultd\'s yet');
  await t.throwsAsync(applying, { message: /faultd-stressor/ }, 'no stressor here: apply fails after making the files');
  t.deepEqual(records.slice(0, 2).map((r) => (r['owned'] as { file: string }[]).map((o) => o.file)), [[files[0]], [files[0], files[1]]], 'each file recorded as soon as it exists');
  t.deepEqual(last()['owned'], files.map((f) => ({ file: f, dev: statSync(f).dev, ino: statSync(f).ino })));
  const reverted = await linuxDiskIoStress.revert(last(), ctx);
  t.is(reverted.outcome, 'reverted');
  t.false(files.some((f) => existsSync(f)));
  t.is((await linuxDiskIoStress.revert(last(), ctx)).outcome, 'already-absent');
});

test('a same-named file of someone else is never deleted: a name taken between plan and apply, and a file put in the place of faultd\'s; a record of an older faultd (no identities) is still reverted by name', async (t) => {
  const { dir, ctx } = dirs(t);
  // Taken between plan and apply: apply stops there, and the revert leaves it.
  const taken = await applyWithoutStressor(dir, ctx, 'f-taken-late');
  const [first, second] = taken.files as [string, string];
  writeFileSync(second, 'someone else\'s');
  // (the apply has begun: the first file was made before the second's name was looked at)
  await t.throwsAsync(taken.applying, { message: /cannot create .*-1: .*EEXIST.*not faultd's and is left alone/ });
  const reverted = await linuxDiskIoStress.revert(taken.last(), ctx);
  t.regex(reverted.detail, /deleted .*-0; left alone \(no record that faultd created them\): .*-1$/);
  t.false(existsSync(first));
  t.is(readFileSync(second, 'utf8'), 'someone else\'s', 'left alone');
  rmSync(second);

  // faultd's file moved away and another put under its name: left alone, a failed revert whose fix finds faultd's by inode.
  const moved = await applyWithoutStressor(dir, ctx, 'f-replaced');
  await t.throwsAsync(moved.applying);
  const [mine] = moved.files as [string, string];
  const inode = statSync(mine).ino;
  renameSync(mine, path.join(dir, 'moved-away'));
  writeFileSync(mine, 'not faultd\'s');
  const error = await t.throwsAsync(linuxDiskIoStress.revert(moved.last(), ctx), { instanceOf: RevertError, message: /is not the working file faultd created \(inode \d+, not \d+\): it was moved or replaced, so it is left untouched/ });
  t.true(error?.manualFix.includes(`-inum ${inode} -delete`), error?.manualFix);
  t.is(readFileSync(mine, 'utf8'), 'not faultd\'s');
  rmSync(mine);
  rmSync(path.join(dir, 'moved-away'));

  // An intent written by faultd before identities were recorded: deleted by name, as then.
  const old = await applyWithoutStressor(dir, ctx, 'f-old');
  await t.throwsAsync(old.applying);
  const legacy = Object.fromEntries(Object.entries(old.last()).filter(([key]) => key !== 'owned'));
  t.is((await linuxDiskIoStress.revert(legacy, ctx)).outcome, 'reverted');
  t.false(old.files.some((f) => existsSync(f)));
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

test('working files on a tmpfs or ramfs are RAM: their bytes count against the memory budget (a percentage of the free space now), on a disk nothing', (t) => {
  const statfsOf = (type: number): Statfs => () => ({ type, bsize: 4096, blocks: 262_144, bfree: 262_144, bavail: 262_144 }); // 1 GiB free
  t.is(ioMemoryBytes({ volumeMountPath: '/mnt/x', fileSystemUtilisationBytes: 64 * 1024 * 1024 }, statfsOf(0x01021994)), 64 * 1024 * 1024);
  t.is(ioMemoryBytes({ volumeMountPath: '/mnt/x' }, statfsOf(0x858458f6)), Math.floor(0.1 * 1024 ** 3), 'the default 10 % of the free space');
  t.is(ioMemoryBytes({ volumeMountPath: '/mnt/x', fileSystemUtilisationPercentage: 50 }, statfsOf(0xef53)), 0);
});
