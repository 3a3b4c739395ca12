// SPDX-License-Identifier: Apache-2.0
import test from 'ava';

import { describeMount, mountHolding, parseMountinfo, sameMount } from '../../../src/host/mounts.js';

const MOUNTINFO = [
  '22 1 259:1 / / rw,relatime shared:1 - ext4 /dev/vda rw',
  '40 22 0:35 / /mnt/data rw shared:20 - xfs /dev/sdb1 rw',
  '41 40 0:36 / /mnt/data/with\\040space rw - tmpfs tmp rw,size=65536k',
  '42 22 0:50 / /srv/nfs rw master:3 - nfs4 fileserver:/export rw',
  '43 22 259:1 /srv/data /data rw - ext4 /dev/vda rw',
  '',
].join('\n');

test('mountinfo is read with its optional fields, octal escapes and the root of bind mounts', (t) => {
  const table = parseMountinfo(MOUNTINFO);
  t.is(table.length, 5);
  t.deepEqual(table[2], { point: '/mnt/data/with space', fstype: 'tmpfs', source: 'tmp', root: '/' });
  t.deepEqual(table[3], { point: '/srv/nfs', fstype: 'nfs4', source: 'fileserver:/export', root: '/' });
  t.is(describeMount(table[4] ?? { point: '', fstype: '', source: '', root: '' }), 'ext4 /dev/vda (its /srv/data) on /data');
});

test('the mount holding a directory is the deepest one over it, whole path components only; a bind mount is not its origin', (t) => {
  const table = parseMountinfo(MOUNTINFO);
  t.is(mountHolding('/mnt/data/with space/a', table)?.fstype, 'tmpfs');
  t.is(mountHolding('/mnt/data/x', table)?.fstype, 'xfs');
  t.is(mountHolding('/mnt/database', table)?.fstype, 'ext4', '/mnt/data is not a prefix of /mnt/database');
  const bind = mountHolding('/data/x', table);
  const root = mountHolding('/srv/data/x', table);
  t.truthy(bind && root);
  t.false(sameMount(bind ?? root ?? { point: '', fstype: '', source: '', root: '' }, root ?? { point: '', fstype: '', source: '', root: '' }), 'same device, another directory of it');
});

test('in a chroot whose root is not a mount point, no mount holds a path', (t) => {
  t.is(mountHolding('/x', parseMountinfo('40 22 0:35 / /mnt/data rw - xfs /dev/sdb1 rw\n')), undefined);
});
