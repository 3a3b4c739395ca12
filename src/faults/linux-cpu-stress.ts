// SPDX-License-Identifier: Apache-2.0
/**
 * linux-cpu-stress (Harness name and tunables): `workers` threads each hold `load` % of one CPU,
 * regulated on the CPU time they actually receive (native/core/duty_cycle.h).
 */
import { cpuListParam, numberParam, paramsObject, rampUpParam } from './params.js';
import { planStressor, stressorSupportNotes } from './stressor-fault.js';
import { processRunTimeNs, revertStressor, StressorRevertSchema } from './stressor-process.js';
import { defineInjector, type ValidationContext } from './types.js';

/** Duty-cycle period: 100 ms measurement windows hold exactly ten periods. */
const PERIOD_US = 10_000;

function params(ctx: ValidationContext) {
  const online = ctx.host.onlineCpus;
  return {
    load: numberParam({
      name: 'load', min: 0, max: 100, default: 100, unit: '%',
      description: 'CPU load per worker, as % of one CPU (0 = idle workers, 100 = full)',
    }),
    workers: numberParam({
      name: 'workers', min: 0, max: online.length, default: 1, integer: true, maxWhy: 'usable CPUs',
      description: 'worker threads; 0 = one per usable CPU (online and in faultd\'s affinity mask)',
    }),
    cpus: cpuListParam({ name: 'cpus', online, description: 'pin workers round-robin to these CPUs (YAML list or "0-1,3")' }),
    rampUp: rampUpParam('load (from 0 to `load`)'),
  };
}

export const linuxCpuStress = defineInjector({
  kind: 'linux-cpu-stress',
  summary: 'Burn an exact share of CPU on the host',
  paramAliases: { LOAD: 'load', WORKERS: 'workers', CPUS: 'cpus', RAMP_UP: 'rampUp' },
  paramsSchema(ctx) {
    return paramsObject(params(ctx)).transform((v) => ({ ...v, workers: v.workers === 0 ? ctx.host.onlineCpus.length : v.workers }));
  },
  paramDocs: (ctx) => Object.values(params(ctx)).map((p) => p.doc),
  revertSchema: StressorRevertSchema,
  plan(faultId, p, ctx) {
    const args = [`--workers=${p.workers}`, `--load-pct=${p.load}`, `--period-us=${PERIOD_US}`];
    if (p.cpus) args.push(`--cpus=${p.cpus.join(',')}`);
    if (p.rampUp > 0) args.push(`--ramp-up-ms=${p.rampUp}`);
    const target = `${p.workers} worker(s) at ${p.load}%${p.cpus ? ` on CPU ${p.cpus.join(',')}` : ''}`;
    return planStressor(faultId, 'cpu', args, target, ctx, (handle) => {
      let last: { ns: number; at: bigint } | undefined;
      return async () => {
        const ns = await processRunTimeNs(ctx.procRoot, handle.pid);
        const at = process.hrtime.bigint();
        if (ns === undefined) return 'stressor gone';
        const previous = last;
        last = { ns, at };
        if (!previous) return 'measuring';
        const pct = (100 * (ns - previous.ns)) / Number(at - previous.at) / p.workers;
        return `cpu ${pct.toFixed(1)}%/worker`;
      };
    });
  },
  revert: (record, ctx) => revertStressor(record, ctx),
  support(ctx) {
    const { ok, notes } = stressorSupportNotes(ctx);
    return { supported: ok, notes: [`${ctx.host.onlineCpus.length} usable CPUs (${ctx.host.onlineCpus.join(',')})`, ...notes] };
  },
});
