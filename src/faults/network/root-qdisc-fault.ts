// SPDX-License-Identifier: Apache-2.0
/**
 * The mechanism shared by the qdisc-based network faults (tbf rate limit, netem latency, loss,
 * corruption, duplication, reorder): snapshot each interface's root qdisc into the plan (so it
 * is in the ledger's intent before anything changes), install faultd's qdisc as the root, and
 * restore the snapshot exactly at revert.
 *
 * Ingress (packets the host receives): qdiscs only act on egress, so faultd creates its own IFB
 * device per interface, gives it the fault's qdisc tree as its root, adds an `ingress` qdisc to
 * the interface and a u32 match-all filter that redirects every arriving packet to the IFB
 * (`action mirred egress redirect`). Revert deletes the ingress qdisc (and so the redirect),
 * then the IFB device, and verifies both are gone. An interface that already has an ingress or
 * clsact qdisc is refused: faultd never shares one.
 */
import { z } from 'zod';

import { txBytes } from '../../host/interfaces.js';
import { RevertError, type ActiveFault, type Planned, type RevertOutcome } from '../types.js';
import type { NetworkFaultContext } from './context.js';
import {
  describeRestore,
  faultQdiscHandle,
  formatHandle,
  manualRestore,
  restoreRoot,
  RootSnapshotSchema,
  snapshotRoot,
  TC_H_ROOT,
  type RootSnapshot,
} from './root-qdisc.js';
import { FaultdError } from '../../errors.js';
import type { NativeAddon, U32MatchSpec } from '../../native/addon.js';
import { MAX_FILTERS, type Steering } from './steer.js';
import { fnv1a32, INGRESS_PARENTS, TC_H_INGRESS } from './tc-handles.js';
import { formatRate } from './tc-units.js';

export const RootQdiscRevertSchema = z.object({
  bootId: z.string(),
  /** This fault's root qdisc handle (see faultQdiscHandle). */
  handle: z.number().int().positive(),
  /**
   * Devices whose root qdisc faultd replaces. With `ingressOf`, `name` is faultd's own IFB
   * device, created for the ingress of interface `ingressOf`.
   */
  interfaces: z.array(z.object({ name: z.string(), previous: RootSnapshotSchema, ingressOf: z.string().optional() })),
});
export type RootQdiscRevert = z.infer<typeof RootQdiscRevertSchema>;

export interface RootQdiscRequest {
  readonly faultId: string;
  readonly interfaces: readonly string[];
  readonly direction: 'egress' | 'ingress';
  readonly kind: 'tbf' | 'netem';
  /** Builds the TCA_OPTIONS attribute (called at apply time). */
  options(): Uint8Array;
  /** What the qdisc does, for --dry-run (`tbf rate 1 Mbit/s …`; the handle is added). */
  readonly describe: string;
  readonly target: string;
  /** Which packets the fault touches; absent = every packet of the interfaces. */
  readonly steer?: Steering;
}

/** Rate of the htb classes: high enough never to shape (100 Gbit/s). */
const UNSHAPED_BYTES_PER_SEC = 100e9 / 8;
const CLEAN_MINOR = 1;
const ETH_P_IPV6 = 0x86dd;
const ETH_P_ARP = 0x0806;
const ARP_PRIO = 9;
const FAULT_MINOR = 2;

function classId(handle: number, minor: number): number {
  return ((handle & 0xffff0000) | minor) >>> 0;
}

/** The leaf qdisc below the fault class: the root's major shifted into e000:–eeff:. */
function leafHandle(handle: number): number {
  return ((handle >>> 16) - 0x1000) * 0x10000;
}

function describeMatch(m: U32MatchSpec): string {
  const parts: string[] = [`ipv${m.ipVersion ?? 4}`];
  if (m.address) parts.push(`${m.matchSourceAddress ? 'from' : 'to'} ${m.address}/${m.prefixLen ?? (m.ipVersion === 6 ? 128 : 32)}`);
  if (m.l4proto) parts.push(m.l4proto);
  if (m.port) parts.push(`${m.matchSourcePort ? 'sport' : 'dport'} ${m.port}`);
  return parts.join(' ');
}

