// SPDX-License-Identifier: Apache-2.0
/**
 * linux-network-rate-limit (Harness name and tunables): a tbf root qdisc caps the egress
 * bandwidth of each interface. Installed through rtnetlink (never `tc`); the previous root qdisc
 * is snapshotted into the ledger before the change and restored exactly at revert.
 */
import { formatBytes, parseDurationMs } from '../units.js';
import { COMMON_NETWORK_ALIASES, commonNetworkParams, networkReach, refineControlPlane, scopeOf, withScopeNotes } from './network/common-params.js';
import { planRootQdisc, qdiscSupport, refineIngress, revertRootQdisc, RootQdiscRevertSchema, rootQdiscTargets } from './network/root-qdisc-fault.js';
import { formatRate, parseTcRate, parseTcSize } from './network/tc-units.js';
import { notYetParam, optionalParsedParam, paramsObject, parsedParam } from './params.js';
import { defineInjector } from './types.js';
import type { NetworkValidationContext } from './network/context.js';

/** Ethernet header on top of the MTU: the largest frame the bucket must be able to pass. */
const FRAME_OVERHEAD_BYTES = 14;
const MAX_RATE_BYTES = 100e9 / 8; // 100 Gbit/s
const MAX_QUEUE_BYTES = 1024 ** 3;
const MAX_TBF_LATENCY_MS = 10_000;
/** Harness's current default `limit` (2mb). */
const DEFAULT_LIMIT_BYTES = 2 * 1024 * 1024;

function params(ctx: NetworkValidationContext) {
  return {
    ...commonNetworkParams(ctx, 'limited'),
    networkBandwidth: parsedParam({
      name: 'networkBandwidth', type: 'tc rate', default: '1mbit', min: 125, max: MAX_RATE_BYTES, bounds: '1kbit–100gbit',
      parse: parseTcRate, formatHint: 'a tc rate like "1mbit", "512kbit", "10gbit"',
      description: 'bandwidth ceiling',
    }),
    burst: parsedParam({
      name: 'burst', type: 'tc size', default: '32kb', min: 1, max: MAX_QUEUE_BYTES, bounds: 'one frame (MTU + 14 bytes)–1gb',
      parse: parseTcSize, formatHint: 'a tc size like "32kb", "2mb" or bytes',
      description: 'bucket size: bytes that may pass at once above the rate',
    }),
    limit: optionalParsedParam({
      name: 'limit', type: 'tc size', default: '2mb', min: 1, max: MAX_QUEUE_BYTES, bounds: 'one frame–1gb; not with latency',
      parse: parseTcSize, formatHint: 'a tc size like "2mb", "64kb" or bytes',
      description: 'bytes that may wait for tokens before packets are dropped',
    }),
    latency: optionalParsedParam({
      name: 'latency', type: 'duration', default: '-', min: 1, max: MAX_TBF_LATENCY_MS, bounds: '1ms–10s; not with limit',
      parse: (v) => parseDurationMs(typeof v === 'number' ? `${v}ms` : v), formatHint: 'a duration like "50ms"',
      description: 'instead of limit: the longest a packet may wait (tbf latency)',
    }),
    peakRate: notYetParam('peakRate', 'tbf peak rate is not implemented'),
    minBurst: notYetParam('minBurst', 'tbf peak rate is not implemented'),
  };
}

export const linuxNetworkRateLimit = defineInjector({
  kind: 'linux-network-rate-limit',
  summary: 'Cap the bandwidth of network interfaces, egress or ingress (tbf)',
  paramAliases: { ...COMMON_NETWORK_ALIASES, NETWORK_BANDWIDTH: 'networkBandwidth', BURST: 'burst', LIMIT: 'limit', PEAK_RATE: 'peakRate', MIN_BURST: 'minBurst' },
  paramsSchema(ctx) {
    return paramsObject(params(ctx))
      .superRefine((v, c) => {
        if (v.limit !== undefined && v.latency !== undefined) c.addIssue({ code: 'custom', path: ['latency'], message: 'give either limit or latency, not both' });
        refineControlPlane(v, ctx, (path, message) => c.addIssue({ code: 'custom', path: [path], message }));
        refineIngress(v.direction, ctx, (path, message) => c.addIssue({ code: 'custom', path: [path], message }));
        for (const name of v.networkInterfaces) {
          const mtu = ctx.network.interfaces.find((i) => i.name === name)?.mtu ?? 1500;
          const frame = mtu + FRAME_OVERHEAD_BYTES;
          if (v.burst < frame) c.addIssue({ code: 'custom', path: ['burst'], input: v.burst, message: `${v.burst} bytes is less than one frame on ${name} (MTU ${mtu} + ${FRAME_OVERHEAD_BYTES}): no packet could pass` });
          if (v.limit !== undefined && v.limit < frame) c.addIssue({ code: 'custom', path: ['limit'], input: v.limit, message: `${v.limit} bytes is less than one frame on ${name} (MTU ${mtu} + ${FRAME_OVERHEAD_BYTES}): every packet would be dropped` });
        }
      })
      // tc takes a queue limit or a latency; Harness's default limit applies when neither is given.
      .transform((v) => ({ ...v, limit: v.limit ?? (v.latency === undefined ? DEFAULT_LIMIT_BYTES : 0), latency: v.latency ?? 0 }));
  },
  paramDocs: (ctx) => Object.values(params(ctx)).map((p) => p.doc),
  exclusiveTargets: (p) => rootQdiscTargets(p.networkInterfaces, p.direction),
  trafficReach: (p) => networkReach(p),
  revertSchema: RootQdiscRevertSchema,
  async plan(faultId, p, ctx) {
    const queue = p.limit > 0 ? `limit ${formatBytes(p.limit)}` : `latency ${p.latency}ms`;
    const scope = await scopeOf(p, ctx);
    const planned = planRootQdisc(
      {
        faultId,
        interfaces: p.networkInterfaces,
        direction: p.direction,
        kind: 'tbf',
        options: () => ctx.native.tbfOptions({ rateBytesPerSec: p.networkBandwidth, burstBytes: p.burst, limitBytes: p.limit, latencyUs: p.latency * 1000 }),
        describe: `rate ${formatRate(p.networkBandwidth)} burst ${formatBytes(p.burst)} ${queue}`,
        target: `${p.networkInterfaces.join(',')} ${p.direction} ≤ ${formatRate(p.networkBandwidth)}`,
        steer: scope.steer,
      },
      ctx,
    );
    return withScopeNotes(planned, scope);
  },
  revert: (record, ctx) => revertRootQdisc(record, ctx),
  support: (ctx) => qdiscSupport(ctx, 'tbf', ctx.features.qdisc('tbf')),
});
