// SPDX-License-Identifier: Apache-2.0
/**
 * A recording fake of the addon's netlink surface (tc, links, nf_tables), for unit tests of the
 * network faults without root. It keeps a small model of kernel state (per device: qdiscs,
 * classes, filters; nf_tables chains) that the calls change the way the kernel does, records
 * every call with its arguments, and can be scripted: prior state (a configured root qdisc, an
 * htb tree, a foreign ingress qdisc) and failures of chosen calls.
 *
 * Encoders return readable tokens (`netem{"lossPct":30}`) instead of TCA_OPTIONS bytes: the
 * bytes are the addon's business and are tested against iproute2 by the privileged tests; here
 * only which options went where matters. u32 dumps are decoded from those tokens the way the
 * addon decodes real ones (a key replays as the options that added it).
 */
import type { FilterInfo, NativeAddon, NftChainSpec, QdiscInfo, U32Node, XtablesChainSpec } from '../../src/native/addon.js';

/** The members of NativeAddon this fake stands in for. */
export type NetlinkMember =
  | 'netemOptions' | 'tbfOptions' | 'htbQdiscOptions' | 'htbClassOptions' | 'u32Options' | 'u32RedirectOptions'
  | 'linkIndex' | 'linkAdd' | 'linkDelete'
  | 'qdiscList' | 'qdiscReplace' | 'qdiscDelete' | 'classList' | 'classReplace' | 'filterList' | 'filterAdd'
  | 'nftAddChain' | 'nftDeleteChain' | 'nftListChains' | 'conntrackDeleteFlows'
  | 'xtablesAddChain' | 'xtablesDeleteChain' | 'xtablesListChains';
export type NetlinkSurface = Pick<NativeAddon, NetlinkMember>;

/** The process calls of the NFQUEUE delayer's lifecycle, recorded in the same log (see recordingProcesses). */
export type ProcessMember = 'processStartTime' | 'killProcess';

export interface RecordedCall {
  readonly method: NetlinkMember | ProcessMember;
  readonly args: readonly unknown[];
}

export const TC_H_ROOT = 0xffffffff;
export const TC_H_INGRESS = 0xfffffff1;
const INGRESS_HANDLE = 0xffff0000;
const ETH_P_IPV6 = 0x86dd;
const ETH_P_ALL = 0x0003;
const TCA_U32_ACT = 7;

/** Options of a scripted object: readable text standing for the bytes the kernel would dump. */
export function token(text: string): Uint8Array {
  return Buffer.from(text);
}

/** A kernel error as the addon throws it: an Error with the errno name as `code`. */
export function kernelError(code: string, syscall: string, detail = ''): Error {
  return Object.assign(new Error(`${syscall} ${code}${detail ? `: ${detail}` : ''}`), { code, syscall });
}

export interface FakeDevice {
  ifindex: number;
  qdiscs: QdiscInfo[];
  classes: QdiscInfo[];
  filters: FilterInfo[];
  /** What the kernel attaches as the root when the configured one is deleted (absent = nothing dumped). */
  defaultRoot?: QdiscInfo;
}

/** Scripted start state of one device: its root qdisc and, for a tree, what hangs below it. */
export interface DeviceScript {
  readonly root?: QdiscInfo;
  readonly qdiscs?: readonly QdiscInfo[];
  readonly classes?: readonly QdiscInfo[];
  readonly filters?: readonly FilterInfo[];
}

interface Failure {
  readonly method: NetlinkMember;
  readonly when: (args: readonly unknown[]) => boolean;
  /** Thrown; undefined = the call is acknowledged and does nothing. */
  readonly error: Error | undefined;
  remaining: number;
}

const hex = (n: number) => (n >>> 0).toString(16);
/** `f123:` for a qdisc handle, `f123:2` for a class, `root`/`ingress` for the special parents. */
export function tcHandle(h: number): string {
  if (h === TC_H_ROOT) return 'root';
  if (h === TC_H_INGRESS) return 'ingress';
  return `${hex(h >>> 16)}:${h & 0xffff ? hex(h & 0xffff) : ''}`;
}
const text = (bytes: Uint8Array | undefined) => (bytes ? Buffer.from(bytes).toString() : '-');
const copy = <T>(items: readonly T[]): T[] => items.map((i) => ({ ...i }));

const xtKey = (table: string, family: 4 | 6 | undefined): string => `${family === 6 ? 'ip6' : 'ip'}:${table}`;

