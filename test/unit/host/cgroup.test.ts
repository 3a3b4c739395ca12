// SPDX-License-Identifier: Apache-2.0
import test from 'ava';

import { parseCgroupMounts, parseProcCgroup, stressCgroupDirs } from '../../../src/host/cgroup.js';
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