/** Steering that needs the classful layout (anything but "every packet, nothing spared"). */
function classful(steer: Steering | undefined): steer is Steering {
  return steer !== undefined && !(steer.everything && steer.spare.length === 0);
}

/** The exclusive resource each interface's root (egress) or ingress qdisc is. */
export function rootQdiscTargets(interfaces: readonly string[], direction: 'egress' | 'ingress' = 'egress'): string[] {
  return interfaces.map((name) => `netdev:${name}/${direction === 'egress' ? 'root' : 'ingress'}-qdisc`);
}

const INGRESS_HANDLE = 0xffff0000;

/** faultd's IFB device for the ingress of `ifname` in fault `faultId`: `fdi` + 8 hex digits. */
export function ifbName(faultId: string, ifname: string): string {
  return `fdi${fnv1a32(`${faultId}/${ifname}`).toString(16).padStart(8, '0')}`;
}

/** Refuses an interface whose ingress already has a qdisc (ingress or clsact): faultd does not share it. */
function checkNoIngressQdisc(native: NativeAddon, ifname: string): void {
  const existing = native.qdiscList(ifname).find((q) => INGRESS_PARENTS.has(q.parent));
  if (existing) {
    throw new FaultdError(
      'FAULTD_ERR_FAULT_UNSUPPORTED',
      `${ifname} already has an ${existing.kind} qdisc (${formatHandle(existing.handle)}) on its ingress, which faultd will not share; remove it or use direction: egress`,
    );
  }
}

function txRateMeasure(ifname: string): ActiveFault['measure'] {
  let last = { bytes: txBytes(ifname), at: process.hrtime.bigint() };
  return () => {
    const now = { bytes: txBytes(ifname), at: process.hrtime.bigint() };
    const rate = now.bytes !== undefined && last.bytes !== undefined ? ((now.bytes - last.bytes) * 1e9) / Number(now.at - last.at) : undefined;
    last = now;
    return rate === undefined ? `${ifname} gone` : `${ifname} tx ${formatRate(rate)}`;
  };
}

