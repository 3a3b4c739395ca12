// SPDX-License-Identifier: Apache-2.0
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import test from 'ava';

import { cgroupTaskCount, killCgroup, parseCgroupMounts, parseProcCgroup, setPidsMax, stressCgroupDirs } from '../../../src/host/cgroup.js';
import { parseCpuList } from '../../../src/host/facts.js';

const HYBRID_MOUNTINFO = [
  '30 25 0:26 / /sys/fs/cgroup/unified rw,nosuid - cgroup2 cgroup2 rw',
  '31 25 0:27 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid - cgroup cgroup rw,cpu,cpuacct',
  '32 25 0:28 / /sys/fs/cgroup/memory rw,nosuid - cgroup cgroup rw,memory',
  '33 25 0:29 / / rw - ext4 /dev/vda rw',
].join('\n');

test('hybrid mounts map v1 controllers and the unified hierarchy', (t) => {
  const mounts = parseCgroupMounts(HYBRID_MOUNTINFO);
  t.is(mounts.get('cpu'), '/sys/fs/cgroup/cpu,cpuacct');
  t.is(mounts.get('memory'), '/sys/fs/cgroup/memory');
  t.is(mounts.get('unified'), '/sys/fs/cgroup/unified');
});

test('stress cgroups go under our own cgroup in cpu and memory (v1/hybrid)', (t) => {
  const ownPaths = parseProcCgroup('4:memory:/process_api/abc\n3:cpu,cpuacct:/\n0::/init.scope\n');
  const dirs = stressCgroupDirs({ mode: 'hybrid', mounts: parseCgroupMounts(HYBRID_MOUNTINFO), ownPaths }, 'f1');
  t.deepEqual(dirs, ['/sys/fs/cgroup/cpu,cpuacct/faultd-f1', '/sys/fs/cgroup/memory/process_api/abc/faultd-f1']);
});

test('pure v2 uses the unified hierarchy', (t) => {
  const mounts = parseCgroupMounts('30 25 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw');
  const dirs = stressCgroupDirs({ mode: 'v2', mounts, ownPaths: parseProcCgroup('0::/system.slice/faultd.service\n') }, 'f1');
  t.deepEqual(dirs, ['/sys/fs/cgroup/system.slice/faultd.service/faultd-f1']);
});

test('CPU lists parse ranges and singles', (t) => {
  t.deepEqual(parseCpuList('0-3,8,10-11\n'), [0, 1, 2, 3, 8, 10, 11]);
  t.throws(() => parseCpuList('3-1'));
  t.throws(() => parseCpuList('a'));
});

/** A tmpdir standing in for cgroupfs: one directory per cgroup, with the given control files. */
function fakeCgroup(t: import('ava').ExecutionContext, files: Record<string, string>): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'faultd-cgroup-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
  return dir;
}

test('killCgroup writes cgroup.kill where there is one', async (t) => {
  const dir = fakeCgroup(t, { 'cgroup.kill': '' });
  t.is(await killCgroup(dir), 'cgroup.kill');
  t.is(readFileSync(path.join(dir, 'cgroup.kill'), 'utf8'), '1\n');
});

test('killCgroup on a v1 freezer freezes, SIGKILLs each member, then thaws', async (t) => {
  const member = spawn('sleep', ['30'], { stdio: 'ignore' });
  t.teardown(() => member.kill('SIGKILL'));
  await new Promise((resolve) => member.once('spawn', resolve));
  const dir = fakeCgroup(t, { 'freezer.state': 'THAWED\n', 'cgroup.procs': `${member.pid ?? 0}\n` });
  const killed = new Promise((resolve) => member.once('exit', (_code, signal) => resolve(signal)));
  t.is(await killCgroup(dir), 'freezer');
  t.is(await killed, 'SIGKILL');
  t.is(readFileSync(path.join(dir, 'freezer.state'), 'utf8'), 'THAWED\n', 'thawed again');
});

test('killCgroup and setPidsMax never create control files a cgroup does not have', async (t) => {
  const dir = fakeCgroup(t, {});
  t.is(await killCgroup(dir), undefined);
  t.false(setPidsMax(dir, 10));
  t.false(existsSync(path.join(dir, 'cgroup.kill')));
  t.false(existsSync(path.join(dir, 'pids.max')));
  t.is(await killCgroup(path.join(dir, 'gone')), undefined, 'a cgroup that is gone');
  const limited = fakeCgroup(t, { 'pids.max': 'max\n' });
  t.true(setPidsMax(limited, 594));
  t.is(readFileSync(path.join(limited, 'pids.max'), 'utf8'), '594\n');
});

test('cgroupTaskCount counts v1 tasks or v2 cgroup.threads, 0 when gone', (t) => {
  t.is(cgroupTaskCount(fakeCgroup(t, { tasks: '10\n11\n12\n' })), 3);
  t.is(cgroupTaskCount(fakeCgroup(t, { 'cgroup.threads': '10\n' })), 1);
  t.is(cgroupTaskCount(fakeCgroup(t, { tasks: '' })), 0);
  t.is(cgroupTaskCount('/nonexistent/faultd-x'), 0);
});
