// SPDX-License-Identifier: Apache-2.0
/**
 * `faultd revert --remnants`: reverts every fault the ledger still shows as possibly applied
 * (`intent`, `applied` or `revert-failed`). Applied faults owned by a faultd process that is
 * still alive are left to it unless `force` is set, so a second faultd never yanks a running
 * experiment; a `revert-failed` one is reverted whoever recorded it. Idempotent: a second call finds nothing to do. What was reverted is also
 * written to `recovered.jsonl` (recovered.ts) for the agent's interrupted-run results.
 */
import type { Logger } from 'pino';

import type { Registry } from '../faults/registry.js';
import type { FaultContext } from '../faults/types.js';
import { isUnresolved, type Ledger } from '../ledger/ledger.js';
import type { FaultEntry } from '../ledger/record.js';
import { recordRecovered } from './recovered.js';
import { revertAndRecord, type RevertReport } from './revert.js';

export interface RemnantReport {
  /** The run that applied the fault. */
  readonly runId: string;
  readonly faultId: string;
  readonly kind: string;
  readonly target: string;
  readonly result: RevertReport | { skipped: string };
}

/** True while the process that wrote the fault's intent still runs (same boot, same start). */
export function ownerAlive(entry: FaultEntry, ctx: FaultContext): boolean {
  const { owner, bootId } = entry.intent;
  if (bootId !== ctx.host.bootId || owner.pid === process.pid) return false;
  return ctx.native.killProcess(owner.pid, owner.startTime, 0) === 'signalled';
}

export async function revertRemnants(
  ledger: Ledger,
  registry: Registry,
  ctx: FaultContext,
  logger: Logger,
  options: { force: boolean },
): Promise<RemnantReport[]> {
  const reports: RemnantReport[] = [];
  for (const entry of (await ledger.entries()).values()) {
    if (!isUnresolved(entry)) continue;
    const { kind, target } = entry.intent;
    const base = { runId: entry.intent.runId, faultId: entry.faultId, kind, target };
    const faultLogger = logger.child({ faultId: entry.faultId, kind });
    // A failed revert is nobody's work in progress: anyone may finish it, even while its owner runs.
    if (!options.force && entry.state !== 'revert-failed' && ownerAlive(entry, ctx)) {
      const why = `owned by running faultd pid ${entry.intent.owner.pid}; use --force to revert anyway`;
      faultLogger.warn({ owner: entry.intent.owner }, `remnant ${why}, skipping`);
      reports.push({ ...base, result: { skipped: why } });
      continue;
    }
    const module = registry.get(kind);
    if (!module) {
      const leftover = `fault of unknown kind "${kind}" (written by another faultd version)`;
      await ledger.append({
        event: 'revert-failed',
        faultId: entry.faultId,
        error: { code: 'FAULTD_ERR_REVERT_FAILED', message: leftover },
        leftover,
        manualFix: 'revert it with the faultd version that applied it',
      });
      reports.push({ ...base, result: { ok: false, detail: leftover, leftover, manualFix: 'use the faultd version that applied it' } });
      continue;
    }
    // After a reboot, volatile state (qdiscs, nf_tables, processes, cgroups) is found gone and
    // recorded as already-absent; state on disk (a fill file) is removed.
    const earlierBoot = entry.intent.bootId !== ctx.host.bootId;
    faultLogger.info({ state: entry.state, target, ...(earlierBoot ? { bootId: entry.intent.bootId } : {}) }, earlierBoot ? 'reverting remnant of an earlier boot' : 'reverting remnant');
    reports.push({ ...base, result: await revertAndRecord(ledger, module, entry.faultId, entry.revert, { ...ctx, logger: faultLogger }, faultLogger) });
  }
  // For the agent that starts next: it reports these in the interrupted runs' results.
  recordRecovered(ledger.stateDir, reports);
  return reports;
}