export function planRootQdisc(request: RootQdiscRequest, ctx: NetworkFaultContext): Planned<RootQdiscRevert> {
  const interfaces: { name: string; previous: RootSnapshot; ingressOf?: string }[] = [];
  for (const name of request.interfaces) {
    if (request.direction === 'egress') {
      interfaces.push({ name, previous: snapshotRoot(ctx.native, name) });
    } else {
      checkNoIngressQdisc(ctx.native, name);
      // A new IFB device starts with the default root (noqueue); the device goes at revert.
      interfaces.push({ name: ifbName(request.faultId, name), previous: { kind: 'noqueue', handle: 0, options: '' }, ingressOf: name });
    }
  }
  const handle = faultQdiscHandle(request.faultId);
  const revert: RootQdiscRevert = { bootId: ctx.host.bootId, handle, interfaces };
  const steer = request.steer;
  const steered = classful(steer);
  if (steered && (steer.spare.length + steer.affect.length) > MAX_FILTERS) {
    throw new FaultdError('FAULTD_ERR_INPUT_INVALID', `the targets expand to ${steer.spare.length + steer.affect.length} u32 filters, more than ${MAX_FILTERS}`);
  }
  const layout = steered
    ? [
        `  htb ${formatHandle(handle)} root (default ${steer.everything ? 'fault' : 'clean'} class), classes :${CLEAN_MINOR} clean and :${FAULT_MINOR} fault (unshaped, 100 Gbit/s), ${request.kind} ${formatHandle(leafHandle(handle))} ${request.describe} below :${FAULT_MINOR}`,
        ...steer.spare.map((m) => `  u32 filter: ${describeMatch(m)} → clean (checked first)`),
        ...(steer.everything ? ['  u32 filter: arp → clean (neighbour resolution, and with it every spared address, stays reachable)'] : []),
        ...steer.affect.map((m) => `  u32 filter: ${describeMatch(m)} → fault`),
      ]
    : [];
  const ingressSteps = (i: (typeof interfaces)[number]): string[] =>
    i.ingressOf
      ? [
          `create IFB device ${i.name} and set it up (rtnetlink RTM_NEWLINK)`,
          `add ingress qdisc ffff: on ${i.ingressOf}, with a u32 match-all filter redirecting every arriving packet to ${i.name} (action mirred egress redirect)`,
        ]
      : [];
  return {
    target: request.target,
    changes: [
      ...interfaces.flatMap((i) => [
        ...ingressSteps(i),
        ...(steered
          ? [`replace root qdisc ${i.previous.kind} ${formatHandle(i.previous.handle)} on ${i.name} with (rtnetlink):`, ...layout]
          : [`replace root qdisc ${i.previous.kind} ${formatHandle(i.previous.handle)} on ${i.name} with ${request.kind} ${formatHandle(handle)} ${request.describe} (rtnetlink RTM_NEWQDISC)`]),
      ]),
    ],
    revertSteps: interfaces.map((i) => (i.ingressOf ? `delete the ingress qdisc of ${i.ingressOf} (and its redirect), then IFB device ${i.name}` : describeRestore(i.name, i.previous))),
    revert,
    async apply(recordApplied) {
      const options = request.options();
      for (const i of interfaces) {
        if (i.ingressOf) ctx.native.linkAdd({ name: i.name, kind: 'ifb' });
        // Over a default root, add exclusively: if someone installed a qdisc since the snapshot,
        // the kernel refuses rather than letting us overwrite it.
        const exclusive = i.previous.handle === 0;
        if (!steered) {
          ctx.native.qdiscReplace({ ifname: i.name, parent: TC_H_ROOT, handle, kind: request.kind, options, exclusive });
          continue;
        }
        const native = ctx.native;
        native.qdiscReplace({ ifname: i.name, parent: TC_H_ROOT, handle, kind: 'htb', options: native.htbQdiscOptions(steer.everything ? FAULT_MINOR : CLEAN_MINOR), exclusive });
        const classOptions = native.htbClassOptions({ rateBytesPerSec: UNSHAPED_BYTES_PER_SEC });
        for (const minor of [CLEAN_MINOR, FAULT_MINOR]) native.classReplace({ ifname: i.name, parent: handle, classid: classId(handle, minor), kind: 'htb', options: classOptions });
        native.qdiscReplace({ ifname: i.name, parent: classId(handle, FAULT_MINOR), handle: leafHandle(handle), kind: request.kind, options, exclusive: true });
        const filters: [U32MatchSpec, number, number][] = [
          ...steer.spare.map((m): [U32MatchSpec, number, number] => [m, 1, CLEAN_MINOR]),
          ...steer.affect.map((m): [U32MatchSpec, number, number] => [m, 2, FAULT_MINOR]),
        ];
        for (const [match, order, minor] of filters) {
          const u32 = native.u32Options(match, classId(handle, minor));
          // A priority holds one protocol: IPv4 and IPv6 filters of one kind get adjacent ones.
          const prio = order * 2 - (u32.protocol === ETH_P_IPV6 ? 0 : 1);
          native.filterAdd({ ifname: i.name, parent: handle, prio, protocol: u32.protocol, kind: 'u32', options: u32.options });
        }
        if (steer.everything) {
          // The default class is the fault's: keep ARP out of it, or a lossy or slow fault could
          // starve neighbour resolution, and with it every address the fault spares.
          const matchAll = native.u32Options({ ipVersion: 4 }, classId(handle, CLEAN_MINOR));
          native.filterAdd({ ifname: i.name, parent: handle, prio: ARP_PRIO, protocol: ETH_P_ARP, kind: 'u32', options: matchAll.options });
        }
      }
      // Redirect last: the IFB's qdiscs are in place before the first packet arrives there.
      for (const i of interfaces) {
        if (!i.ingressOf) continue;
        ctx.native.qdiscReplace({ ifname: i.ingressOf, parent: TC_H_INGRESS, handle: INGRESS_HANDLE, kind: 'ingress', exclusive: true });
        const redirect = ctx.native.u32RedirectOptions(ctx.native.linkIndex(i.name));
        ctx.native.filterAdd({ ifname: i.ingressOf, parent: INGRESS_HANDLE, prio: 1, protocol: redirect.protocol, kind: 'u32', options: redirect.options });
      }
      await recordApplied(revert);
      return { measure: txRateMeasure(interfaces[0]?.name ?? ''), ended: new Promise<string>(() => undefined) };
    },
  };
}

