// SPDX-License-Identifier: Apache-2.0
/**
 * linux-network-rate-limit (Harness name and tunables): a tbf root qdisc caps egress bandwidth
 * of each interface. Installed through rtnetlink (never `tc`), with the previous root qdisc
 * snapshotted into the ledger before the change and restored exactly at revert.
 *
 * This step of the network work covers the whole interface; targeted limits (destinations,
 * ports, SSH exclusion) need classful qdiscs with filters and are refused until they land.
 */
import { z } from 'zod';

import { txBytes } from '../host/interfaces.js';
import { formatBytes, parseDurationMs } from '../units.js';
import { formatRate, parseTcRate, parseTcSize } from './network/tc-units.js';
import {
  describeRestore,
  FAULTD_QDISC_HANDLE,
  formatHandle,
  manualRestore,
  restoreRoot,
  RootSnapshotSchema,
  type RootSnapshot,
  snapshotRoot,
  TC_H_ROOT,
} from './network/root-qdisc.js';
import { booleanParam, interfacesParam, notYetParam, optionalParsedParam, paramsObject, parsedParam } from './params.js';
import { defineInjector, RevertError, type ValidationContext } from './types.js';

/** Ethernet header on top of the MTU: the largest frame the bucket must be able to pass. */
const FRAME_OVERHEAD_BYTES = 14;
const MAX_RATE_BYTES = 100e9 / 8; // 100 Gbit/s
const MAX_QUEUE_BYTES = 1024 ** 3;
const MAX_TBF_LATENCY_MS = 10_000;
/** Harness's current default `limit` (2mb). */
const DEFAULT_LIMIT_BYTES = 2 * 1024 * 1024;
const TARGETING_WHY = 'targeted rate limits (destinations, ports) are in progress; this fault limits the whole interface';

