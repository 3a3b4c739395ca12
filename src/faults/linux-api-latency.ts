// SPDX-License-Identifier: Apache-2.0
/**
 * linux-api-latency (Harness name and tunables): matching HTTP requests are delayed by `latency`
 * (2s by default) before they go to the service (dataDirection request), before their response
 * goes back (response), or both (twice the latency in all). Harness documents no default for
 * dataDirection; faultd takes `request`, so that a request is slower by exactly `latency`.
 */
import { formatDurationMs } from '../units.js';
import { dataDirectionParam, latencyParam } from './http/action-params.js';
import { defineHttpFault } from './http/define-http-fault.js';

export const linuxApiLatency = defineHttpFault({
  kind: 'linux-api-latency',
  summary: 'Delay matching HTTP requests and/or their responses (HTTP interceptor behind an nf_tables redirect)',
  aliases: { LATENCY: 'latency', DATA_DIRECTION: 'dataDirection' },
  actionParams: () => ({
    latency: latencyParam(),
    dataDirection: dataDirectionParam('request', 'request: before the request goes to the service; response: before the response goes back; both: each (DATA_DIRECTION)'),
  }),
  action: (p) => ({
    args: ['--action=latency', `--latency-ms=${p.latency}`, `--direction=${p.dataDirection}`],
    describe: `are delayed ${formatDurationMs(p.latency)}${p.dataDirection === 'both' ? ' on the request and again on the response' : ` on the ${p.dataDirection}`}`,
  }),
});
