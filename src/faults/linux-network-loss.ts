// SPDX-License-Identifier: Apache-2.0
/**
 * linux-network-loss (Harness name and tunables): drop a share of egress packets. With sch_netem
 * the loss is a netem root qdisc; on kernels without it (microVMs, this project's CI) it is an
 * nf_tables `numgen random` drop on the output hook of the same interfaces, which also keeps
 * SSH out of the fault, or on an iptables-legacy-only host the same rules as x_tables chains
 * with the statistic match (`-m statistic --mode random`). The mechanism is chosen at validation, shown by --dry-run and logged.
 */
import { z } from 'zod';

import { COMMON_NETWORK_ALIASES, commonNetworkParams, nftTargeting, refineControlPlane, scopeOf, withScopeNotes } from './network/common-params.js';
import { correlationParam, percentParam } from './network/netem-params.js';
import { dropBackend, type BackendChoice } from './network/filter-backend.js';
import { NftRevertSchema, planNftFault, revertNftFault } from './network/nft-fault.js';
import { planXtablesFault, revertXtablesFault, XtablesRevertSchema } from './network/xtables-fault.js';
import { planRootQdisc, qdiscSupport, refineIngress, revertRootQdisc, RootQdiscRevertSchema, rootQdiscTargets } from './network/root-qdisc-fault.js';
import { paramsObject } from './params.js';
import { defineInjector, withRevert } from './types.js';
import type { NetworkValidationContext } from './network/context.js';

function params(ctx: NetworkValidationContext) {
  return {
    ...commonNetworkParams(ctx, 'dropped'),
    packetLossPercentage: percentParam('packetLossPercentage', 100, 'share of packets dropped (Harness default 100)'),
    correlation: correlationParam(),
  };
}

const LossRevertSchema = z.discriminatedUnion('mechanism', [
  RootQdiscRevertSchema.extend({ mechanism: z.literal('netem') }),
  NftRevertSchema.extend({ mechanism: z.literal('nftables') }),
  XtablesRevertSchema.extend({ mechanism: z.literal('xtables') }),
]);

function lossMechanismNote(filter: BackendChoice): string {
  if (filter.backend === 'nftables') return 'mechanism: nf_tables numgen random (no correlation)';
  if (filter.backend === 'xtables') return `mechanism: x_tables statistic random (no correlation): ${filter.reason}`;
  return `no loss mechanism: ${filter.reason}`;
}

export const linuxNetworkLoss = defineInjector({
  kind: 'linux-network-loss',
  summary: 'Drop a share of packets, egress or ingress (netem loss, or nf_tables numgen / x_tables statistic where netem is missing)',
  paramAliases: { ...COMMON_NETWORK_ALIASES, NETWORK_PACKET_LOSS_PERCENTAGE: 'packetLossPercentage', CORRELATION: 'correlation' },
  paramsSchema: (ctx) =>
    paramsObject(params(ctx))
      .superRefine((v, c) => {
        refineControlPlane(v, ctx, (path, message) => c.addIssue({ code: 'custom', path: [path], message }));
        const netem = ctx.features.qdisc('netem');
        if (netem.supported) refineIngress(v.direction, ctx, (path, message) => c.addIssue({ code: 'custom', path: [path], message }));
        if (netem.supported) return;
        const filter = dropBackend(ctx.features);
        const used = filter.backend === 'xtables' ? 'x_tables' : 'nf_tables';
        if (v.correlation > 0) {
          c.addIssue({ code: 'custom', path: ['correlation'], input: v.correlation, message: `needs sch_netem, which this kernel lacks (${netem.reason}); the ${used} loss used instead has no correlation` });
        }
        if (!filter.backend) {
          c.addIssue({ code: 'custom', path: [], message: `needs sch_netem, nf_tables or x_tables; this kernel has none (${netem.reason}; ${filter.reason})` });
        }
        if (v.packetLossPercentage < 1 || !Number.isInteger(v.packetLossPercentage)) {
          c.addIssue({ code: 'custom', path: ['packetLossPercentage'], input: v.packetLossPercentage, message: `must be a whole number in 1–100 with the ${used} loss used on this kernel (no sch_netem)` });
        }
      })
      .transform((v) => ({
        ...v,
        mechanism: ctx.features.qdisc('netem').supported ? ('netem' as const) : dropBackend(ctx.features).backend === 'xtables' ? ('xtables' as const) : ('nftables' as const),
      })),
  paramDocs: (ctx) => Object.values(params(ctx)).map((p) => p.doc),
  exclusiveTargets: (p) => (p.mechanism === 'netem' ? rootQdiscTargets(p.networkInterfaces, p.direction) : []),
  revertSchema: LossRevertSchema,
  async plan(faultId, p, ctx) {
    const scope = await scopeOf(p, ctx);
    const describe = `loss ${p.packetLossPercentage}%${p.correlation ? ` ${p.correlation}% correlated` : ''}`;
    if (p.mechanism === 'netem') {
      const planned = planRootQdisc(
        {
          faultId,
          interfaces: p.networkInterfaces,
          direction: p.direction,
          kind: 'netem',
          options: () => ctx.native.netemOptions({ lossPct: p.packetLossPercentage, lossCorrelationPct: p.correlation }),
          describe,
          target: `${p.networkInterfaces.join(',')} ${p.direction}: ${describe} (netem)`,
          steer: scope.steer,
        },
        ctx,
      );
      return withScopeNotes(withRevert(planned, { mechanism: 'netem' as const }), scope);
    }
    const request = {
      faultId,
      direction: p.direction,
      protocol: 'all' as const,
      action: { kind: 'drop' as const, percent: p.packetLossPercentage },
      ...nftTargeting(p, scope),
    };
    const interfaces = `${p.networkInterfaces.join(',')} ${p.direction}: ${describe}`;
    if (p.mechanism === 'xtables') {
      ctx.logger.info({ mechanism: 'xtables' }, 'no sch_netem nor nf_tables on this kernel: loss through x_tables statistic');
      const planned = planXtablesFault(request, ctx, `${interfaces} (x_tables statistic, no sch_netem nor nf_tables here)`);
      return withScopeNotes(withRevert(planned, { mechanism: 'xtables' as const }), scope);
    }
    ctx.logger.info({ mechanism: 'nftables' }, 'no sch_netem on this kernel: loss through nf_tables numgen random');
    const planned = planNftFault(request, ctx, `${interfaces} (nf_tables, no sch_netem here)`);
    return withScopeNotes(withRevert(planned, { mechanism: 'nftables' as const }), scope);
  },
  revert: (record, ctx) => (record.mechanism === 'netem' ? revertRootQdisc(record, ctx) : record.mechanism === 'xtables' ? revertXtablesFault(record, ctx) : revertNftFault(record, ctx)),
  support(ctx) {
    const netem = ctx.features.qdisc('netem');
    const base = qdiscSupport(ctx, 'netem', netem);
    const filter = netem.supported ? undefined : dropBackend(ctx.features);
    return {
      supported: (ctx.host.isRoot || (ctx.host.capEff & (1n << 12n)) !== 0n) && (filter === undefined || filter.backend !== undefined),
      notes: [...base.notes, filter ? lossMechanismNote(filter) : 'mechanism: netem'],
    };
  },
});
