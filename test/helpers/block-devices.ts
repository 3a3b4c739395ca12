// SPDX-License-Identifier: Apache-2.0
/**
 * Block devices a privileged test makes and removes: loop devices over images in a tmpfs it
 * mounts in its workspace (optionally with one MBR partition, for kernels with partition table
 * support), a `dd oflag=direct` writer placed in a cgroup, and the kernel's count of what a
 * device wrote.
 */
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import type { ExecutionContext } from 'ava';

import { moveIntoCgroups } from '../../src/host/cgroup.js';
import type { Workspace } from './cli.js';

export interface LoopDevice {
  /** `/dev/loopN`. */
  readonly node: string;
  /** `loopN`. */
  readonly name: string;
  /** `MAJ:MIN`. */
  readonly device: string;
}

const IMAGE_MIB = 64;

/** A tmpfs in `ws` and `count` loop devices over 64 MiB images in it; with `partitioned`, each image has one MBR partition (`<node>p1`). */
export function loopDevices(t: ExecutionContext, ws: Workspace, count: number, options: { partitioned?: boolean } = {}): LoopDevice[] {
  const dir = path.join(ws.dir, 'tmpfs');
  mkdirSync(dir);
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${count * IMAGE_MIB + 8}M`, 'faultd-test', dir]);
  const loops: LoopDevice[] = [];
  t.teardown(() => {
    for (const loop of loops) execFileSync('losetup', ['-d', loop.node]);
    execFileSync('umount', [dir]);
  });
  for (let i = 0; i < count; i += 1) {
    const image = path.join(dir, `disk${i}.img`);
    execFileSync('truncate', ['-s', `${IMAGE_MIB}M`, image]);
    if (options.partitioned) writeMbr(image, 2048, IMAGE_MIB * 2048 - 4096);
    const node = execFileSync('losetup', ['--find', '--show', ...(options.partitioned ? ['--partscan'] : []), image], { encoding: 'utf8' }).trim();
    const name = path.basename(node);
    loops.push({ node, name, device: readFileSync(`/sys/block/${name}/dev`, 'utf8').trim() });
  }
  return loops;
}

/** An MBR with one Linux partition of `sectors` sectors from `start`, as sfdisk would write it. */
function writeMbr(image: string, start: number, sectors: number): void {
  const mbr = Buffer.alloc(512);
  const entry = 0x1be;
  mbr[entry + 4] = 0x83;
  mbr.writeUInt32LE(start, entry + 8);
  mbr.writeUInt32LE(sectors, entry + 12);
  mbr[510] = 0x55;
  mbr[511] = 0xaa;
  const fd = openSync(image, 'r+');
  writeSync(fd, mbr, 0, 512, 0);
  closeSync(fd);
}

/** A `dd oflag=direct` writing the whole of `node` (64 MiB) over and over, in the cgroup `dir`; killed (its process group) at teardown. */
export function directWriter(t: ExecutionContext, node: string, dir: string): number {
  const dd = spawn('sh', ['-c', `while :; do dd if=/dev/zero of=${node} bs=64k count=1024 oflag=direct status=none; done`], { stdio: 'ignore', detached: true });
  const pid = dd.pid ?? 0;
  moveIntoCgroups([dir], pid);
  t.teardown(() => {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // gone already
    }
  });
  return pid;
}

/** Bytes written to the device per second over `ms`, from /sys/block/<name>/stat (sectors of 512 B). */
export async function deviceWriteRate(name: string, ms: number): Promise<number> {
  const sectors = () => Number(readFileSync(`/sys/block/${name}/stat`, 'utf8').trim().split(/\s+/)[6]);
  const [s0, t0] = [sectors(), process.hrtime.bigint()];
  await sleep(ms);
  return ((sectors() - s0) * 512 * 1e9) / Number(process.hrtime.bigint() - t0);
}