/** Restores every interface's root qdisc; verified and idempotent. */
export function revertRootQdisc(record: RootQdiscRevert, ctx: NetworkFaultContext): Promise<RevertOutcome> {
  return Promise.resolve().then(() => restoreAll(record, ctx));
}

function restoreAll(record: RootQdiscRevert, ctx: NetworkFaultContext): RevertOutcome {
  // After a reboot the qdiscs are gone, and that is checked rather than assumed: a container
  // that shares its host's network namespace gets a new boot id at each start, and its faults
  // are still on the host. Only what is provably faultd's is touched: a root qdisc with faultd's
  // handle, and an ingress redirect while faultd's own IFB device still exists.
  const rebooted = record.bootId !== ctx.host.bootId;
  const restored: string[] = [];
  const failures: { name: string; error: string; fix: string }[] = [];
  for (const i of record.interfaces) {
    try {
      if (i.ingressOf && rebooted && !linkExists(ctx.native, i.name)) continue;
      if (i.ingressOf) {
        if (removeIngress(ctx.native, i.ingressOf, i.name)) restored.push(`${i.ingressOf} ingress`);
      } else if (restoreRoot(ctx.native, i.name, i.previous, record.handle, rebooted) === 'restored') {
        restored.push(i.name);
      }
    } catch (error) {
      const fix = i.ingressOf ? `tc qdisc del dev ${i.ingressOf} ingress; ip link del ${i.name}` : manualRestore(i.name, i.previous);
      failures.push({ name: i.ingressOf ?? i.name, error: error instanceof Error ? error.message : String(error), fix });
    }
  }
  if (failures.length > 0) {
    throw new RevertError(
      failures.map((f) => `${f.name}: ${f.error}`).join('; '),
      failures.map((f) => `faultd's root qdisc ${formatHandle(record.handle)} on ${f.name}`).join(', '),
      failures.map((f) => f.fix).join(' && '),
    );
  }
  if (restored.length === 0) return { outcome: 'already-absent', detail: rebooted ? 'checked after a reboot: no faultd qdisc was left' : 'no faultd qdisc was left' };
  return { outcome: 'reverted', detail: `root qdisc restored on ${restored.join(', ')}` };
}

function linkExists(native: NativeAddon, name: string): boolean {
  try {
    native.linkIndex(name);
    return true;
  } catch (error) {
    if (codeOf(error) === 'ENODEV') return false;
    throw error;
  }
}

function codeOf(error: unknown): string | undefined {
  return (error as { code?: string }).code;
}

/**
 * Whether the ingress qdisc of `ifname` is one faultd added: kind `ingress` (never clsact), with
 * no filter but u32 redirects (mirred). Anything else was added by someone else after the plan's
 * check and is left alone; the revert then reports it instead of deleting it.
 */
function ingressIsOurs(native: NativeAddon, ifname: string): boolean {
  let qdisc;
  try {
    qdisc = native.qdiscList(ifname).find((q) => q.parent === TC_H_INGRESS);
  } catch (error) {
    if (codeOf(error) === 'ENODEV') return false;
    throw error;
  }
  if (!qdisc) return false;
  if (qdisc.kind !== 'ingress') throw new Error(`${ifname} now has a ${qdisc.kind} qdisc on its ingress, which faultd did not add; left untouched`);
  for (const f of native.filterList(ifname, INGRESS_HANDLE)) {
    // Per-priority headers and the u32 root table carry no action; keys must carry faultd's redirect.
    const node = f.kind === 'u32' ? f.u32 : undefined;
    const ours = node !== undefined && (node.node !== 'key' || node.actions.includes('mirred'));
    if (!ours) {
      throw new Error(`the ingress qdisc of ${ifname} now has a ${f.kind} filter faultd did not add; left untouched`);
    }
  }
  return true;
}

