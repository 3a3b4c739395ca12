// SPDX-License-Identifier: Apache-2.0
/**
 * Latency without sch_netem: the NFQUEUE delayer (`faultd-stressor delay`, C++) holds each
 * targeted packet for netem's delay (same latency, jitter, correlation and distribution tables)
 * and faultd's nf_tables chain queues the targeted packets to it with `queue num N bypass`.
 *
 * The packets delayed are the ones arriving from the targets (prerouting hook of the fault's
 * interfaces), so every round trip to a target takes `latency` longer, as with netem on egress.
 * On an iptables-legacy-only host the queue rules are an x_tables chain in mangle PREROUTING
 * (`-j NFQUEUE --queue-num N --queue-bypass`) instead, chosen by filter-backend.ts.
 * Apply: delayer started and bound (ledger `applied` with its pid) → chain added. Revert: chain
 * deleted first (no packet is queued any more), then the delayer stopped: it accepts every packet
 * it holds before exiting. Thanks to `bypass`, a delayer that dies lets traffic through.
 */
import { z } from 'zod';

import type { ActiveFault, FaultContext, Planned, RevertOutcome } from '../types.js';
import { revertStressor, startStressor, stressorArgv, StressorRevertSchema } from '../stressor-process.js';
import { fnv1a32 } from './tc-handles.js';
import { FilterRevertSchema, planFilterFault, revertFilterFault, type FilterBackend } from './filter-backend.js';
import type { NftFaultRequest } from './nft-fault.js';
import { revertInOrder } from './ordered-revert.js';

export const NfqueueRevertSchema = z.object({
  queueNum: z.number().int().min(0).max(65535),
  /** The queue rules: nf_tables', or x_tables' (`backend: 'xtables'`); the key predates x_tables. */
  nft: FilterRevertSchema,
  delayer: StressorRevertSchema,
});
export type NfqueueRevert = z.infer<typeof NfqueueRevertSchema>;

/** Queue numbers faultd uses: 0xf000–0xfeff, one per fault (0–N are what other tools pick). */
const QUEUE_BASE = 0xf000;
const QUEUE_SPAN = 0x0f00;

export function faultQueueNumber(faultId: string): number {
  return QUEUE_BASE + (fnv1a32(faultId) % QUEUE_SPAN);
}

export interface DelaySpec {
  readonly latencyMs: number;
  readonly jitterMs: number;
  readonly correlationPct: number;
  /** iproute2 distribution table to shape the jitter (absent = uniform). */
  readonly distribution?: { readonly name: string; readonly dir: string };
}

export function delayerArgs(queueNum: number, d: DelaySpec): string[] {
  return [
    `--queue=${queueNum}`,
    `--delay-us=${Math.round(d.latencyMs * 1000)}`,
    `--jitter-us=${Math.round(d.jitterMs * 1000)}`,
    `--correlation-pct=${d.correlationPct}`,
    ...(d.distribution ? [`--distribution=${d.distribution.name}`, `--dist-dir=${d.distribution.dir}`] : []),
  ];
}

const DelayerStats = z.object({ event: z.literal('stats'), delayed: z.number(), held: z.number(), peakHeld: z.number(), maxLateUs: z.number() });

/** The queue rules are the queue action on the incoming side (see nft-fault.ts), in `backend`. */
export function planNfqueueDelay(
  request: Omit<NftFaultRequest, 'action' | 'direction'>,
  delay: DelaySpec,
  ctx: FaultContext,
  target: string,
  backend: FilterBackend = 'nftables',
): Planned<NfqueueRevert> {
  const queueNum = faultQueueNumber(request.faultId);
  const nft = planFilterFault(backend, { ...request, direction: 'ingress', action: { kind: 'queue', queueNum } }, ctx, target);
  const args = delayerArgs(queueNum, delay);
  const delayer = { tag: request.faultId, bootId: ctx.host.bootId, cgroups: [] };
  const revert: NfqueueRevert = { queueNum, nft: nft.revert, delayer };
  return {
    target,
    changes: [
      `start process: faultd-stressor ${stressorArgv(request.faultId, 'delay', args).join(' ')} (binds NFQUEUE ${queueNum}; killed if faultd dies)`,
      ...nft.changes,
    ],
    revertSteps: [...nft.revertSteps, 'SIGTERM the delayer (it releases every held packet first), SIGKILL after 300 ms'],
    revert,
    async apply(recordApplied, signal) {
      let stats = 'no packet yet';
      const handle = await startStressor(delayer, 'delay', args, ctx, (started) => recordApplied({ ...revert, delayer: started }), signal, (event) => {
        const parsed = DelayerStats.safeParse(event);
        if (parsed.success) {
          const s = parsed.data;
          stats = `${s.delayed} pkt delayed, ${s.held} held (peak ${s.peakHeld}), late ≤ ${(s.maxLateUs / 1000).toFixed(2)} ms`;
        }
      });
      // Each chain is one atomic batch or replacement; if one fails, the runner's revert removes
      // any added (the intent names them all) and stops the delayer. `applied` was recorded with
      // the delayer's pid.
      await nft.apply(() => Promise.resolve(), signal);
      const active: ActiveFault = { measure: () => stats, ended: handle.exit.then((why) => `NFQUEUE delayer exited: ${why}`) };
      return active;
    },
  };
}

/** Chain first, then the delayer; both verified and idempotent. */
export function revertNfqueueDelay(record: NfqueueRevert, ctx: FaultContext): Promise<RevertOutcome> {
  return revertInOrder([() => revertFilterFault(record.nft, ctx), () => revertStressor(record.delayer, ctx)], 'no faultd chain or delayer was left');
}
