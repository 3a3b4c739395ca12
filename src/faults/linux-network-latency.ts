// SPDX-License-Identifier: Apache-2.0
/**
 * linux-network-latency (Harness name and tunables): delay with jitter. With sch_netem it is a
 * netem root qdisc on the interfaces' egress; on kernels without it (microVMs, this project's
 * CI) the NFQUEUE delayer holds the packets arriving from the targets for the same delay, drawn
 * the same way (see network/nfqueue-delay.ts), its queue rules in nf_tables or, on an
 * iptables-legacy-only host, in an x_tables mangle chain. The mechanism is chosen at validation, shown by
 * --dry-run and logged.
 */
import { z } from 'zod';

import { COMMON_NETWORK_ALIASES, commonNetworkParams, nftTargeting, refineControlPlane, scopeOf, withScopeNotes } from './network/common-params.js';
import { correlationParam, distributionParam, millisParam } from './network/netem-params.js';
import { queueBackend } from './network/filter-backend.js';
import { NfqueueRevertSchema, planNfqueueDelay, revertNfqueueDelay } from './network/nfqueue-delay.js';
import { planRootQdisc, qdiscSupport, refineIngress, revertRootQdisc, RootQdiscRevertSchema, rootQdiscTargets } from './network/root-qdisc-fault.js';
import { findDistributionDir } from './network/tc-tables.js';
import { paramsObject } from './params.js';
import { defineInjector, withRevert } from './types.js';
import type { NetworkValidationContext } from './network/context.js';

function params(ctx: NetworkValidationContext) {
  return {
    ...commonNetworkParams(ctx, 'delayed'),
    latency: millisParam('latency', 2000, 'delay added to every packet, in ms (Harness default 2000)', 1),
    jitter: millisParam('jitter', 0, 'largest random deviation from the latency, in ms'),
    correlation: correlationParam(),
    distribution: distributionParam(),
  };
}

const LatencyRevertSchema = z.discriminatedUnion('mechanism', [
  RootQdiscRevertSchema.extend({ mechanism: z.literal('netem') }),
  NfqueueRevertSchema.extend({ mechanism: z.literal('nfqueue') }),
]);

export const linuxNetworkLatency = defineInjector({
  kind: 'linux-network-latency',
  summary: 'Delay packets with jitter (netem; where netem is missing, an NFQUEUE delayer on the replies)',
  paramAliases: { ...COMMON_NETWORK_ALIASES, NETWORK_LATENCY: 'latency', JITTER: 'jitter', CORRELATION: 'correlation', DISTRIBUTION: 'distribution' },
  paramsSchema: (ctx) =>
    paramsObject(params(ctx))
      .superRefine((p, c) => {
        const issue = (path: string, message: string) => c.addIssue({ code: 'custom', path: path ? [path] : [], message });
        if (p.jitter > p.latency) issue('jitter', `${p.jitter} ms is more than the latency (${p.latency} ms): delays cannot go below zero`);
        if (p.distribution !== 'uniform' && p.jitter === 0) issue('distribution', `"${p.distribution}" shapes the jitter, so it needs jitter > 0`);
        if (p.distribution !== 'uniform' && !findDistributionDir(p.distribution)) {
          issue('distribution', `needs iproute2's ${p.distribution}.dist table (install iproute2, or set TC_LIB_DIR)`);
        }
        refineControlPlane(p, ctx, issue);
        const netem = ctx.features.qdisc('netem');
        if (netem.supported) {
          refineIngress(p.direction, ctx, issue);
          return;
        }
        const queue = queueBackend(ctx.features);
        if (!queue.backend) {
          issue('', `linux-network-latency needs sch_netem or NFQUEUE (nf_tables with xt_NFQUEUE, or x_tables with NFQUEUE; and nfnetlink_queue); this kernel has neither (${netem.reason}; ${queue.reason})`);
        }
      })
      .transform((p) => ({
        ...p,
        mechanism: ctx.features.qdisc('netem').supported ? ('netem' as const) : ('nfqueue' as const),
        queueRules: queueBackend(ctx.features).backend ?? ('nftables' as const),
      })),
  paramDocs: (ctx) => Object.values(params(ctx)).map((p) => p.doc),
  // Two delayers on one interface would add their delays up: one latency fault per interface.
  exclusiveTargets: (p) => (p.mechanism === 'netem' ? rootQdiscTargets(p.networkInterfaces, p.direction) : p.networkInterfaces.map((name) => `netdev:${name}/nfqueue-delay`)),
  revertSchema: LatencyRevertSchema,
  async plan(faultId, p, ctx) {
    const scope = await scopeOf(p, ctx);
    const distributionDir = p.distribution === 'uniform' ? undefined : findDistributionDir(p.distribution);
    const describe = `delay ${p.latency}ms${p.jitter ? ` ±${p.jitter}ms` : ''}${p.correlation ? ` ${p.correlation}% correlated` : ''}${distributionDir ? ` ${p.distribution}` : ''}`;
    const interfaces = p.networkInterfaces.join(',');
    if (p.mechanism === 'netem') {
      const planned = planRootQdisc(
        {
          faultId,
          interfaces: p.networkInterfaces,
          direction: p.direction,
          kind: 'netem',
          options: () =>
            ctx.native.netemOptions({
              delayUs: Math.round(p.latency * 1000),
              jitterUs: Math.round(p.jitter * 1000),
              delayCorrelationPct: p.correlation,
              ...(distributionDir ? { distribution: p.distribution, distributionDir } : {}),
            }),
          describe,
          target: `${interfaces} ${p.direction}: ${describe}`,
          steer: scope.steer,
        },
        ctx,
      );
      return withScopeNotes(withRevert(planned, { mechanism: 'netem' as const }), scope);
    }
    ctx.logger.info({ mechanism: 'nfqueue' }, 'no sch_netem on this kernel: latency through the NFQUEUE delayer, on packets arriving from the targets');
    const planned = planNfqueueDelay(
      { faultId, protocol: 'all', ...nftTargeting(p, scope) },
      {
        latencyMs: p.latency,
        jitterMs: p.jitter,
        correlationPct: p.correlation,
        ...(distributionDir ? { distribution: { name: p.distribution, dir: distributionDir } } : {}),
      },
      ctx,
      `${interfaces} replies: ${describe} on every round trip (NFQUEUE delayer${p.queueRules === 'xtables' ? ', queued by x_tables' : ''}, no sch_netem here)`,
      p.queueRules,
    );
    return withScopeNotes(withRevert(planned, { mechanism: 'nfqueue' as const }), scope);
  },
  revert: (record, ctx) => (record.mechanism === 'netem' ? revertRootQdisc(record, ctx) : revertNfqueueDelay(record, ctx)),
  support(ctx) {
    const netem = ctx.features.qdisc('netem');
    const base = qdiscSupport(ctx, 'netem', netem);
    const admin = ctx.host.isRoot || (ctx.host.capEff & (1n << 12n)) !== 0n;
    const queue = netem.supported ? undefined : queueBackend(ctx.features);
    return {
      supported: admin && (netem.supported || queue?.backend !== undefined),
      notes: [
        ...base.notes,
        !queue
          ? 'mechanism: netem'
          : queue.backend
            ? `mechanism: NFQUEUE delayer on the packets arriving from the targets (${queue.reason}: available)`
            : `NFQUEUE delayer: unavailable (${queue.reason})`,
      ],
    };
  },
});