function params(ctx: ValidationContext) {
  return {
    networkInterfaces: interfacesParam({
      name: 'networkInterfaces',
      interfaces: ctx.host.interfaces,
      fallback: ctx.host.defaultInterface,
      description: 'interfaces whose egress is limited ("eth0,eth1" or a list)',
    }),
    networkBandwidth: parsedParam({
      name: 'networkBandwidth', type: 'tc rate', default: '1mbit', min: 125, max: MAX_RATE_BYTES, bounds: '1kbit–100gbit',
      parse: parseTcRate, formatHint: 'a tc rate like "1mbit", "512kbit", "10gbit"',
      description: 'egress bandwidth ceiling',
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
    destinationHosts: notYetParam('destinationHosts', TARGETING_WHY),
    destinationIPs: notYetParam('destinationIPs', TARGETING_WHY),
    sourcePorts: notYetParam('sourcePorts', TARGETING_WHY),
    destinationPorts: notYetParam('destinationPorts', TARGETING_WHY),
    whitelistSSH: booleanParam({ name: 'whitelistSSH', default: true, description: 'keep SSH out of the fault (with a whole-interface limit, SSH is slowed like all traffic)' }),
  };
}

export const linuxNetworkRateLimit = defineInjector({
  kind: 'linux-network-rate-limit',
  summary: 'Cap the egress bandwidth of network interfaces (tbf)',
  paramAliases: {
    NETWORK_INTERFACES: 'networkInterfaces', NETWORK_BANDWIDTH: 'networkBandwidth', BURST: 'burst', LIMIT: 'limit',
    PEAK_RATE: 'peakRate', MIN_BURST: 'minBurst', DESTINATION_HOSTS: 'destinationHosts', DESTINATION_IPS: 'destinationIPs',
    SOURCE_PORTS: 'sourcePorts', DESTINATION_PORTS: 'destinationPorts', WHITELIST_SSH: 'whitelistSSH',
  },
  paramsSchema(ctx) {
    return paramsObject(params(ctx))
      .superRefine((v, c) => {
        if (v.limit !== undefined && v.latency !== undefined) c.addIssue({ code: 'custom', path: ['latency'], message: 'give either limit or latency, not both' });
        for (const name of v.networkInterfaces) {
          const mtu = ctx.host.interfaces.find((i) => i.name === name)?.mtu ?? 1500;
          const frame = mtu + FRAME_OVERHEAD_BYTES;
          if (v.burst < frame) c.addIssue({ code: 'custom', path: ['burst'], input: v.burst, message: `${v.burst} bytes is less than one frame on ${name} (MTU ${mtu} + ${FRAME_OVERHEAD_BYTES}): no packet could pass` });
          if (v.limit !== undefined && v.limit < frame) c.addIssue({ code: 'custom', path: ['limit'], input: v.limit, message: `${v.limit} bytes is less than one frame on ${name} (MTU ${mtu} + ${FRAME_OVERHEAD_BYTES}): every packet would be dropped` });
        }
      })
      // tc takes a queue limit or a latency; Harness's default limit applies when neither is given.
      .transform((v) => ({ ...v, limit: v.limit ?? (v.latency === undefined ? DEFAULT_LIMIT_BYTES : 0), latency: v.latency ?? 0 }));
  },
  paramDocs: (ctx) => Object.values(params(ctx)).map((p) => p.doc),
  exclusiveTargets: (p) => p.networkInterfaces.map((name) => `netdev:${name}/root-qdisc`),
  revertSchema: z.object({
    bootId: z.string(),
    interfaces: z.array(z.object({ name: z.string(), previous: RootSnapshotSchema })),
  }),
  async plan(_faultId, p, ctx) {
    const tbf = { rateBytesPerSec: p.networkBandwidth, burstBytes: p.burst, limitBytes: p.limit, latencyUs: p.latency * 1000 };
    const interfaces: { name: string; previous: RootSnapshot }[] = [];
    for (const name of p.networkInterfaces) interfaces.push({ name, previous: await snapshotRoot(ctx.native, name) });
    const queue = p.limit > 0 ? `limit ${formatBytes(p.limit)}` : `latency ${p.latency}ms`;
    const what = `tbf ${formatHandle(FAULTD_QDISC_HANDLE)} rate ${formatRate(p.networkBandwidth)} burst ${formatBytes(p.burst)} ${queue}`;
    const revert = { bootId: ctx.host.bootId, interfaces };
    return {
      target: `${p.networkInterfaces.join(',')} egress ≤ ${formatRate(p.networkBandwidth)}`,
      changes: [
        ...interfaces.map((i) => `replace root qdisc ${i.previous.kind} ${formatHandle(i.previous.handle)} on ${i.name} with ${what} (rtnetlink RTM_NEWQDISC)`),
        ...(p.whitelistSSH ? ['note: the whole interface is limited, SSH included (it is slowed, not cut)'] : []),
      ],
      revertSteps: interfaces.map((i) => describeRestore(i.name, i.previous)),
      revert,
      async apply(recordApplied) {
        const options = ctx.native.tbfOptions(tbf);
        for (const i of interfaces) {
          // Over a default root, add exclusively: if someone installed a qdisc since the snapshot,
          // the kernel refuses rather than letting us overwrite it.
          await ctx.native.qdiscReplace({ ifname: i.name, parent: TC_H_ROOT, handle: FAULTD_QDISC_HANDLE, kind: 'tbf', options, exclusive: i.previous.handle === 0 });
        }
        await recordApplied(revert);
        const first = p.networkInterfaces[0] ?? '';
        let last = { bytes: txBytes(first), at: process.hrtime.bigint() };
        return {
          measure() {
            const now = { bytes: txBytes(first), at: process.hrtime.bigint() };
            const rate = now.bytes !== undefined && last.bytes !== undefined ? ((now.bytes - last.bytes) * 1e9) / Number(now.at - last.at) : undefined;
            last = now;
            return rate === undefined ? `${first} gone` : `${first} tx ${formatRate(rate)}`;
          },
          ended: new Promise<string>(() => undefined),
        };
      },
    };
  },
  async revert(record, ctx) {
    if (record.bootId !== ctx.host.bootId) return { outcome: 'already-absent', detail: 'qdiscs do not survive a reboot' };
    const restored: string[] = [];
    const failures: { name: string; error: string; fix: string }[] = [];
    for (const i of record.interfaces) {
      try {
        if ((await restoreRoot(ctx.native, i.name, i.previous)) === 'restored') restored.push(i.name);
      } catch (error) {
        failures.push({ name: i.name, error: error instanceof Error ? error.message : String(error), fix: manualRestore(i.name, i.previous) });
      }
    }
    if (failures.length > 0) {
      throw new RevertError(
        failures.map((f) => `${f.name}: ${f.error}`).join('; '),
        failures.map((f) => `faultd's tbf root qdisc ${formatHandle(FAULTD_QDISC_HANDLE)} on ${f.name}`).join(', '),
        failures.map((f) => f.fix).join(' && '),
      );
    }
    if (restored.length === 0) return { outcome: 'already-absent', detail: 'no faultd qdisc was left' };
    return { outcome: 'reverted', detail: `root qdisc restored on ${restored.join(', ')}` };
  },
  support(ctx) {
    const admin = ctx.host.isRoot || (ctx.host.capEff & (1n << 12n)) !== 0n;
    return {
      supported: admin,
      notes: [
        admin ? 'CAP_NET_ADMIN: yes' : 'needs root or CAP_NET_ADMIN to change qdiscs',
        `interfaces: ${ctx.host.interfaces.map((i) => i.name).join(', ')}; default route via ${ctx.host.defaultInterface ?? '(none)'}`,
        'needs the tbf qdisc (sch_tbf); a kernel without it fails with RTM_NEWQDISC ENOENT "Specified qdisc kind is unknown"',
      ],
    };
  },
});
