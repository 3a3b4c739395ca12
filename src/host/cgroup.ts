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
import { closeSync, constants, mkdirSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { rmdir } from 'node:fs/promises';
import path from 'node:path';
import { monotonicMs } from '../monotonic.js';

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
  const deadline = monotonicMs() + timeoutMs;
  for (;;) {
    try {
      await rmdir(dir);
      return true;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return true;
      if (code !== 'EBUSY' || monotonicMs() >= deadline) return false;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}

/**
 * The directories of a pid-exhaustion fault's cgroup: the unified hierarchy (v2, and hybrid
 * for `cgroup.kill`), and on v1/hybrid the `pids` (count and cap) and `freezer` (freeze +
 * kill) hierarchies.
 */
export function pidCgroupDirs(layout: CgroupLayout, faultId: string): string[] {
  const name = `faultd-${faultId}`;
  const hierarchies = layout.mode === 'v2' ? [['unified', '']] : [['pids', 'pids'], ['freezer', 'freezer'], ['unified', '']];
  const dirs: string[] = [];
  for (const [mountKey, pathKey] of hierarchies) {
    const mount = layout.mounts.get(mountKey ?? '');
    const own = layout.ownPaths.get(pathKey ?? '');
    if (mount && own !== undefined) dirs.push(path.join(mount, own, name));
  }
  return dirs;
}

/**
 * Writes a control file that must already exist (no O_CREAT: a cgroup without that interface
 * fails with ENOENT instead of getting a plain file; write-only, as kernfs refuses to open a
 * file without a read handler, such as cgroup.kill, for reading).
 */
function writeControl(file: string, text: string): void {
  const fd = openSync(file, constants.O_WRONLY);
  try {
    writeSync(fd, text);
  } finally {
    closeSync(fd);
  }
}

/** A limited pids cgroup: `pids.max` and `pids.current`. */
export interface PidsLimit {
  readonly dir: string;
  readonly max: number;
  readonly current: number;
}

function readNumberFile(file: string): number | 'max' | undefined {
  try {
    const text = readFileSync(file, 'utf8').trim();
    if (text === 'max') return 'max';
    const value = Number(text);
    return Number.isSafeInteger(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Every limited `pids.max` on the way from faultd's own pids cgroup up to the root (v1 `pids`
 * hierarchy, or the unified one when it carries the pids controller): a child cgroup can hold
 * no more than the tightest of them allows.
 */
export function ownPidsLimits(layout: CgroupLayout): PidsLimit[] {
  const [mountKey, pathKey] = layout.mounts.has('pids') ? ['pids', 'pids'] : ['unified', ''];
  const mount = layout.mounts.get(mountKey);
  const own = layout.ownPaths.get(pathKey);
  if (!mount || own === undefined) return [];
  const limits: PidsLimit[] = [];
  for (let rel = path.posix.normalize(own); ; rel = path.posix.dirname(rel)) {
    const dir = path.join(mount, rel);
    const max = readNumberFile(path.join(dir, 'pids.max'));
    const current = readNumberFile(path.join(dir, 'pids.current'));
    if (typeof max === 'number' && typeof current === 'number') limits.push({ dir, max, current });
    if (rel === '/' || rel === '.') return limits;
  }
}

/**
 * Writes `pids.max` of a v1/v2 cgroup that has the pids controller; false when it has none.
 * Equivalent to: `echo <max> > <dir>/pids.max`.
 */
export function setPidsMax(dir: string, max: number): boolean {
  try {
    writeControl(path.join(dir, 'pids.max'), `${max}\n`);
    return true;
  } catch {
    return false;
  }
}

/** Tasks (threads) in a cgroup: `tasks` (v1) or `cgroup.threads` (v2); 0 when it does not exist. Equivalent to: `wc -l <dir>/tasks`. */
export function cgroupTaskCount(dir: string): number {
  for (const file of ['tasks', 'cgroup.threads']) {
    try {
      return readFileSync(path.join(dir, file), 'utf8').split('\n').filter(Boolean).length;
    } catch {
      // the other file, or gone
    }
  }
  return 0;
}

/**
 * Kills every process of a cgroup at once: `cgroup.kill` (v2, Linux 5.14+) or, in a v1
 * `freezer` cgroup, freeze → SIGKILL each member → thaw (frozen members cannot fork or exit in
 * between, so no pid is missed or reused). Returns the mechanism used, or undefined when `dir`
 * offers neither (or is gone). Equivalent to: `echo 1 > <dir>/cgroup.kill`, or `echo FROZEN >
 * <dir>/freezer.state; xargs kill -9 < <dir>/cgroup.procs; echo THAWED > <dir>/freezer.state`.
 */
export async function killCgroup(dir: string, timeoutMs = 1000): Promise<'cgroup.kill' | 'freezer' | undefined> {
  try {
    writeControl(path.join(dir, 'cgroup.kill'), '1\n');
    return 'cgroup.kill';
  } catch {
    // not v2, or a kernel before 5.14: try the v1 freezer
  }
  const state = path.join(dir, 'freezer.state');
  try {
    writeControl(state, 'FROZEN\n');
  } catch {
    return undefined;
  }
  try {
    const deadline = monotonicMs() + timeoutMs;
    while (readFileSync(state, 'utf8').trim() !== 'FROZEN' && monotonicMs() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    for (const line of readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').split('\n')) {
      if (!line) continue;
      try {
        process.kill(Number(line), 'SIGKILL');
      } catch {
        // already gone
      }
    }
  } catch {
    // the cgroup went away meanwhile: nothing is left in it to kill
  } finally {
    // Thawed whatever happened: a frozen cgroup must never be left behind.
    try {
      writeControl(state, 'THAWED\n');
    } catch {
      // the cgroup is gone
    }
  }
  return 'freezer';
}
