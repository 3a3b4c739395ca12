// SPDX-License-Identifier: Apache-2.0
/** linux-network-loss (Harness name and tunables): random egress packet loss, via netem. */
import { defineNetemFault } from './network/netem-fault.js';
import { correlationParam, percentParam } from './network/netem-params.js';

export const linuxNetworkLoss = defineNetemFault({
  kind: 'linux-network-loss',
  summary: 'Drop a share of egress packets (netem loss)',
  verb: 'dropped',
  aliases: { NETWORK_PACKET_LOSS_PERCENTAGE: 'packetLossPercentage', CORRELATION: 'correlation' },
  params: () => ({
    packetLossPercentage: percentParam('packetLossPercentage', 100, 'share of packets dropped (Harness default 100)'),
    correlation: correlationParam(),
  }),
  netem: (p) => ({ lossPct: p.packetLossPercentage, lossCorrelationPct: p.correlation }),
  describe: (p) => `loss ${p.packetLossPercentage}%${p.correlation ? ` ${p.correlation}% correlated` : ''}`,
  withoutNetem: 'The nf_tables fallback that replaces netem on such kernels is in progress (issue 4).',
});
