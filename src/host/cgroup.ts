// SPDX-License-Identifier: Apache-2.0
/**
 * cgroup mode detection (v1, hybrid, v2) and the per-fault cgroups that hold a stressor process.
 * Node already has mkdir/write/rmdir, so this lives in TS with an injectable root (STYLE.md D3).
 *
 * Placement: a child `faultd-<faultId>` of faultd's own cgroup, in the v1 `cpu` and `memory`
 * hierarchies (hybrid/v1) or in the unified hierarchy (v2). Our own cgroup is the only place we
 * know we may write (a systemd service with Delegate=, or a shell's scope); a new child there
 * carries no controller of its own, so it never tightens anything: it groups the stressor for
 * accounting and for a revert that must find every process.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { rmdir } from 'node:fs/promises';
import path from 'node:path';

export type CgroupMode = 'v1' | 'hybrid' | 'v2' | 'none';

export interface CgroupLayout {
  readonly mode: CgroupMode;
  /** Mount point per v1 controller (`cpu`, `memory`, ...) and `unified` for the v2 hierarchy. */
  readonly mounts: ReadonlyMap<string, string>;
  /** This process's cgroup path per controller (`''` key = v2 unified). */
  readonly ownPaths: ReadonlyMap<string, string>;
}

/** Parses /proc/self/mountinfo lines of fstype cgroup/cgroup2 into controller → mount point. */
export function parseCgroupMounts(mountinfo: string): Map<string, string> {
  const mounts = new Map<string, string>();
  for (const line of mountinfo.split('\n')) {
    const [pre, post] = line.split(' - ');
    if (!pre || !post) continue;
    const mountPoint = pre.split(' ')[4];
    const [fstype, , superOptions] = post.split(' ');
    if (!mountPoint) continue;
    if (fstype === 'cgroup2') mounts.set('unified', mountPoint);
    if (fstype === 'cgroup') {
      for (const option of (superOptions ?? '').split(',')) {
        if (['cpu', 'cpuacct', 'memory', 'cpuset', 'pids', 'freezer', 'blkio'].includes(option)) {
          mounts.set(option, mountPoint);
        }
      }
    }
  }
  return mounts;
}

/** Parses /proc/<pid>/cgroup (`id:controllers:path`) into controller → path; v2 under ''. */
export function parseProcCgroup(text: string): Map<string, string> {
  const paths = new Map<string, string>();
  for (const line of text.split('\n')) {
    const match = /^\d+:([^:]*):(.*)$/.exec(line);
    if (!match) continue;
    const controllers = match[1] ?? '';
    const cgroupPath = match[2] ?? '/';
    if (controllers === '') paths.set('', cgroupPath);
    for (const controller of controllers.split(',')) if (controller) paths.set(controller, cgroupPath);
  }
  return paths;
}

export function detectCgroupLayout(procRoot = '/proc'): CgroupLayout {
  let mounts = new Map<string, string>();
  let ownPaths = new Map<string, string>();
  try {
    mounts = parseCgroupMounts(readFileSync(path.join(procRoot, 'self/mountinfo'), 'utf8'));
    ownPaths = parseProcCgroup(readFileSync(path.join(procRoot, 'self/cgroup'), 'utf8'));
  } catch {
    return { mode: 'none', mounts, ownPaths };
  }
  const hasV1 = mounts.has('memory') || mounts.has('cpu');
  const hasV2 = mounts.has('unified');
  const mode: CgroupMode = hasV1 && hasV2 ? 'hybrid' : hasV1 ? 'v1' : hasV2 ? 'v2' : 'none';
  return { mode, mounts, ownPaths };
}

/** The directories a fault's stressor cgroup would occupy (one per hierarchy used). */
export function stressCgroupDirs(layout: CgroupLayout, faultId: string): string[] {
  const name = `faultd-${faultId}`;
  const dirs: string[] = [];
  const hierarchies = layout.mode === 'v2' ? [['unified', '']] : [['cpu', 'cpu'], ['memory', 'memory']];
  for (const [mountKey, pathKey] of hierarchies) {
    const mount = layout.mounts.get(mountKey ?? '');
    const own = layout.ownPaths.get(pathKey ?? '');
    if (mount && own !== undefined) dirs.push(path.join(mount, own, name));
  }
  return dirs;
}

/*
 * Creating and joining cgroups is synchronous: each is one small cgroupfs call on the apply
 * path, and the libuv pool's queueing would only add latency on a busy host.
 */

/** Creates `dirs` (idempotent); returns the ones it could create, with why not for the others. */
export function createCgroups(dirs: readonly string[]): { created: string[]; skipped: string[] } {
  const created: string[] = [];
  const skipped: string[] = [];
  for (const dir of dirs) {
    try {
      mkdirSync(dir);
      created.push(dir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') created.push(dir);
      else skipped.push(`${dir}: ${(error as Error).message}`);
    }
  }
  return { created, skipped };
}

/** Moves `pid` into each cgroup. Equivalent to: `echo <pid> > <dir>/cgroup.procs`. */
export function moveIntoCgroups(dirs: readonly string[], pid: number): void {
  for (const dir of dirs) writeFileSync(path.join(dir, 'cgroup.procs'), `${pid}\n`);
}

/**
 * Removes a cgroup directory; `true` when it is gone (or never existed). EBUSY (a process is
 * still exiting) is retried for up to `timeoutMs`.
 */
export async function removeCgroup(dir: string, timeoutMs = 1000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await rmdir(dir);
      return true;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return true;
      if (code !== 'EBUSY' || Date.now() >= deadline) return false;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}
