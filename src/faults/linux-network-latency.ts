// SPDX-License-Identifier: Apache-2.0
/** linux-network-latency (Harness name and tunables): egress delay with jitter, via netem. */
import { defineNetemFault } from './network/netem-fault.js';
import { correlationParam, distributionParam, millisParam } from './network/netem-params.js';
import { findDistributionDir } from './network/tc-tables.js';

export const linuxNetworkLatency = defineNetemFault({
  kind: 'linux-network-latency',
  summary: 'Delay egress packets (netem delay, jitter, correlation, distribution)',
  verb: 'delayed',
  aliases: { NETWORK_LATENCY: 'latency', JITTER: 'jitter', CORRELATION: 'correlation', DISTRIBUTION: 'distribution' },
  params: () => ({
    latency: millisParam('latency', 2000, 'delay added to every packet, in ms (Harness default 2000)', 1),
    jitter: millisParam('jitter', 0, 'largest random deviation from the latency, in ms'),
    correlation: correlationParam(),
    distribution: distributionParam(),
  }),
  refine(p, issue) {
    if (p.jitter > p.latency) issue('jitter', `${p.jitter} ms is more than the latency (${p.latency} ms): delays cannot go below zero`);
    if (p.distribution !== 'uniform' && p.jitter === 0) issue('distribution', `"${p.distribution}" shapes the jitter, so it needs jitter > 0`);
    if (p.distribution !== 'uniform' && !findDistributionDir(p.distribution)) {
      issue('distribution', `needs iproute2's ${p.distribution}.dist table (install iproute2, or set TC_LIB_DIR)`);
    }
  },
  netem: (p) => ({
    delayUs: Math.round(p.latency * 1000),
    jitterUs: Math.round(p.jitter * 1000),
    delayCorrelationPct: p.correlation,
    ...(p.distribution === 'uniform' ? {} : { distribution: p.distribution, distributionDir: findDistributionDir(p.distribution) ?? '' }),
  }),
  describe: (p) => `delay ${p.latency}ms${p.jitter ? ` ±${p.jitter}ms` : ''}${p.correlation ? ` ${p.correlation}% correlated` : ''}${p.distribution !== 'uniform' ? ` ${p.distribution}` : ''}`,
  withoutNetem: 'The NFQUEUE delayer that replaces netem on such kernels is in progress (issue 4).',
});
