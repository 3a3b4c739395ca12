// SPDX-License-Identifier: Apache-2.0
// The per-device I/O rules of v1 (blkio.throttle.*_device) and v2 (io.max) on a tmpdir cgroupfs:
// the device's rule found among other devices' rules, the texts written (naming only that
// device), what the kernel reads back, and the text that restores the previous rule; and block
// device numbers from dev_t and from sysfs (a partition gives its disk).
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import test, { type ExecutionContext } from 'ava';

import { splitDevT, wholeDiskOf } from '../../../src/host/block-device.js';
import { deviceRule, ioLimitWrites, mergedV2Rule } from '../../../src/host/cgroup-io-limits.js';

function tmp(t: ExecutionContext): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'faultd-cgio-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('a device\'s rule is found among other devices\' rules; none is ""', (t) => {
  const text = '8:0 1048576\n7:3 4194304\n';
  t.is(deviceRule(text, '7:3'), '4194304');
  t.is(deviceRule(text, '8:0'), '1048576');
  t.is(deviceRule(text, '7:30'), '');
  t.is(deviceRule('', '7:3'), '');
  t.is(deviceRule('7:3 rbps=max wbps=100 riops=max wiops=max\n', '7:3'), 'rbps=max wbps=100 riops=max wiops=max');
});

test('v1: one file per limit, "MAJ:MIN value" written, the previous rule (or none → 0) restores', (t) => {
  const dir = tmp(t);
  writeFileSync(path.join(dir, 'blkio.throttle.write_bps_device'), '8:0 1048576\n');
  writeFileSync(path.join(dir, 'blkio.throttle.read_iops_device'), '8:0 10\n7:3 300\n');
  writeFileSync(path.join(dir, 'blkio.throttle.read_bps_device'), '');
  writeFileSync(path.join(dir, 'blkio.throttle.write_iops_device'), '');
  const writes = ioLimitWrites({ writeBps: 4 * 2 ** 20, readIops: 200 }, '7:3', 1, dir);
  t.deepEqual(writes, [
    { kind: 'io', file: path.join(dir, 'blkio.throttle.write_bps_device'), device: '7:3', previous: '', value: '7:3 4194304', expected: '4194304', restore: '7:3 0' },
    { kind: 'io', file: path.join(dir, 'blkio.throttle.read_iops_device'), device: '7:3', previous: '300', value: '7:3 200', expected: '200', restore: '7:3 300' },
  ]);
  t.true(writes.every((w) => w.value.startsWith('7:3 ') && w.restore.startsWith('7:3 ')), 'the rule of 8:0 is never written');
});

test('v2: io.max with only the given keys written; the rule read back merges them into the previous one; restore writes the previous line or every key max', (t) => {
  const dir = tmp(t);
  const file = path.join(dir, 'io.max');
  writeFileSync(file, '8:0 rbps=1000 wbps=max riops=max wiops=max\n7:3 rbps=max wbps=max riops=50 wiops=max\n');
  t.deepEqual(ioLimitWrites({ writeBps: 4096, writeIops: 7 }, '7:3', 2, dir), [
    { kind: 'io', file, device: '7:3', previous: 'rbps=max wbps=max riops=50 wiops=max', value: '7:3 wbps=4096 wiops=7', expected: 'rbps=max wbps=4096 riops=50 wiops=7', restore: '7:3 rbps=max wbps=max riops=50 wiops=max' },
  ]);
  t.deepEqual(ioLimitWrites({ readBps: 8192 }, '253:1', 2, dir), [
    { kind: 'io', file, device: '253:1', previous: '', value: '253:1 rbps=8192', expected: 'rbps=8192 wbps=max riops=max wiops=max', restore: '253:1 rbps=max wbps=max riops=max wiops=max' },
  ]);
  t.is(mergedV2Rule('', {}), '', 'all max: the kernel shows no line');
});

test('dev_t → MAJ:MIN as glibc encodes it, small and large numbers', (t) => {
  t.is(splitDevT(0x810n), '8:16');
  t.is(splitDevT(0x703n), '7:3');
  // makedev(259, 1048575): ((259 & 0xfff) << 8) | ((1048575 & ~0xff) << 12) | (1048575 & 0xff)
  t.is(splitDevT((259n << 8n) | ((1048575n & ~0xffn) << 12n) | (1048575n & 0xffn)), '259:1048575');
  t.is(splitDevT((4096n << 32n) | 5n), '4096:5');
});

test('sysfs: a disk is itself, a partition gives its disk, an unknown number or a non-block file is refused', (t) => {
  const sys = tmp(t);
  const disk = path.join(sys, 'devices/virtual/block/vdb');
  mkdirSync(path.join(disk, 'vdb1'), { recursive: true });
  writeFileSync(path.join(disk, 'dev'), '254:16\n');
  writeFileSync(path.join(disk, 'vdb1/dev'), '254:17\n');
  writeFileSync(path.join(disk, 'vdb1/partition'), '1\n');
  mkdirSync(path.join(sys, 'dev/block'), { recursive: true });
  symlinkSync('../../devices/virtual/block/vdb', path.join(sys, 'dev/block/254:16'));
  symlinkSync('../../devices/virtual/block/vdb/vdb1', path.join(sys, 'dev/block/254:17'));
  t.deepEqual(wholeDiskOf('254:16', sys), { device: '254:16' });
  t.deepEqual(wholeDiskOf('254:17', sys), { device: '254:16' });
  t.regex((wholeDiskOf('254:99', sys) as { problem: string }).problem, /no block device 254:99 on this host/);
  t.regex((wholeDiskOf('/dev/null', sys) as { problem: string }).problem, /\/dev\/null is a character device, not a block device/);
  t.regex((wholeDiskOf(sys, sys) as { problem: string }).problem, /is a directory, not a block device/);
  t.regex((wholeDiskOf('/nonexistent/dev', sys) as { problem: string }).problem, /\/nonexistent\/dev: no such file/);
});
