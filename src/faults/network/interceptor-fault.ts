// SPDX-License-Identifier: Apache-2.0
/**
 * The mechanism of the faults that send traffic through a local interceptor (the DNS and the
 * HTTP faults): a faultd-stressor mode started and supervised like a stressor (own process and
 * cgroup, dies with faultd, pid and start time in the ledger before anything is redirected), and
 * one nf_tables nat chain in faultd's table whose rules redirect the matching traffic to the
 * interceptor's port. The interceptor's own upstream sockets carry a fwmark that the chain
 * accepts first, so they are not redirected again.
 *
 * Apply: interceptor started (ledger `applied` with its pid) → it reports its port(s) and ready →
 * chain added, last → the fault's own step after the redirect (DNS: conntrack entries of kept
 * flows deleted). Revert: chain deleted and verified gone, first (nothing new is sent to the
 * interceptor), then the fault's own step before the stop, then the interceptor stopped (after
 * its grace) and verified gone.
 */
import { z } from 'zod';

import { FaultdError } from '../../errors.js';
import { stressCgroupDirs } from '../../host/cgroup.js';
import type { NftChainSpec, NftRuleSpec } from '../../native/addon.js';
import { revertStressor, startStressor, stressorArgv, StressorRevertSchema, type StressorMode } from '../stressor-process.js';
import { RevertError, type ActiveFault, type FaultContext, type Planned, type RevertOutcome, type Support } from '../types.js';
import { NFT_TABLE, NftRevertSchema, revertNftFault, type NftRevert } from './nft-fault.js';
import { revertInOrder } from './ordered-revert.js';

/** Before conntrack's own NAT users (iptables' nat table sits at -100 too; dstnat). */
export const NAT_PRIORITY = -100;

export const InterceptorRevertSchema = z.object({
  nft: NftRevertSchema,
  interceptor: StressorRevertSchema,
});
export type InterceptorRevert = z.infer<typeof InterceptorRevertSchema>;

/** Who the interceptor is, in the words of messages: "DNS interceptor", "HTTP interceptor". */
export interface InterceptorNames {
  /** "DNS", "HTTP": names the chain and the interceptor in revert messages. */
  readonly protocol: string;
  /** Why a failed chain delete leaves the interceptor running ("so that the redirected queries are still answered"). */
  readonly keptRunningWhy: string;
  /** Time between SIGTERM and SIGKILL of the interceptor. */
  readonly stopGraceMs: number;
}

export interface InterceptorRequest {
  readonly faultId: string;
  readonly mode: Extract<StressorMode, 'dns' | 'http'>;
  /** The mode's arguments (policy, port, mark…). */
  readonly args: readonly string[];
  /** The chain's name and hook; type nat, faultd's table, priority NAT_PRIORITY. */
  readonly chain: { readonly name: string; readonly hook: NftChainSpec['hook'] };
  /** How many ports the interceptor reports (one per intercepted server for DNS); default 1. */
  readonly ports?: number;
  /** The chain's rules once the interceptor listens on `ports`. */
  readonly rules: (ports: readonly number[]) => NftRuleSpec[];
  /** Runs right after the chain is added (not recorded: its revert step must be idempotent). */
  readonly afterRedirect?: () => void;
  /** The live measurement from one stats event (undefined: not a stats event). */
  readonly stats: (event: Record<string, unknown>) => string | undefined;
  /** The measurement before the first stats event. */
  readonly idle: string;
}

/** What the plan of an interceptor fault is made of, before its words. */
export interface InterceptorParts {
  readonly argv: string;
  readonly cgroups: string[];
  readonly chain: Omit<NftChainSpec, 'rules'>;
  readonly revert: InterceptorRevert;
  readonly apply: Planned<InterceptorRevert>['apply'];
}

const Port = z.number().int().min(1).max(65535);
/** `{"event":"listening","port":P}` (HTTP) or `{"event":"listening","ports":[P,…]}` (DNS, one per server). */
const ListeningEvent = z.union([
  z.object({ event: z.literal('listening'), ports: z.array(Port) }).transform((e) => e.ports),
  z.object({ event: z.literal('listening'), port: Port }).transform((e) => [e.port]),
]);

