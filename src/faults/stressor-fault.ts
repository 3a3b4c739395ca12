// SPDX-License-Identifier: Apache-2.0
/**
 * What the CPU, memory and disk I/O stress faults share: the revert record, the plan's cgroup placement
 * and dry-run text, the live measurement loop and the doctor checks of the stressor.
 */
import { accessSync, constants } from 'node:fs';

import { stressCgroupDirs } from '../host/cgroup.js';
import { missingStressor, startStressor, stressorArgv, type StressorHandle, type StressorRevert } from './stressor-process.js';
import type { ActiveFault, FaultContext, Planned } from './types.js';

/** How often the live measurement is refreshed. */
const MEASURE_INTERVAL_MS = 250;

/**
 * Plans a stressor fault. `measure` builds the live measurement of the started stressor;
 * `inheritFds`, read when it starts, are open descriptors it gets as 3, 4, … (io's --files-open).
 */
export function planStressor(
  faultId: string,
  mode: 'cpu' | 'memory' | 'io',
  args: readonly string[],
  target: string,
  ctx: FaultContext,
  measure: (handle: StressorHandle) => () => Promise<string>,
  inheritFds: () => readonly number[] = () => [],
): Planned<StressorRevert> {
  const cgroups = ctx.host.isRoot ? stressCgroupDirs(ctx.cgroups, faultId) : [];
  const argv = ['faultd-stressor', ...stressorArgv(faultId, mode, args)].join(' ');
  return {
    target,
    changes: [
      `start process: ${argv} (oom_score_adj=1000, killed if faultd dies)`,
      ...(cgroups.length > 0
        ? cgroups.map((dir) => `create cgroup ${dir} and move the stressor into it`)
        : ['no cgroup placement (needs root and a cgroup hierarchy)']),
    ],
    revertSteps: [
      'SIGTERM the stressor (verified by pid and start time), SIGKILL after 300 ms',
      ...cgroups.map((dir) => `remove cgroup ${dir}`),
    ],
    revert: { tag: faultId, bootId: ctx.host.bootId, cgroups },
    async apply(recordApplied, signal) {
      const handle = await startStressor(this.revert, mode, args, ctx, recordApplied, signal, undefined, undefined, inheritFds());
      return activeStressor(handle, measure(handle));
    },
  };
}

/** Wraps a running stressor as an ActiveFault with a periodically refreshed measurement. */
export function activeStressor(handle: StressorHandle, sample: () => Promise<string>): ActiveFault {
  let latest = 'starting';
  let sampling = false;
  const timer = setInterval(() => {
    if (sampling) return;
    sampling = true;
    void sample()
      .then((text) => (latest = text))
      .finally(() => (sampling = false));
  }, MEASURE_INTERVAL_MS);
  timer.unref();
  void handle.exit.finally(() => clearInterval(timer));
  return { measure: () => latest, ended: handle.exit.then((why) => `stressor exited: ${why}`) };
}

/** Doctor notes common to the stress faults. */
export function stressorSupportNotes(ctx: FaultContext): { ok: boolean; notes: string[] } {
  const notes: string[] = [];
  let ok = true;
  try {
    accessSync(ctx.stressorPath, constants.X_OK);
    notes.push(`stressor: ${ctx.stressorPath}`);
  } catch (error) {
    ok = false;
    notes.push(missingStressor(ctx.stressorPath, error).message);
  }
  if (!ctx.host.isRoot) notes.push('not root: the stressor runs without its own cgroup');
  else if (ctx.cgroups.mode === 'none') notes.push('no cgroup hierarchy mounted: the stressor runs without its own cgroup');
  else notes.push(`cgroups ${ctx.cgroups.mode}: stressor placed in ${stressCgroupDirs(ctx.cgroups, '<fault-id>').join(', ')}`);
  return { ok, notes };
}
