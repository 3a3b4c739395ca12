// SPDX-License-Identifier: Apache-2.0
/** linux-network-duplication (Harness name and tunables): send a share of egress packets twice. */
import { defineNetemFault } from './network/netem-fault.js';
import { correlationParam, percentParam } from './network/netem-params.js';

export const linuxNetworkDuplication = defineNetemFault({
  kind: 'linux-network-duplication',
  summary: 'Duplicate a share of packets, egress or ingress (netem duplicate)',
  verb: 'duplicated',
  aliases: { NETWORK_PACKET_DUPLICATION_PERCENTAGE: 'packetDuplicationPercentage', CORRELATION: 'correlation' },
  params: () => ({
    packetDuplicationPercentage: percentParam('packetDuplicationPercentage', 100, 'share of packets sent twice (Harness default 100)'),
    correlation: correlationParam(),
  }),
  netem: (p) => ({ duplicatePct: p.packetDuplicationPercentage, duplicateCorrelationPct: p.correlation }),
  describe: (p) => `duplicate ${p.packetDuplicationPercentage}%${p.correlation ? ` ${p.correlation}% correlated` : ''}`,
  withoutNetem: 'No other kernel mechanism duplicates packets, so this fault needs sch_netem.',
});
