// SPDX-License-Identifier: Apache-2.0
/**
 * Which packet filter carries a network fault's rules: nf_tables where the kernel has it (table
 * `inet faultd`, nft-fault.ts), else x_tables (iptables-legacy chains, xtables-fault.ts) on an
 * iptables-legacy-only host (CentOS/RHEL 7, older Ubuntu). The choice follows the firewall probe
 * (`faultd doctor`; FAULTD_TEST_MISSING_FEATURES=nftables forces the x_tables one) and is made at
 * validation, so --dry-run shows it; the revert record says which one was used.
 */
import { z } from 'zod';

import type { FeatureProbe } from '../../host/features.js';
import type { Planned, RevertOutcome } from '../types.js';
import type { NetworkFaultContext } from './context.js';
import { NftRevertSchema, planNftFault, revertNftFault, type NftFaultRequest } from './nft-fault.js';
import { planXtablesFault, revertXtablesFault, XtablesRevertSchema, type XtablesRevertContext } from './xtables-fault.js';

export type FilterBackend = 'nftables' | 'xtables';

export interface BackendChoice {
  /** Undefined: neither filter can carry the fault here (`reason` says why). */
  readonly backend: FilterBackend | undefined;
  /** For doctor and the plan: which one, and why. */
  readonly reason: string;
}

/** Drop rules (partition, loss without netem): nf_tables, else x_tables with the statistic match. */
export function dropBackend(features: FeatureProbe): BackendChoice {
  const nft = features.nftables();
  if (nft.supported) return { backend: 'nftables', reason: 'nf_tables (table inet faultd)' };
  const xt = features.xtables?.() ?? { supported: false, reason: 'no x_tables probe' };
  if (xt.supported) return { backend: 'xtables', reason: `x_tables (iptables-legacy chains FAULTD-…, IPv4 and IPv6), as nf_tables is missing (${nft.reason})` };
  return { backend: undefined, reason: `needs nf_tables or x_tables; this kernel has neither (${nft.reason}; x_tables: ${xt.reason})` };
}

/** The NFQUEUE delayer's queue rule: nf_tables (xt NFQUEUE through nft_compat), else x_tables' NFQUEUE target in mangle. */
export function queueBackend(features: FeatureProbe): BackendChoice {
  const nft = features.nftables();
  if (nft.supported) {
    const queue = features.nfqueue();
    return queue.supported ? { backend: 'nftables', reason: 'nf_tables with xt_NFQUEUE and nfnetlink_queue' } : { backend: undefined, reason: queue.reason };
  }
  const xt = features.xtablesNfqueue?.() ?? { supported: false, reason: 'no x_tables probe' };
  if (xt.supported) return { backend: 'xtables', reason: `x_tables (a mangle PREROUTING chain with NFQUEUE --queue-bypass, IPv4 and IPv6), as nf_tables is missing (${nft.reason})` };
  return { backend: undefined, reason: `needs nf_tables or x_tables with NFQUEUE; this kernel has neither (${nft.reason}; x_tables: ${xt.reason})` };
}

/** Either backend's revert record: x_tables' says `backend: 'xtables'`; nf_tables' records predate the field. */
export const FilterRevertSchema = z.union([XtablesRevertSchema, NftRevertSchema]);
export type FilterRevert = z.infer<typeof FilterRevertSchema>;

export function planFilterFault(backend: FilterBackend, r: NftFaultRequest, ctx: NetworkFaultContext, target: string): Planned<FilterRevert> {
  return backend === 'xtables' ? planXtablesFault(r, ctx, target) : planNftFault(r, ctx, target);
}

export function revertFilterFault(record: FilterRevert, ctx: XtablesRevertContext): Promise<RevertOutcome> {
  return 'backend' in record ? revertXtablesFault(record, ctx) : revertNftFault(record, ctx);
}
