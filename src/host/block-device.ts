// SPDX-License-Identifier: Apache-2.0
/**
 * Block devices by number: a device node's `MAJ:MIN` from stat's rdev (glibc's dev_t encoding),
 * and the whole disk holding a partition (from sysfs, `/sys/dev/block/MAJ:MIN`). The kernel's
 * I/O throttling (blkio v1, io.max v2) takes whole disks only: a partition's number is refused
 * with ENODEV there, so a partition is resolved to its disk.
 */
import { existsSync, readFileSync, realpathSync, statSync } from 'node:fs';
import path from 'node:path';

/** The device number `MAJ:MIN` a device node names, or why it names none. */
export type DeviceNumber = { readonly device: string } | { readonly problem: string };

const MAJ_MIN = /^(\d+):(\d+)$/;

/** `major:minor` of a dev_t (the encoding of glibc's gnu_dev_major/gnu_dev_minor). */
export function splitDevT(rdev: bigint): string {
  const major = ((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & 0xfffff000n);
  const minor = (rdev & 0xffn) | ((rdev >> 12n) & 0xffffff00n);
  return `${major}:${minor}`;
}

/**
 * The whole disk's `MAJ:MIN` for `spec`: a block device node (symbolic links followed, so
 * /dev/disk/by-id/… works) or a `MAJ:MIN` text; a partition gives its disk.
 */
export function wholeDiskOf(spec: string, sysRoot = '/sys'): DeviceNumber {
  let device: string;
  if (MAJ_MIN.test(spec)) {
    device = spec;
  } else {
    let stat;
    try {
      stat = statSync(spec, { bigint: true });
    } catch (error) {
      return { problem: `${spec}: ${(error as { code?: string }).code === 'ENOENT' ? 'no such file' : String(error)}` };
    }
    if (!stat.isBlockDevice()) return { problem: `${spec} is ${stat.isCharacterDevice() ? 'a character device' : stat.isDirectory() ? 'a directory' : 'not a device'}, not a block device` };
    device = splitDevT(stat.rdev);
  }
  const sysDir = path.join(sysRoot, 'dev/block', device);
  if (!existsSync(sysDir)) return { problem: `no block device ${device} on this host (${path.join(sysRoot, 'dev/block')} has none)` };
  // A partition's sysfs directory sits inside its disk's and has a `partition` file.
  const real = realpathSync(sysDir);
  if (!existsSync(path.join(real, 'partition'))) return { device };
  return { device: readFileSync(path.join(path.dirname(real), 'dev'), 'utf8').trim() };
}