/** The fake kernel: call `surface` members through a context's `native`, then read `calls`/`log()`/`state()`. */
export class FakeNetlink {
  readonly devices = new Map<string, FakeDevice>();
  readonly nft = new Map<string, string[]>();
  /** x_tables user chains by `ip:<table>` / `ip6:<table>` (tables exist from the start, as the kernel brings them up on first use). */
  readonly xtables = new Map<string, string[]>();
  readonly calls: RecordedCall[] = [];
  readonly #failures: Failure[] = [];
  #nextIfindex = 1;

  /** Devices present from the start, each with a default root (`noqueue 0:`) unless scripted otherwise. */
  constructor(devices: Readonly<Record<string, DeviceScript>> = { eth0: {} }) {
    for (const [name, script] of Object.entries(devices)) this.addDevice(name, script);
  }

  addDevice(name: string, script: DeviceScript = {}): FakeDevice {
    const defaultRoot: QdiscInfo = { handle: 0, parent: TC_H_ROOT, kind: 'noqueue', options: new Uint8Array() };
    const root = script.root ?? defaultRoot;
    const device: FakeDevice = {
      ifindex: this.#nextIfindex++,
      qdiscs: [{ ...root }, ...copy(script.qdiscs ?? [])],
      classes: copy(script.classes ?? []),
      filters: copy(script.filters ?? []),
      defaultRoot,
    };
    this.devices.set(name, device);
    return device;
  }

  /** Makes the next `times` calls of `method` (matching `when`) throw `error` instead of acting. */
  fail(method: NetlinkMember, error: Error, options: { when?: (args: readonly unknown[]) => boolean; times?: number } = {}): void {
    this.#failures.push({ method, error, when: options.when ?? (() => true), remaining: options.times ?? 1 });
  }

  /** Makes the next `times` calls of `method` (a change: nothing is returned) succeed without changing anything. */
  ignore(method: 'qdiscReplace' | 'qdiscDelete' | 'classReplace' | 'filterAdd' | 'linkAdd' | 'nftAddChain', options: { times?: number } = {}): void {
    this.#failures.push({ method, error: undefined, when: () => true, remaining: options.times ?? 1 });
  }

  /** The recorded calls as one line each (`qdiscReplace eth0 root f123: tbf{…} exclusive`). */
  log(): string[] {
    return this.calls.map(describeCall);
  }

  /** Forgets the recorded calls (the state stays). */
  clearLog(): void {
    this.calls.length = 0;
  }

  /** Everything the kernel holds, in a form to compare before and after (options as text, in a stable order). */
  state(): unknown {
    const byPosition = (a: { parent: number; handle: number; prio?: number }, b: { parent: number; handle: number; prio?: number }) =>
      a.parent - b.parent || (a.prio ?? 0) - (b.prio ?? 0) || a.handle - b.handle;
    const plain = (o: QdiscInfo) => ({ ...o, options: text(o.options) });
    const plainFilter = (f: FilterInfo) => ({ ...f, ...(f.u32?.node === 'key' ? { u32: { ...f.u32, replayOptions: text(f.u32.replayOptions) } } : {}) });
    return {
      devices: Object.fromEntries(
        [...this.devices].map(([name, d]) => [
          name,
          { qdiscs: [...d.qdiscs].sort(byPosition).map(plain), classes: [...d.classes].sort(byPosition).map(plain), filters: [...d.filters].sort(byPosition).map(plainFilter) },
        ]),
      ),
      nft: Object.fromEntries(this.nft),
      xtables: Object.fromEntries([...this.xtables].filter(([, chains]) => chains.length > 0)),
    };
  }

