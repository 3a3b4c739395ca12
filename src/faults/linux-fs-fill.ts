// SPDX-License-Identifier: Apache-2.0
/**
 * linux-fs-fill (Harness name and tunables): fills the filesystem holding `fillPath` by
 * `fillStorage` bytes, with the fill file, safety rules, `keepFree` reserve and revert of
 * linux-disk-fill (one fallocate'd file recorded before it is created, deleted and checked
 * gone at revert, found again after a reboot). On a tmpfs or ramfs the bytes are RAM and count
 * against the memory budget, as in linux-disk-fill.
 */
import { filesystemKey } from './filesystem.js';
import { DiskFillRevertSchema, fillDirectoryParam, fillKeepFreeParam, fillMemoryBytes, fillMemoryProblem, fillSizeParam, planFill, revertFill, type FillFieldNames } from './linux-disk-fill.js';
import { paramsObject, type Param } from './params.js';
import { defineInjector } from './types.js';

const NAMES: FillFieldNames = { path: 'fillPath', size: 'fillStorage' };

function params() {
  const fillStorage = fillSizeParam('fillStorage', 'bytes to fill: plain bytes, or k/K/KB, m/M/MB, g/G/GB (binary: 1K = 1024)');
  return {
    fillPath: fillDirectoryParam('fillPath'),
    fillStorage: { ...fillStorage, schema: fillStorage.schema.refine((v) => v !== undefined, { error: 'is required: a size like "100M" or "1G"' }) } as Param<number>,
    keepFree: fillKeepFreeParam(),
  };
}

export const linuxFsFill = defineInjector({
  kind: 'linux-fs-fill',
  summary: 'Fill the filesystem of a directory by a size, never past a reserve of free space',
  paramAliases: { FILL_PATH: 'fillPath', FILL_STORAGE: 'fillStorage', KEEP_FREE: 'keepFree' },
  paramsSchema: (ctx) =>
    paramsObject(params()).superRefine((v, c) => {
      const memory = fillMemoryProblem({ path: v.fillPath, size: v.fillStorage, keepFree: v.keepFree }, ctx, NAMES);
      if (memory) c.addIssue({ code: 'custom', path: [memory.field], message: memory.message });
    }),
  paramDocs: () => Object.values(params()).map((p) => p.doc),
  memoryBytes: (p) => fillMemoryBytes({ path: p.fillPath, size: p.fillStorage, keepFree: p.keepFree }),
  exclusiveTargets: (p) => [filesystemKey(p.fillPath)],
  revertSchema: DiskFillRevertSchema,
  plan: (faultId, p, ctx) => planFill(faultId, { path: p.fillPath, size: p.fillStorage, keepFree: p.keepFree }, ctx, NAMES),
  revert: (record, ctx) => revertFill(record, ctx),
  support: () => ({ supported: true, notes: ['the linux-disk-fill machinery: fallocate(2) where the filesystem has it, else random bytes written in 4 MiB chunks (incompressible)'] }),
});
