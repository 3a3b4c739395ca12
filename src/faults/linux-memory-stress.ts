// SPDX-License-Identifier: Apache-2.0
/**
 * linux-memory-stress (Harness name and tunables): each worker makes `memory` bytes resident
 * (per worker, as in Harness and stress-ng: total = workers × memory), optionally mlock()ed.
 * The total is bounded by `maxMemoryFraction` of MemAvailable so the host keeps room to live.
 */
import { z } from 'zod';

import { CAP, hasCapability } from '../host/facts.js';
import { formatBytes, parseByteAmount } from '../units.js';
import { booleanParam, numberParam, paramsObject, rampUpParam, type Param } from './params.js';
import { planStressor, stressorSupportNotes } from './stressor-fault.js';
import { processRssBytes, revertStressor, StressorRevertSchema } from './stressor-process.js';
import { defineInjector, memoryBudgetBytes, type ParamDoc, type ValidationContext } from './types.js';

/** Harness's default (`256m`). */
const DEFAULT_MEMORY = '256Mi';
/** Smallest useful amount: one page per worker is not a fault. */
const MIN_BYTES = 1024 * 1024;
/** Memory workers are threads; more than this only adds contention. */
const MAX_WORKERS = 64;

function params(ctx: ValidationContext) {
  const limit = memoryBudgetBytes(ctx);
  const fraction = `${Math.round(ctx.limits.maxMemoryFraction * 100)} % of MemAvailable`;
  const memoryDoc: ParamDoc = {
    name: 'memory',
    type: 'size',
    default: DEFAULT_MEMORY,
    bounds: `1Mi–${formatBytes(limit)} in total over all workers (${fraction})`,
    description: 'memory per worker: bytes, "512Mi", "2Gi", Harness "256m"/"1G", or "35%" of total memory',
  };
  const memory = z
    .union([z.string(), z.number()], { error: 'must be a size like "512Mi", "2Gi", "35%" or bytes' })
    .optional()
    .transform((v, c) => {
      const amount = parseByteAmount(v ?? DEFAULT_MEMORY);
      if (!amount) {
        c.addIssue({ code: 'custom', message: 'must be a size like "512Mi", "2Gi", "256m", "35%" or a number of bytes' });
        return z.NEVER;
      }
      return 'bytes' in amount ? amount.bytes : Math.floor((ctx.host.memTotalBytes * amount.percent) / 100);
    });
  return {
    memory: { schema: memory, doc: memoryDoc } satisfies Param<number>,
    workers: numberParam({
      name: 'workers', min: 1, max: MAX_WORKERS, default: 1, integer: true,
      description: 'worker threads, each holding `memory` bytes',
    }),
    lock: booleanParam({ name: 'lock', default: false, description: 'mlock the memory so it cannot be swapped (needs CAP_IPC_LOCK)' }),
    rampUp: rampUpParam('resident memory (from 0 to the target)'),
  };
}

export const linuxMemoryStress = defineInjector({
  kind: 'linux-memory-stress',
  summary: 'Hold an exact amount of resident memory on the host',
  paramAliases: { MEMORY: 'memory', WORKERS: 'workers', LOCK: 'lock', RAMP_UP: 'rampUp' },
  paramsSchema(ctx) {
    const limit = memoryBudgetBytes(ctx);
    return paramsObject(params(ctx)).superRefine((v, c) => {
        const total = v.memory * v.workers;
        if (v.memory < MIN_BYTES || total > limit) {
          c.addIssue({
            code: 'custom',
            path: ['memory'],
            input: v.memory,
            message: `${formatBytes(v.memory)} × ${v.workers} worker(s) = ${formatBytes(total)} is outside 1Mi–${formatBytes(limit)} (${Math.round(ctx.limits.maxMemoryFraction * 100)} % of MemAvailable ${formatBytes(ctx.host.memAvailableBytes)})`,
          });
        }
        const memlock = ctx.host.memlockBytes;
        if (v.lock && !hasCapability(ctx.host, CAP.IPC_LOCK) && memlock !== null && total > memlock) {
          c.addIssue({
            code: 'custom',
            path: ['lock'],
            input: v.lock,
            message: `needs CAP_IPC_LOCK, or RLIMIT_MEMLOCK of at least ${formatBytes(total)} (it is ${formatBytes(memlock)})`,
          });
        }
      });
  },
  paramDocs: (ctx) => Object.values(params(ctx)).map((p) => p.doc),
  memoryBytes: (p) => p.memory * p.workers,
  revertSchema: StressorRevertSchema,
  plan(faultId, p, ctx) {
    const args = [`--workers=${p.workers}`, `--bytes-per-worker=${p.memory}`];
    if (p.lock) args.push('--lock');
    if (p.rampUp > 0) args.push(`--ramp-up-ms=${p.rampUp}`);
    const total = p.memory * p.workers;
    const target = `${formatBytes(total)} resident${p.lock ? ', locked' : ''}`;
    return planStressor(faultId, 'memory', args, target, ctx, (handle) => async () => {
      const rss = await processRssBytes(ctx.procRoot, handle.pid);
      return rss === undefined ? 'stressor gone' : `rss ${formatBytes(rss)} of ${formatBytes(total)}`;
    });
  },
  revert: (record, ctx) => revertStressor(record, ctx),
  support(ctx) {
    const { ok, notes } = stressorSupportNotes(ctx);
    const memlock = ctx.native.memlockLimit();
    const lockOk = hasCapability(ctx.host, CAP.IPC_LOCK) || memlock.soft === null;
    return {
      supported: ok,
      notes: [
        `MemAvailable ${formatBytes(ctx.host.memAvailableBytes)}; at most ${formatBytes(memoryBudgetBytes(ctx))} (${Math.round(ctx.limits.maxMemoryFraction * 100)} %) may be stressed`,
        lockOk
          ? '`lock: true` supported (CAP_IPC_LOCK or unlimited RLIMIT_MEMLOCK)'
          : `\`lock: true\` limited to RLIMIT_MEMLOCK ${formatBytes(memlock.soft ?? 0)} (no CAP_IPC_LOCK)`,
        ...notes,
      ],
    };
  },
});