  /** The NativeAddon members, each recording its call first. */
  readonly surface: NetlinkSurface = {
    netemOptions: (spec) => this.#call('netemOptions', [spec], () => token(`netem${JSON.stringify(spec)}`)),
    tbfOptions: (spec) => this.#call('tbfOptions', [spec], () => token(`tbf${JSON.stringify(spec)}`)),
    htbQdiscOptions: (defaultMinor) => this.#call('htbQdiscOptions', [defaultMinor], () => token(`htb{"default":${defaultMinor}}`)),
    htbClassOptions: (spec) => this.#call('htbClassOptions', [spec], () => token(`htbclass{"rate":${spec.rateBytesPerSec}}`)),
    u32Options: (match, classid) =>
      this.#call('u32Options', [match, classid], () => ({ options: token(`u32${JSON.stringify(match)}>${tcHandle(classid)}`), protocol: match.ipVersion === 6 ? ETH_P_IPV6 : 0x0800 })),
    u32RedirectOptions: (ifindex) => this.#call('u32RedirectOptions', [ifindex], () => ({ options: token(`redirect>${ifindex}`), protocol: ETH_P_ALL })),
    linkIndex: (name) => this.#call('linkIndex', [name], () => this.#device(name, 'RTM_GETLINK').ifindex),
    linkAdd: (request) =>
      this.#call('linkAdd', [request], () => {
        if (this.devices.has(request.name)) throw kernelError('EEXIST', 'RTM_NEWLINK');
        // A new IFB device starts with the default root (noqueue), which dumps nothing.
        const device = this.addDevice(request.name);
        device.qdiscs = [];
        delete device.defaultRoot;
      }),
    linkDelete: (name) => this.#call('linkDelete', [name], () => this.devices.delete(name)),
    qdiscList: (ifname) => this.#call('qdiscList', [ifname], () => copy(this.#device(ifname, 'RTM_GETQDISC').qdiscs)),
    classList: (ifname) => this.#call('classList', [ifname], () => copy(this.#device(ifname, 'RTM_GETTCLASS').classes)),
    filterList: (ifname, parent) => this.#call('filterList', [ifname, parent], () => copy(this.#device(ifname, 'RTM_GETTFILTER').filters.filter((f) => f.parent === parent))),
    qdiscReplace: (request) => this.#call('qdiscReplace', [request], () => this.#qdiscReplace(request)),
    qdiscDelete: (request) => this.#call('qdiscDelete', [request], () => this.#qdiscDelete(request)),
    classReplace: (request) =>
      this.#call('classReplace', [request], () => {
        const d = this.#device(request.ifname, 'RTM_NEWTCLASS');
        const belowQdisc = (request.parent & 0xffff) === 0;
        if (belowQdisc ? !d.qdiscs.some((q) => q.handle === request.parent) : !d.classes.some((c) => c.handle === request.parent)) throw kernelError('ENOENT', 'RTM_NEWTCLASS');
        // A class right below its qdisc dumps the root as its parent, as the kernel does.
        const entry: QdiscInfo = { handle: request.classid, parent: belowQdisc ? TC_H_ROOT : request.parent, kind: request.kind, options: request.options };
        d.classes = [...d.classes.filter((c) => c.handle !== request.classid), entry];
      }),
    filterAdd: (request) => this.#call('filterAdd', [request], () => this.#filterAdd(request)),
    nftAddChain: (spec) =>
      this.#call('nftAddChain', [spec], () => {
        const table = spec.table ?? 'faultd';
        const chains = this.nft.get(table) ?? [];
        if (chains.includes(spec.chain)) throw kernelError('EEXIST', 'NFT_MSG_NEWCHAIN');
        this.nft.set(table, [...chains, spec.chain]);
      }),
    nftDeleteChain: (table, chain) =>
      this.#call('nftDeleteChain', [table, chain], () => {
        const chains = this.nft.get(table) ?? [];
        if (!chains.includes(chain)) return false;
        const left = chains.filter((c) => c !== chain);
        if (left.length) this.nft.set(table, left);
        else this.nft.delete(table); // the table goes with its last chain
        return true;
      }),
    nftListChains: (table) => this.#call('nftListChains', [table], () => [...(this.nft.get(table) ?? [])]),
    conntrackDeleteFlows: (filter) => this.#call('conntrackDeleteFlows', [filter], () => 0),
    xtablesAddChain: (spec) =>
      this.#call('xtablesAddChain', [spec], () => {
        const key = xtKey(spec.table ?? 'filter', spec.family);
        const chains = this.xtables.get(key) ?? [];
        if (chains.includes(spec.chain)) throw kernelError('EEXIST', 'setsockopt', `IPT_SO_SET_REPLACE ${spec.table ?? 'filter'}: chain ${spec.chain} exists`);
        this.xtables.set(key, [...chains, spec.chain]);
      }),
    xtablesDeleteChain: (table, chain, family) =>
      this.#call('xtablesDeleteChain', [table, chain, family ?? 4], () => {
        const chains = this.xtables.get(xtKey(table, family)) ?? [];
        if (!chains.includes(chain)) return false;
        this.xtables.set(xtKey(table, family), chains.filter((c) => c !== chain));
        return true;
      }),
    xtablesListChains: (table, family) => this.#call('xtablesListChains', [table, family ?? 4], () => [...(this.xtables.get(xtKey(table, family)) ?? [])]),
  };

  #call<T>(method: NetlinkMember, args: readonly unknown[], act: () => T): T {
    this.calls.push({ method, args });
    const failure = this.#failures.find((f) => f.method === method && f.remaining > 0 && f.when(args));
    if (failure) {
      failure.remaining -= 1;
      if (failure.error) throw failure.error;
      return undefined as T; // only for the members that return nothing (see ignore)
    }
    return act();
  }

  #device(name: string, syscall: string): FakeDevice {
    const device = this.devices.get(name);
    if (!device) throw kernelError('ENODEV', syscall, `no interface "${name}"`);
    return device;
  }

  /** Removes the qdisc `handle` of `d` and everything below it (classes, leaves, filters). */
  #removeTree(d: FakeDevice, handle: number): void {
    const major = handle & 0xffff0000;
    // root (ffff:ffff) and ingress (ffff:fff1) are not classes of an ffff: qdisc.
    const below = (parent: number) => (parent & 0xffff0000) === major && parent !== TC_H_ROOT && parent !== TC_H_INGRESS;
    d.qdiscs = d.qdiscs.filter((q) => q.handle !== handle && !below(q.parent));
    d.classes = d.classes.filter((c) => (c.handle & 0xffff0000) !== major);
    d.filters = d.filters.filter((f) => (f.parent & 0xffff0000) !== major);
  }

  #qdiscReplace(r: Parameters<NativeAddon['qdiscReplace']>[0]): void {
    const d = this.#device(r.ifname, 'RTM_NEWQDISC');
    const entry: QdiscInfo = { handle: r.handle, parent: r.parent, kind: r.kind, options: r.options ?? new Uint8Array() };
    const existing = d.qdiscs.find((q) => q.parent === r.parent);
    if (existing && r.exclusive && (existing.handle !== 0 || r.parent !== TC_H_ROOT)) throw kernelError('EEXIST', 'RTM_NEWQDISC', 'Exclusivity flag on, cannot modify');
    if (r.parent !== TC_H_ROOT && r.parent !== TC_H_INGRESS && !d.classes.some((c) => c.handle === r.parent)) throw kernelError('ENOENT', 'RTM_NEWQDISC', 'Failed to find specified qdisc');
    // A default root (handle 0) has nothing below it that a dump shows.
    if (existing && existing.handle !== 0) this.#removeTree(d, existing.handle);
    d.qdiscs = [...d.qdiscs.filter((q) => q.parent !== r.parent), entry];
  }

  #qdiscDelete(r: Parameters<NativeAddon['qdiscDelete']>[0]): void {
    const d = this.#device(r.ifname, 'RTM_DELQDISC');
    const existing = d.qdiscs.find((q) => q.parent === r.parent);
    if (!existing || (r.parent === TC_H_ROOT && existing.handle === 0)) throw kernelError('ENOENT', 'RTM_DELQDISC', 'Cannot find specified qdisc on specified device');
    if (r.handle !== undefined && r.handle !== existing.handle) throw kernelError('EINVAL', 'RTM_DELQDISC', 'Specified qdisc handle does not match');
    this.#removeTree(d, existing.handle);
    d.qdiscs = d.qdiscs.filter((q) => q !== existing);
    if (r.parent === TC_H_INGRESS) d.filters = d.filters.filter((f) => f.parent !== INGRESS_HANDLE);
    if (r.parent === TC_H_ROOT && d.defaultRoot) d.qdiscs = [{ ...d.defaultRoot }, ...d.qdiscs];
  }

  #filterAdd(r: Parameters<NativeAddon['filterAdd']>[0]): void {
    const d = this.#device(r.ifname, 'RTM_NEWTFILTER');
    if (!d.qdiscs.some((q) => q.handle === r.parent) && !d.classes.some((c) => c.handle === r.parent)) throw kernelError('EINVAL', 'RTM_NEWTFILTER', 'Parent Qdisc doesn\'t exists');
    const samePrio = d.filters.filter((f) => f.parent === r.parent && f.prio === r.prio);
    if (samePrio.some((f) => f.protocol !== r.protocol)) throw kernelError('EINVAL', 'RTM_NEWTFILTER', 'Filter with specified priority/protocol not found');
    const base = { parent: r.parent, prio: r.prio, protocol: r.protocol, chain: 0, kind: r.kind };
    if (r.kind !== 'u32') {
      d.filters.push({ ...base, handle: r.handle ?? 1 });
      return;
    }
    // The kernel dumps a header per priority and a root table (800:, 801:, …) before the keys.
    const table = (((0x800 + new Set(d.filters.filter((f) => f.parent === r.parent).map((f) => f.prio)).size) << 20) >>> 0);
    const tableHandle = samePrio.find((f) => f.u32?.node === 'table')?.handle ?? table;
    if (samePrio.length === 0) {
      d.filters.push({ ...base, handle: 0, u32: { node: 'header' } }, { ...base, handle: tableHandle, u32: { node: 'table', divisor: 1 } });
    }
    const keys = samePrio.filter((f) => f.u32?.node === 'key').length;
    d.filters.push({ ...base, handle: (tableHandle | (0x800 + keys)) >>> 0, u32: decodeToken(r.options) });
  }
}

