// SPDX-License-Identifier: Apache-2.0
// linux-disk-fill's arithmetic (df's Use%), its fallback on a filesystem without fallocate, and
// the RAM a fill on tmpfs or ramfs takes from the memory budget (statfs faked), the filesystem's
// key (the superblock of mountinfo), and the lock that makes a fill's check and reservation one
// step (on a simulated filesystem with a flock-like fake tryLock).
import { closeSync, fstatSync, ftruncateSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { gzipSync } from 'node:zlib';
import path from 'node:path';

import test, { type ExecutionContext } from 'ava';

import { filesystemKey, type Statfs } from '../../../src/faults/filesystem.js';
import { allocate, bytesToReach, fillMemoryBytes, fillMemoryProblem, linuxDiskFill, planFill, usePercent } from '../../../src/faults/linux-disk-fill.js';
import { DEFAULT_LIMITS, type FaultContext } from '../../../src/faults/types.js';
import { FAKE_CONTEXT, FAKE_NATIVE } from '../../helpers/fake.js';
import { FAKE_HOST, GiB } from '../../helpers/host.js';

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

/** statfs of a filesystem of type `type` (a <linux/magic.h> number) with 4 KiB blocks, `totalMiB` big and `usedMiB` used. */
function fakeStatfs(type: number, totalMiB: number, usedMiB: number): Statfs {
  const blocks = (totalMiB * 1024 * 1024) / 4096;
  const free = blocks - (usedMiB * 1024 * 1024) / 4096;
  return () => ({ type, bsize: 4096, blocks, bfree: free, bavail: free });
}
const TMPFS_MAGIC = 0x01021994;
const RAMFS_MAGIC = 0x858458f6;
const EXT4_MAGIC = 0xef53;
const NAMES = { path: 'fillPath', size: 'fillStorage' };

test('a fill on tmpfs or ramfs holds its bytes in RAM, on a disk none: a percentage is counted in the bytes it takes', (t) => {
  const request = { path: '/mnt/x', size: 100 * 1024 * 1024, keepFree: 1024 * 1024 };
  t.is(fillMemoryBytes(request, fakeStatfs(TMPFS_MAGIC, 1024, 0)), 100 * 1024 * 1024);
  t.is(fillMemoryBytes(request, fakeStatfs(RAMFS_MAGIC, 0, 0)), 100 * 1024 * 1024);
  t.is(fillMemoryBytes(request, fakeStatfs(EXT4_MAGIC, 1024, 0)), 0);
  t.is(fillMemoryBytes({ path: '/mnt/x', fillPercentage: 50, keepFree: 1024 * 1024 }, fakeStatfs(TMPFS_MAGIC, 1024, 112)), 400 * 1024 * 1024);
  t.is(fillMemoryBytes({ path: '/mnt/x', fillPercentage: 5, keepFree: 1024 * 1024 }, fakeStatfs(TMPFS_MAGIC, 1024, 112)), 0, 'already fuller: nothing to hold');
});

test('a tmpfs fill past the memory budget (--max-memory-fraction of MemAvailable) is refused naming the field and the limit; a disk fill of any size is not', (t) => {
  // FAKE_HOST: 6 GiB available, 80 % → 4.8 GiB.
  const ctx = { host: FAKE_HOST, limits: DEFAULT_LIMITS };
  const tmpfs = fakeStatfs(TMPFS_MAGIC, 8192, 0);
  t.deepEqual(fillMemoryProblem({ path: '/mnt/x', size: 5 * GiB, keepFree: 1024 * 1024 }, ctx, NAMES, tmpfs), {
    field: 'fillStorage',
    message: '5.00 GiB on the tmpfs of /mnt/x is held in RAM, which the memory budget bounds: at most 4.80 GiB (--max-memory-fraction 80 % of MemAvailable 6.00 GiB)',
  });
  t.is(fillMemoryProblem({ path: '/mnt/x', fillPercentage: 70, keepFree: 1024 * 1024 }, ctx, NAMES, tmpfs)?.field, 'fillPercentage');
  t.is(fillMemoryProblem({ path: '/mnt/x', size: 4 * GiB, keepFree: 1024 * 1024 }, ctx, NAMES, tmpfs), undefined);
  t.is(fillMemoryProblem({ path: '/mnt/x', size: 5 * GiB, keepFree: 1024 * 1024 }, { ...ctx, limits: { maxMemoryFraction: 0.9 } }, NAMES, tmpfs), undefined);
  t.is(fillMemoryProblem({ path: '/mnt/x', size: 50 * GiB, keepFree: 1024 * 1024 }, ctx, NAMES, fakeStatfs(EXT4_MAGIC, 100_000, 0)), undefined);
});

test('the filesystem key is the superblock\'s device from mountinfo: btrfs subvolumes and bind mounts of one filesystem share it (their st_dev differs), two tmpfs do not', (t) => {
  // As measured on btrfs: the top volume's files show st_dev 0:43, a subvolume's 0:44; mountinfo gives 0:42 for both mounts.
  const mountinfo = [
    '22 1 259:1 / / rw,relatime - ext4 /dev/vda rw',
    '50 22 0:42 / /srv/pool rw,relatime - btrfs /dev/loop1 rw,subvolid=5,subvol=/',
    '51 22 0:42 /sub /srv/sub rw,relatime - btrfs /dev/loop1 rw,subvolid=256,subvol=/sub',
    '52 22 0:60 / /mnt/a rw - tmpfs a rw',
    '53 22 0:61 / /mnt/b rw - tmpfs b rw',
    '54 22 0:60 /x /mnt/bind-of-a rw - tmpfs a rw',
    '',
  ].join('\n');
  t.is(filesystemKey('/srv/pool/data', mountinfo), 'disk:sb0:42');
  t.is(filesystemKey('/srv/sub', mountinfo), 'disk:sb0:42', 'a subvolume mount: the same pool');
  t.is(filesystemKey('/srv/pool/sub/nested', mountinfo), 'disk:sb0:42', 'a subvolume under the top mount');
  t.is(filesystemKey('/mnt/bind-of-a/y', mountinfo), filesystemKey('/mnt/a', mountinfo), 'a bind mount: the same filesystem');
  t.not(filesystemKey('/mnt/a', mountinfo), filesystemKey('/mnt/b', mountinfo));
  t.is(filesystemKey('/home/u', mountinfo), 'disk:sb259:1');
});

/**
 * A filesystem of `totalBytes` simulated over a real directory: used = the sizes of the files in
 * it; the addon's fallocate sets a file's size; tryLock is flock(2) as the kernel keeps it, one
 * holder per lock file (per open file description), so two applies in one process exclude each other.
 */
function simulatedFilesystem(t: ExecutionContext, totalBytes: number) {
  const dir = mkdtempSync(path.join(tmpdir(), 'faultd-fill-race-'));
  const lockDir = mkdtempSync(path.join(tmpdir(), 'faultd-fill-locks-'));
  t.teardown(() => {
    rmSync(dir, { recursive: true, force: true });
    rmSync(lockDir, { recursive: true, force: true });
  });
  const used = () => readdirSync(dir).reduce((sum, name) => sum + statSync(path.join(dir, name)).size, 0);
  const statfs: Statfs = () => {
    const free = (totalBytes - used()) / 4096;
    return { type: EXT4_MAGIC, bsize: 4096, blocks: totalBytes / 4096, bfree: free, bavail: free };
  };
  const holders = new Map<string, number>();
  const native = {
    ...FAKE_NATIVE,
    fallocate: (fd: number, length: number) => ftruncateSync(fd, length),
    tryLock: (fd: number, mode: 'shared' | 'exclusive' | 'unlock') => {
      const s = fstatSync(fd);
      const key = `${s.dev}:${s.ino}`;
      if (mode === 'unlock') {
        if (holders.get(key) === fd) holders.delete(key);
        return true;
      }
      const holder = holders.get(key);
      if (holder !== undefined && holder !== fd) return false;
      holders.set(key, fd);
      return true;
    },
  };
  const ctx: FaultContext = { ...FAKE_CONTEXT, native, lockDir };
  return { dir, statfs, ctx, used, lockedFiles: () => readdirSync(lockDir) };
}

test('two fills of one filesystem applied at once cannot both pass a keepFree check only one fits: the check and the reservation are one step under the filesystem\'s lock', async (t) => {
  const MiB = 1024 * 1024;
  const { dir, statfs, ctx, used, lockedFiles } = simulatedFilesystem(t, 100 * MiB);
  const request = { path: dir, size: 50 * MiB, keepFree: 20 * MiB };
  const names = { path: 'path', size: 'size' };
  // Each fits on its own at plan time: 100 MiB free, 50 taken, 50 left ≥ 20.
  const first = planFill('run-1-a', request, ctx, names, statfs);
  const second = planFill('run-2-b', request, ctx, names, statfs);
  // Recording the intent is a ledger write (an fdatasync): the other apply runs meanwhile.
  const recordSlowly = async () => new Promise<void>((resolve) => setTimeout(resolve, 20));
  const outcomes = await Promise.allSettled([first.apply(recordSlowly, new AbortController().signal), second.apply(recordSlowly, new AbortController().signal)]);
  t.deepEqual(outcomes.map((o) => o.status).sort(), ['fulfilled', 'rejected'], 'exactly one fill applies');
  const refused = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
  t.regex(String(refused?.reason), /50\.00 MiB would now leave less than keepFree 20\.00 MiB free on the filesystem of .* \(50\.00 MiB free\); nothing was written/);
  t.is(used(), 50 * MiB, 'one fill file of 50 MiB; the keepFree of 20 MiB is left');
  t.is(readdirSync(dir).length, 1);
  t.deepEqual(lockedFiles(), [`${filesystemKey(dir).replace(/[^A-Za-z0-9.-]/g, '_')}.lock`], 'the lock file is the filesystem\'s');
});