export function interceptorParts(r: InterceptorRequest, names: InterceptorNames, ctx: FaultContext): InterceptorParts {
  const cgroups = ctx.host.isRoot ? stressCgroupDirs(ctx.cgroups, r.faultId) : [];
  const interceptor = { tag: r.faultId, bootId: ctx.host.bootId, cgroups };
  const nft: NftRevert = { bootId: ctx.host.bootId, table: NFT_TABLE, chains: [r.chain.name] };
  const revert: InterceptorRevert = { nft, interceptor };
  const chain: Omit<NftChainSpec, 'rules'> = { table: NFT_TABLE, chain: r.chain.name, type: 'nat', hook: r.chain.hook, priority: NAT_PRIORITY };
  return {
    argv: ['faultd-stressor', ...stressorArgv(r.faultId, r.mode, r.args)].join(' '),
    cgroups,
    chain,
    revert,
    async apply(recordApplied, signal) {
      let ports: number[] = [];
      let stats = r.idle;
      const handle = await startStressor(interceptor, r.mode, r.args, ctx, (started) => recordApplied({ ...revert, interceptor: started }), signal, (event) => {
        const listening = ListeningEvent.safeParse(event);
        if (listening.success) ports = listening.data;
        stats = r.stats(event) ?? stats;
      });
      const expected = r.ports ?? 1;
      if (ports.length !== expected) throw new FaultdError('FAULTD_ERR_FAULT_APPLY', `the ${names.protocol} interceptor reported ${ports.length} port(s), not ${expected}`);
      // Added last: until now, the traffic went where it went before. The runner's revert stops
      // the interceptor if this throws (the batch is atomic: nothing of it is left).
      ctx.native.nftAddChain({ ...chain, rules: r.rules(ports) });
      r.afterRedirect?.();
      ctx.logger.info({ ports, chain: r.chain.name }, `traffic redirected to the ${names.protocol} interceptor`);
      const active: ActiveFault = { measure: () => stats, ended: handle.exit.then((why) => `${names.protocol} interceptor exited: ${why}`) };
      return active;
    },
  };
}

/**
 * Chain first (verified gone), then the interceptor; idempotent, also after kill -9 and reboot.
 * A chain that cannot be deleted keeps the interceptor running: stopping it would leave the
 * traffic redirected to a dead port, which is worse than the fault. A retry stops it.
 */
export async function revertInterceptor(record: InterceptorRevert, names: InterceptorNames, ctx: FaultContext, beforeStop?: () => RevertOutcome): Promise<RevertOutcome> {
  let chain: RevertOutcome;
  try {
    chain = await revertNftFault(record.nft, ctx);
  } catch (error) {
    if (!(error instanceof RevertError)) throw error;
    throw new RevertError(
      `${error.message}; the ${names.protocol} interceptor is left running, ${names.keptRunningWhy}`,
      `${error.leftover}, and the ${names.protocol} interceptor it redirects to`,
      `${error.manualFix}, then faultd revert --remnants (stops the interceptor)`,
      { cause: error },
    );
  }
  return revertInOrder(
    [() => Promise.resolve(chain), ...(beforeStop ? [() => Promise.resolve(beforeStop())] : []), () => revertStressor(record.interceptor, ctx, names.stopGraceMs)],
    `no faultd ${names.protocol} chain or interceptor was left`,
  );
}

/** `faultd faults` / `doctor` support of an interceptor fault: root (CAP_NET_ADMIN) and nf_tables nat redirect. */
export function interceptorSupport(ctx: FaultContext, interceptor: string): Support {
  const admin = ctx.host.isRoot || (ctx.host.capEff & (1n << 12n)) !== 0n;
  const nat = ctx.features.natRedirect();
  return {
    supported: admin && nat.supported,
    notes: [
      admin ? 'CAP_NET_ADMIN: yes' : 'needs root or CAP_NET_ADMIN',
      nat.supported ? `nf_tables nat redirect: available (${interceptor} behind a \`redirect to :PORT\` chain)` : `nf_tables nat redirect: missing (${nat.reason})`,
    ],
  };
}