/** What the addon's decoder says of a key added with the options `options` (see the class comment). */
function decodeToken(options: Uint8Array): U32Node {
  const redirect = text(options).startsWith('redirect>');
  return redirect
    ? { node: 'key', actions: ['mirred'], extraAttributes: [TCA_U32_ACT], replayOptions: options }
    : { node: 'key', actions: [], extraAttributes: [], replayOptions: options };
}

/** A scripted u32 key (as the addon decodes it) with its per-priority header and root table, below `parent`. */
export function u32Filter(parent: number, prio: number, protocol: number, replay: string, index = 0): FilterInfo[] {
  const table = ((0x800 + index) << 20) >>> 0;
  const base = { parent, prio, protocol, chain: 0, kind: 'u32' };
  return [
    { ...base, handle: 0, u32: { node: 'header' } },
    { ...base, handle: table, u32: { node: 'table', divisor: 1 } },
    { ...base, handle: (table | 0x800) >>> 0, u32: { node: 'key', actions: [], extraAttributes: [], replayOptions: token(replay) } },
  ];
}

/**
 * processStartTime and killProcess for a test that starts a stand-in stressor: recorded in
 * `kernel`'s log (the pid as `<pid>`), and acting only on pids this fake has seen start, which
 * are the test's own children (startStressor asks for the start time of the pid it spawned).
 */
