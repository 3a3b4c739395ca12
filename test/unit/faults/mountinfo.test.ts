// SPDX-License-Identifier: Apache-2.0
import test from 'ava';

import { mountHolding, mounts } from '../../../src/faults/linux-disk-fill.js';

const MOUNTINFO = [
  '22 1 259:1 / / rw,relatime shared:1 - ext4 /dev/vda rw',
  '40 22 0:35 / /mnt/data rw shared:20 - xfs /dev/sdb1 rw',
  '41 40 0:36 / /mnt/data/with\\040space rw - tmpfs tmp rw,size=65536k',
  '42 22 0:50 / /srv/nfs rw master:3 - nfs4 fileserver:/export rw',
  '',
].join('\n');

test('mountinfo is read with its optional fields and octal escapes', (t) => {
  const table = mounts(MOUNTINFO);
  t.is(table.length, 4);
  t.deepEqual(table[2], { point: '/mnt/data/with space', fstype: 'tmpfs', source: 'tmp' });
  t.deepEqual(table[3], { point: '/srv/nfs', fstype: 'nfs4', source: 'fileserver:/export' });
});

test('the mount holding a directory is the deepest one over it, whole path components only', (t) => {
  const table = mounts(MOUNTINFO);
  t.is(mountHolding('/mnt/data/with space/a', table).fstype, 'tmpfs');
  t.is(mountHolding('/mnt/data/x', table).fstype, 'xfs');
  t.is(mountHolding('/mnt/database', table).fstype, 'ext4', '/mnt/data is not a prefix of /mnt/database');
  t.is(mountHolding('/srv/nfs', table).source, 'fileserver:/export');
});
