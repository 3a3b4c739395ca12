// SPDX-License-Identifier: Apache-2.0
/**
 * The mechanism shared by the qdisc-based network faults (tbf rate limit, netem latency, loss,
 * corruption, duplication, reorder): snapshot each interface's root qdisc into the plan (so it
 * is in the ledger's intent before anything changes), install faultd's qdisc as the root, and
 * restore the snapshot exactly at revert.
 */
import { z } from 'zod';

import { txBytes } from '../../host/interfaces.js';
import { RevertError, type ActiveFault, type FaultContext, type Planned, type RevertOutcome } from '../types.js';
import {
  describeRestore,
  faultQdiscHandle,
  formatHandle,
  manualRestore,
  restoreRoot,
  RootSnapshotSchema,
  snapshotRoot,
  TC_H_ROOT,
  type RootSnapshot,
} from './root-qdisc.js';
import { formatRate } from './tc-units.js';

export const RootQdiscRevertSchema = z.object({
  bootId: z.string(),
  /** This fault's root qdisc handle (see faultQdiscHandle). */
  handle: z.number().int().positive(),
  interfaces: z.array(z.object({ name: z.string(), previous: RootSnapshotSchema })),
});
export type RootQdiscRevert = z.infer<typeof RootQdiscRevertSchema>;

export interface RootQdiscRequest {
  readonly faultId: string;
  readonly interfaces: readonly string[];
  readonly kind: 'tbf' | 'netem';
  /** Builds the TCA_OPTIONS attribute (called at apply time). */
  options(): Uint8Array;
  /** What the qdisc does, for --dry-run (`tbf rate 1 Mbit/s …`; the handle is added). */
  readonly describe: string;
  readonly target: string;
  readonly notes?: readonly string[];
}

/** The exclusive resource each interface's root qdisc is. */
export function rootQdiscTargets(interfaces: readonly string[]): string[] {
  return interfaces.map((name) => `netdev:${name}/root-qdisc`);
}

function txRateMeasure(ifname: string): ActiveFault['measure'] {
  let last = { bytes: txBytes(ifname), at: process.hrtime.bigint() };
  return () => {
    const now = { bytes: txBytes(ifname), at: process.hrtime.bigint() };
    const rate = now.bytes !== undefined && last.bytes !== undefined ? ((now.bytes - last.bytes) * 1e9) / Number(now.at - last.at) : undefined;
    last = now;
    return rate === undefined ? `${ifname} gone` : `${ifname} tx ${formatRate(rate)}`;
  };
}

export function planRootQdisc(request: RootQdiscRequest, ctx: FaultContext): Planned<RootQdiscRevert> {
  const interfaces: { name: string; previous: RootSnapshot }[] = [];
  for (const name of request.interfaces) interfaces.push({ name, previous: snapshotRoot(ctx.native, name) });
  const handle = faultQdiscHandle(request.faultId);
  const revert: RootQdiscRevert = { bootId: ctx.host.bootId, handle, interfaces };
  return {
    target: request.target,
    changes: [
      ...interfaces.map(
        (i) => `replace root qdisc ${i.previous.kind} ${formatHandle(i.previous.handle)} on ${i.name} with ${request.kind} ${formatHandle(handle)} ${request.describe} (rtnetlink RTM_NEWQDISC)`,
      ),
      ...(request.notes ?? []),
    ],
    revertSteps: interfaces.map((i) => describeRestore(i.name, i.previous)),
    revert,
    async apply(recordApplied) {
      const options = request.options();
      for (const i of interfaces) {
        // Over a default root, add exclusively: if someone installed a qdisc since the snapshot,
        // the kernel refuses rather than letting us overwrite it.
        ctx.native.qdiscReplace({
          ifname: i.name,
          parent: TC_H_ROOT,
          handle,
          kind: request.kind,
          options,
          exclusive: i.previous.handle === 0,
        });
      }
      await recordApplied(revert);
      return { measure: txRateMeasure(request.interfaces[0] ?? ''), ended: new Promise<string>(() => undefined) };
    },
  };
}

/** Restores every interface's root qdisc; verified and idempotent. */
export function revertRootQdisc(record: RootQdiscRevert, ctx: FaultContext): Promise<RevertOutcome> {
  return Promise.resolve().then(() => restoreAll(record, ctx));
}

function restoreAll(record: RootQdiscRevert, ctx: FaultContext): RevertOutcome {
  if (record.bootId !== ctx.host.bootId) return { outcome: 'already-absent', detail: 'qdiscs do not survive a reboot' };
  const restored: string[] = [];
  const failures: { name: string; error: string; fix: string }[] = [];
  for (const i of record.interfaces) {
    try {
      if (restoreRoot(ctx.native, i.name, i.previous, record.handle) === 'restored') restored.push(i.name);
    } catch (error) {
      failures.push({ name: i.name, error: error instanceof Error ? error.message : String(error), fix: manualRestore(i.name, i.previous) });
    }
  }
  if (failures.length > 0) {
    throw new RevertError(
      failures.map((f) => `${f.name}: ${f.error}`).join('; '),
      failures.map((f) => `faultd's root qdisc ${formatHandle(record.handle)} on ${f.name}`).join(', '),
      failures.map((f) => f.fix).join(' && '),
    );
  }
  if (restored.length === 0) return { outcome: 'already-absent', detail: 'no faultd qdisc was left' };
  return { outcome: 'reverted', detail: `root qdisc restored on ${restored.join(', ')}` };
}

/** Doctor notes shared by the qdisc faults. */
export function qdiscSupport(ctx: FaultContext, kind: string, supported: { supported: boolean; reason: string }) {
  const admin = ctx.host.isRoot || (ctx.host.capEff & (1n << 12n)) !== 0n;
  return {
    supported: admin && supported.supported,
    notes: [
      admin ? 'CAP_NET_ADMIN: yes' : 'needs root or CAP_NET_ADMIN to change qdiscs',
      supported.supported ? `${kind} qdisc: available` : `${kind} qdisc: missing (needs sch_${kind}): ${supported.reason}`,
      `interfaces: ${ctx.host.interfaces.map((i) => i.name).join(', ')}; default route via ${ctx.host.defaultInterface ?? '(none)'}`,
    ],
  };
}