export function recordingProcesses(kernel: FakeNetlink): Pick<NativeAddon, ProcessMember> {
  const started = new Set<number>();
  return {
    processStartTime: (pid) => {
      kernel.calls.push({ method: 'processStartTime', args: ['<pid>'] });
      started.add(pid);
      return 1;
    },
    killProcess: (pid, startTime, signal) => {
      kernel.calls.push({ method: 'killProcess', args: [started.has(pid) ? '<pid>' : pid, startTime, signal] });
      if (!started.has(pid)) return 'absent';
      try {
        process.kill(pid, signal);
        return 'signalled';
      } catch {
        return 'absent';
      }
    },
  };
}

function describeCall({ method, args }: RecordedCall): string {
  const [a, b] = args;
  switch (method) {
    case 'qdiscReplace': {
      const r = a as Parameters<NativeAddon['qdiscReplace']>[0];
      return `qdiscReplace ${r.ifname} ${tcHandle(r.parent)} ${tcHandle(r.handle)} ${r.kind} ${text(r.options)}${r.exclusive ? ' exclusive' : ''}`;
    }
    case 'qdiscDelete': {
      const r = a as Parameters<NativeAddon['qdiscDelete']>[0];
      return `qdiscDelete ${r.ifname} ${tcHandle(r.parent)}${r.handle === undefined ? '' : ` ${tcHandle(r.handle)}`}`;
    }
    case 'classReplace': {
      const r = a as Parameters<NativeAddon['classReplace']>[0];
      return `classReplace ${r.ifname} ${tcHandle(r.parent)} ${tcHandle(r.classid)} ${r.kind} ${text(r.options)}`;
    }
    case 'filterAdd': {
      const r = a as Parameters<NativeAddon['filterAdd']>[0];
      return `filterAdd ${r.ifname} ${tcHandle(r.parent)} prio ${r.prio} protocol 0x${hex(r.protocol)} ${r.kind} ${text(r.options)}`;
    }
    case 'filterList':
      return `filterList ${String(a)} ${tcHandle(b as number)}`;
    case 'u32Options':
      return `u32Options ${JSON.stringify(a)} ${tcHandle(b as number)}`;
    case 'conntrackDeleteFlows': {
      const f = a as Parameters<NativeAddon['conntrackDeleteFlows']>[0];
      return `conntrackDeleteFlows ${f.l4proto} ${f.addresses.join(',')} ${f.port}`;
    }
    case 'xtablesAddChain': {
      const spec = a as XtablesChainSpec;
      return `xtablesAddChain ip${spec.family === 6 ? '6' : ''} ${spec.table ?? 'filter'} ${spec.chain} ${spec.hooks.join(',')} ${spec.rules.length} rule(s)`;
    }
    case 'nftAddChain': {
      const spec = a as NftChainSpec;
      return `nftAddChain ${spec.table ?? 'faultd'} ${spec.chain} ${spec.hook} ${spec.priority ?? 0} ${spec.rules.length} rule(s)`;
    }
    default:
      return [method, ...args.map((x) => (typeof x === 'string' || typeof x === 'number' ? String(x) : JSON.stringify(x)))].join(' ');
  }
}
