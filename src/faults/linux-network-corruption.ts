// SPDX-License-Identifier: Apache-2.0
/** linux-network-corruption (Harness name and tunables): flip a bit in a share of egress packets. */
import { defineNetemFault } from './network/netem-fault.js';
import { correlationParam, percentParam } from './network/netem-params.js';

export const linuxNetworkCorruption = defineNetemFault({
  kind: 'linux-network-corruption',
  summary: 'Corrupt a share of packets, egress or ingress (netem corrupt)',
  verb: 'corrupted',
  aliases: { NETWORK_PACKET_CORRUPTION_PERCENTAGE: 'packetCorruptionPercentage', CORRELATION: 'correlation' },
  params: () => ({
    packetCorruptionPercentage: percentParam('packetCorruptionPercentage', 100, 'share of packets with a flipped bit (Harness default 100)'),
    correlation: correlationParam(),
  }),
  netem: (p) => ({ corruptPct: p.packetCorruptionPercentage, corruptCorrelationPct: p.correlation }),
  describe: (p) => `corrupt ${p.packetCorruptionPercentage}%${p.correlation ? ` ${p.correlation}% correlated` : ''}`,
  withoutNetem: 'No other kernel mechanism corrupts packets, so this fault needs sch_netem.',
});