/**
 * Deletes the ingress qdisc of `ifname` (taking the redirect filter with it) and the IFB device,
 * then verifies both are gone. True if anything was removed; idempotent.
 */
function removeIngress(native: NativeAddon, ifname: string, ifb: string): boolean {
  let removed = false;
  let foreign: Error | undefined;
  let ours = false;
  try {
    ours = ingressIsOurs(native, ifname);
  } catch (error) {
    foreign = error instanceof Error ? error : new Error(String(error)); // reported after faultd's own IFB is gone
  }
  if (ours) {
    try {
      native.qdiscDelete({ ifname, parent: TC_H_INGRESS, handle: INGRESS_HANDLE });
      removed = true;
    } catch (error) {
      // No interface, or no ingress qdisc (ENOENT/EINVAL): nothing to remove there.
      if (!['ENODEV', 'ENOENT', 'EINVAL'].includes(codeOf(error) ?? '')) throw error;
    }
  }
  if (native.linkDelete(ifb)) removed = true;
  if (foreign !== undefined) throw foreign;
  let leftIngress = false;
  try {
    leftIngress = native.qdiscList(ifname).some((q) => q.parent === TC_H_INGRESS && q.kind === 'ingress');
  } catch (error) {
    if (codeOf(error) !== 'ENODEV') throw error;
  }
  let leftIfb = true;
  try {
    native.linkIndex(ifb);
  } catch (error) {
    if (codeOf(error) !== 'ENODEV') throw error;
    leftIfb = false;
  }
  if (leftIngress || leftIfb) throw new Error(`${[leftIngress ? `ingress qdisc of ${ifname}` : '', leftIfb ? `IFB device ${ifb}` : ''].filter(Boolean).join(' and ')} still there after delete`);
  return removed;
}

/** Doctor notes shared by the qdisc faults. */
export function qdiscSupport(ctx: NetworkFaultContext, kind: string, supported: { supported: boolean; reason: string }) {
  const admin = ctx.host.isRoot || (ctx.host.capEff & (1n << 12n)) !== 0n;
  const ingress = ingressProblem(ctx);
  return {
    supported: admin && supported.supported,
    notes: [
      admin ? 'CAP_NET_ADMIN: yes' : 'needs root or CAP_NET_ADMIN to change qdiscs',
      supported.supported ? `${kind} qdisc: available` : `${kind} qdisc: missing (needs sch_${kind}): ${supported.reason}`,
      ingress ? `direction ingress: refused (${ingress}); egress works` : 'direction ingress: IFB device and ingress qdisc available',
      `interfaces: ${ctx.network.interfaces.map((i) => i.name).join(', ')}; default route via ${ctx.network.defaultInterface ?? '(none)'}`,
    ],
  };
}

/** Why ingress (an IFB device fed by an ingress qdisc) cannot be done on this kernel, or undefined when it can. */
export function ingressProblem(ctx: Pick<NetworkFaultContext, 'features'>): string | undefined {
  const ifb = ctx.features.ifb?.();
  return ifb && !ifb.supported ? `needs an IFB device and an ingress qdisc (ifb, sch_ingress), which this kernel lacks: ${ifb.reason}` : undefined;
}

/** Adds the refusal of `direction: ingress` where ingressProblem says so (faults whose ingress goes through an IFB). */
export function refineIngress(direction: 'egress' | 'ingress', ctx: Pick<NetworkFaultContext, 'features'>, issue: (path: string, message: string) => void): void {
  const problem = direction === 'ingress' ? ingressProblem(ctx) : undefined;
  if (problem) issue('direction', `ingress ${problem}; use direction egress`);
}
