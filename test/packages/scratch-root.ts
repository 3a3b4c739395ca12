// SPDX-License-Identifier: Apache-2.0
/**
 * A scratch root for installing a package without booting it: an overlay over the system
 * suite's cached Debian rootfs (which has a shell, coreutils and systemctl for the scripts, and no
 * Node), its upper layer on a tmpfs of its own, /proc and a read-only /sys mounted inside (faultd
 * reads /proc/meminfo and /sys/devices/system/cpu/online). remove() unmounts all of it
 * and deletes the directory.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

function run(command: string, args: readonly string[]): void {
  const result = spawnSync(command, args, { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed: ${result.stderr || result.error?.message || result.status}`);
}

export class ScratchRoot {
  readonly dir: string;
  readonly root: string;

  private constructor(dir: string) {
    this.dir = dir;
    this.root = path.join(dir, 'merged');
  }

  static create(rootfs: string): ScratchRoot {
    const scratch = new ScratchRoot(mkdtempSync(path.join(tmpdir(), 'faultd-scratch-')));
    try {
      run('mount', ['-t', 'tmpfs', '-o', 'size=1g,mode=0700', 'faultd-scratch', scratch.dir]);
      for (const sub of ['upper', 'work', 'merged']) mkdirSync(path.join(scratch.dir, sub));
      run('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${rootfs},upperdir=${scratch.dir}/upper,workdir=${scratch.dir}/work`, scratch.root]);
      run('mount', ['-t', 'proc', 'proc', path.join(scratch.root, 'proc')]);
      run('mount', ['-t', 'sysfs', '-o', 'ro', 'sysfs', path.join(scratch.root, 'sys')]);
    } catch (error) {
      scratch.remove();
      throw error;
    }
    return scratch;
  }

  /** A path inside the root. */
  at(inside: string): string {
    return path.join(this.root, inside);
  }

  remove(): void {
    for (const mount of [this.at('proc'), this.at('sys'), this.root, this.dir]) {
      if (spawnSync('mountpoint', ['-q', mount]).status === 0) spawnSync('umount', [mount]);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
