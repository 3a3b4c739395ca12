// SPDX-License-Identifier: Apache-2.0
/**
 * linux-network-reorder (faultd; Harness has no reorder fault): a share of egress packets skips
 * the delay the others get, so they overtake them. Needs a latency, as netem does.
 */
import { numberParam } from './params.js';
import { defineNetemFault } from './network/netem-fault.js';
import { correlationParam, millisParam, percentParam } from './network/netem-params.js';

export const linuxNetworkReorder = defineNetemFault({
  kind: 'linux-network-reorder',
  summary: 'Reorder packets, egress or ingress (netem reorder with a delay)',
  verb: 'reordered',
  aliases: { NETWORK_PACKET_REORDER_PERCENTAGE: 'packetReorderPercentage', GAP: 'gap', NETWORK_LATENCY: 'latency', CORRELATION: 'correlation' },
  params: () => ({
    packetReorderPercentage: percentParam('packetReorderPercentage', 25, 'share of packets sent at once, ahead of the delayed others'),
    latency: millisParam('latency', 10, 'delay of the other packets, in ms (reordering needs one)', 1),
    gap: numberParam({ name: 'gap', min: 0, max: 1_000_000, default: 0, integer: true, description: 'reorder only every Nth packet (0 = netem default 1)' }),
    correlation: correlationParam(),
  }),
  refine(p, issue) {
    if (p.gap > 0 && p.packetReorderPercentage === 0) issue('gap', 'needs a packetReorderPercentage above 0');
  },
  netem: (p) => ({
    delayUs: Math.round(p.latency * 1000),
    reorderPct: p.packetReorderPercentage,
    reorderCorrelationPct: p.correlation,
    gap: p.gap,
  }),
  describe: (p) => `reorder ${p.packetReorderPercentage}% (others delayed ${p.latency}ms${p.gap ? `, gap ${p.gap}` : ''})`,
  withoutNetem: 'No other kernel mechanism reorders packets, so this fault needs sch_netem.',
});
