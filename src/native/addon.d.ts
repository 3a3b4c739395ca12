// SPDX-License-Identifier: Apache-2.0
/** Declarations only: the typed surface of build/Release/faultd_native.node. See load.ts. */

/**
 * Outcome of signalling a process identified by (pid, start time). `reused`: only on the kill(2) path — the pid had another start time right after the signal,
 * so the signal may have reached the process that took the pid over.
 */
export type KillOutcome = 'signalled' | 'absent' | 'mismatch' | 'reused';

/**
 * How killProcess reaches a process: `pidfd` (pidfd_open + pidfd_send_signal, Linux 5.3+,
 * race-free) or `pid-start-checked` (kill(2) between two reads of the start time: the fallback
 * for older kernels, and for seccomp filters that predate pidfds).
 */
export type SignalPath = 'pidfd' | 'pid-start-checked';

/** netem parameters; percentages 0–100, times in microseconds. */
export interface NetemSpec {
  delayUs?: number;
  jitterUs?: number;
  delayCorrelationPct?: number;
  lossPct?: number;
  lossCorrelationPct?: number;
  duplicatePct?: number;
  duplicateCorrelationPct?: number;
  corruptPct?: number;
  corruptCorrelationPct?: number;
  reorderPct?: number;
  reorderCorrelationPct?: number;
  gap?: number;
  limitPackets?: number;
  /** `normal`, `pareto`, `paretonormal` (iproute2 tables) or `uniform` (none). */
  distribution?: string;
  /** Where iproute2's `<name>.dist` tables are (default /usr/lib/x86_64-linux-gnu/tc). */
  distributionDir?: string;
  /** Override of /proc/net/psched (tests). */
  pschedPath?: string;
}

/** tbf parameters: `limitBytes` or, when 0, `latencyUs` sizes the queue. */
export interface TbfSpec {
  rateBytesPerSec: number;
  burstBytes: number;
  limitBytes?: number;
  latencyUs?: number;
  pschedPath?: string;
}

/**
 * A qdisc or class as the kernel dumps it. `options` is the whole TCA_OPTIONS attribute, opaque
 * to JavaScript, in the form the kernel takes back (htb's dumped HTB_VER is given as the major
 * `tc` sends); the addon owns the attribute layout (native/injectors/tc_dump.h).
 */
export interface QdiscInfo {
  handle: number;
  parent: number;
  kind: string;
  options: Uint8Array;
}

/** One entry of a u32 filter dump, decoded by the addon. */
export type U32Node =
  /** The per-priority entry the kernel keeps for each priority. */
  | { node: 'header' }
  /** A hash table (`divisor 1` for the root tables the kernel creates itself). */
  | { node: 'table'; divisor: number }
  | {
      node: 'key';
      /** Kinds of the key's actions, in order (`mirred`…). */
      actions: string[];
      /** Attribute types beyond a plain classify filter's (actions, police, link, indev, mark). */
      extraAttributes: number[];
      /** TCA_OPTIONS that add the key again (selector, classid, skip flags); absent without a selector. */
      replayOptions?: Uint8Array;
    };

export interface FilterInfo {
  handle: number;
  parent: number;
  kind: string;
  prio: number;
  /** Ethertype in host order (0x0800, 0x86dd, 0x0003 for all). */
  protocol: number;
  /** The filter chain (0 unless the filter was added with `chain N`). */
  chain: number;
  /** u32 filters only: what the entry is. */
  u32?: U32Node;
}

/** One nf_tables rule of a faultd chain: every match optional; `percent` < 100 adds numgen. */
export interface NftRuleSpec {
  /** IPv4 or IPv6 address (with `prefixLen`, default a single host). */
  address?: string;
  prefixLen?: number;
  /** 4 or 6 without an address: match only that family. */
  ipVersion?: 0 | 4 | 6;
  matchSourceAddress?: boolean;
  l4proto?: 'tcp' | 'udp' | 'icmp' | 'icmpv6';
  port?: number;
  matchSourcePort?: boolean;
  /** Output interface (output hook) or input interface (input and prerouting hooks). */
  ifname?: string;
  /** `meta mark <mark>`: the packet's fwmark (the SO_MARK of the socket that sent it), 0–2³²−1. */
  mark?: number;
  /** `meta skuid <uid>`: the owner of the socket that sent the packet (output hook), 0–2³²−2. */
  skuid?: number;
  percent?: number;
  /**
   * `queue` hands matching packets to the listener of `queueNum` (bypassed while none is bound);
   * `redirect` (nat chains only) sends them to this host's `redirectPort` (`redirect to :PORT`).
   */
  verdict: 'drop' | 'accept' | 'queue' | 'redirect';
  queueNum?: number;
  redirectPort?: number;
}

export interface NftChainSpec {
  table?: string;
  chain: string;
  /** Base chain type (default filter); `nat` for `redirect` rules. */
  type?: 'filter' | 'nat';
  hook: 'prerouting' | 'input' | 'output';
  priority?: number;
  rules: NftRuleSpec[];
}

/** One rule of a faultd x_tables chain (every field optional: an empty rule matches every packet). */
export interface XtablesRuleSpec {
  /** An address of the chain's family (with `prefixLen`, default a single host). */
  address?: string;
  prefixLen?: number;
  matchSourceAddress?: boolean;
  /** icmp in an IPv4 chain, icmpv6 in an IPv6 one. */
  l4proto?: 'tcp' | 'udp' | 'icmp' | 'icmpv6';
  /** With l4proto tcp or udp (`-m tcp --dport`). */
  port?: number;
  matchSourcePort?: boolean;
  /** `-i <name>` (exact interface name); never matches in a chain jumped from output. */
  inInterface?: string;
  /** `-o <name>`; never matches in a chain jumped from input. */
  outInterface?: string;
  /** 1–99: only that share of the packets, at random (`-m statistic --mode random --probability`). */
  percent?: number;
  /** Default drop; `queue`: `-j NFQUEUE --queue-num <queueNum> --queue-bypass`. */
  verdict?: 'drop' | 'accept' | 'queue';
  queueNum?: number;
}

/**
 * faultd's own user-defined chain in an x_tables (iptables-legacy) table, with an unconditional
 * jump to it as the first rule of each hook's built-in chain.
 */
export interface XtablesChainSpec {
  /** 4 (ip_tables, iptables-legacy; default) or 6 (ip6_tables, ip6tables-legacy). */
  family?: 4 | 6;
  /** Default `filter`; `mangle` for a prerouting hook. */
  table?: string;
  /** 1..28 bytes (iptables' limit). */
  chain: string;
  hooks: readonly ('prerouting' | 'input' | 'forward' | 'output')[];
  rules: readonly XtablesRuleSpec[];
}

/** A u32 filter match (egress view: the remote end is the destination). */
export interface U32MatchSpec {
  address?: string;
  prefixLen?: number;
  ipVersion?: 4 | 6;
  matchSourceAddress?: boolean;
  l4proto?: 'tcp' | 'udp' | 'icmp' | 'icmpv6';
  port?: number;
  matchSourcePort?: boolean;
}

/** A systemd unit's state over D-Bus (org.freedesktop.systemd1.Unit, and .Service for services). */
export interface SystemdUnitState {
  /** `loaded`, `not-found`, `bad-setting`, `error` or `masked`. */
  loadState: string;
  /** `active`, `reloading`, `inactive`, `failed`, `activating` or `deactivating`. */
  activeState: string;
  subState: string;
  /** The pending job's id; 0 when none. */
  jobId: number;
  /** Restart= of a loaded service (`no`, `always`, `on-failure`, …); '' otherwise. */
  restart: string;
  /** Automatic restarts so far (NRestarts; 0 before systemd 235). */
  nRestarts: number;
  mainPid: number;
  /** TimeoutStartUSec in µs; null for infinity. */
  timeoutStartUs: number | null;
  /** Id: the unit's real name (an alias resolves to it); '' for a unit not found. */
  id: string;
  /** StartLimitBurst: starts allowed within startLimitIntervalUs; 0 when unknown (systemd < 230). */
  startLimitBurst: number;
  /** StartLimitIntervalUSec in µs; 0 for no limit (or unknown); null past 2^53. */
  startLimitIntervalUs: number | null;
}

/** What a plan reads once per unit (systemdUnitPlanFacts), beyond its state. */
export interface SystemdUnitPlanFacts {
  /** CanStart / CanStop: false with RefuseManualStart= / RefuseManualStop=. */
  canStart: boolean;
  canStop: boolean;
  /** TimeoutStopUSec of a loaded service in µs; null for infinity; 0 for other units. */
  timeoutStopUs: number | null;
  /** WatchdogUSec of a loaded service in µs: 0 without a watchdog; null past 2^53. */
  watchdogUs: number | null;
  /**
   * The units systemd stops when this one stops: RequiredBy, RequisiteOf, BoundBy, ConsistsOf
   * (their PartOf=) and PropagatesStopTo (systemd ≥ 249), without duplicates.
   */
  stopPropagatesTo: string[];
}

/** What systemdUnitAction resolves with. */
export interface SystemdActionOutcome {
  /** The job's result (`done`, `failed`, …), `pending`, `queued`, or `signalled` for a kill. */
  result: string;
  state: SystemdUnitState | null;
}

/** CLOCK_REALTIME, CLOCK_MONOTONIC and CLOCK_BOOTTIME read together (ns; see clockRead). */
export interface ClockReading {
  realtimeNs: bigint;
  monotonicNs: bigint;
  boottimeNs: bigint;
  /** CLOCK_MONOTONIC ns between the two monotonic reads bracketing the others. */
  bracketNs: number;
}

/** The kernel's NTP state (adjtimex(2), read only). */
export interface NtpState {
  /** adjtimex's return: 0 TIME_OK … 5 TIME_ERROR (clock not synchronised). */
  clockState: number;
  /** STA_* bits; STA_UNSYNC is 0x40. */
  status: number;
  maxErrorUs: number;
  estErrorUs: number;
  /** The kernel PLL's remaining offset. */
  offsetNs: number;
}

export interface NativeAddon {
  /** Version of this surface; load.ts refuses any other. */
  readonly abiVersion: 1;
  /** Must be called once before any other method; supplies the JS error factory used by C++. */
  init(hooks: { makeSystemError(errno: number, syscall: string, detail?: string): Error }): void;
  /** Field 22 of /proc/<pid>/stat (clock ticks since boot), or null when the pid does not exist. */
  processStartTime(pid: number): number | null;
  /**
   * Equivalent to `kill -<signal> <pid>`, but only if the process still has `startTime`
   * (pidfd_open + pidfd_send_signal where the kernel has them, else kill(2) between two
   * start-time reads). `path: 'pid-start-checked'` forces the kill(2) path (tests of the
   * fallback on a kernel that has pidfds). Never signals pid 1.
   */
  killProcess(pid: number, startTime: number, signal: number, path?: SignalPath): KillOutcome;
  /** Which path killProcess takes on this kernel: pidfd_open(2) on our own pid, ENOSYS/EPERM → `pid-start-checked`. */
  signalPath(): SignalPath;
  /** Signal 0 only tests whether the process is still alive (`signalled`). */
  /**
   * prctl(PR_SET_PDEATHSIG, SIGKILL): the kernel kills this process when its parent exits. False
   * when that fails or `parentPid` is no longer the parent (it died first). Pure syscalls.
   */
  dieWithParent(parentPid: number): boolean;
  /** RLIMIT_MEMLOCK in bytes; null means unlimited. Equivalent to `ulimit -l`. */
  memlockLimit(): { soft: number | null; hard: number | null };
  /**
   * flock(2) on `fd` without blocking: true when the lock was taken (or released), false when
   * another open file holds a conflicting lock. Equivalent to `flock -n -s|-x|-u <fd>`.
   */
  tryLock(fd: number, mode: 'shared' | 'exclusive' | 'unlock'): boolean;
  /**
   * One sd_notify(3) datagram (`READY=1`, `STATUS=…`, `WATCHDOG=1`, `STOPPING=1`, newline
   * separated) to `socketPath`, the value of $NOTIFY_SOCKET ("@name" = abstract socket).
   */
  sdNotify(socketPath: string, state: string): void;
  /** fallocate(2) mode 0: reserves bytes [0, length) of the open file `fd`. Like `fallocate -l <length>`. */
  fallocate(fd: number, length: number): void;
  /**
   * sysconf(_SC_PAGESIZE): the bytes of one page, in which the kernel counts memory (a cgroup's
   * memory.max reads back in whole pages). 4096 on x86-64; 16 KiB or 64 KiB on some arm64 and
   * ppc64le kernels. Equivalent to `getconf PAGESIZE`.
   */
  pageSize(): number;
  /**
   * The three clocks read together: of nine reads, the one whose two CLOCK_MONOTONIC reads
   * around the others are closest (its monotonic and boottime values are their midpoint).
   * Equivalent to `date +%s.%N` paired with /proc/uptime, without the fork between them.
   */
  clockRead(): ClockReading;
  /**
   * Adds `offsetNs` to CLOCK_REALTIME in one kernel operation (clock_adjtime ADJ_SETOFFSET |
   * ADJ_NANO), so no time passes between a read and a write. Equivalent to `date -s` with the
   * same offset, without its read-to-write error. Needs CAP_SYS_TIME (EPERM otherwise).
   */
  clockStep(offsetNs: bigint): void;
  /** Equivalent to `adjtimex --print`: the kernel's NTP status bits and errors. */
  ntpState(): NtpState;
  /** The TCA_OPTIONS attribute of a netem qdisc, byte-identical to iproute2's. Pure (reads psched and tables). */
  netemOptions(spec: NetemSpec): Uint8Array;
  /** The TCA_OPTIONS attribute of a tbf qdisc, byte-identical to iproute2's. */
  tbfOptions(spec: TbfSpec): Uint8Array;
  /** TCA_OPTIONS of `htb default <defaultMinor>`. */
  htbQdiscOptions(defaultMinor: number): Uint8Array;
  /** TCA_OPTIONS of an htb class with rate = ceil = `rateBytesPerSec`. */
  htbClassOptions(spec: { rateBytesPerSec: number; pschedPath?: string }): Uint8Array;
  /** TCA_OPTIONS of a u32 filter sending `match` to `classid`, and the ethertype to file it under. */
  u32Options(match: U32MatchSpec, classid: number): { options: Uint8Array; protocol: number };
  /**
   * TCA_OPTIONS of `tc filter add dev D parent ffff: protocol all u32 match u32 0 0 action mirred
   * egress redirect dev <ifindex>` (byte-identical to iproute2's), and its ethertype (ETH_P_ALL).
   */
  u32RedirectOptions(ifindex: number): { options: Uint8Array; protocol: number };
  /** The interface index of `name` (current network namespace); ENODEV error if absent. */
  linkIndex(name: string): number;
  /** Equivalent to `ip link add <name> type ifb && ip link set <name> up`. */
  linkAdd(request: { name: string; kind: 'ifb' }): void;
  /** Equivalent to `ip link del <name>`; false if there was no such device. */
  linkDelete(name: string): boolean;
  /** Equivalent to `tc class replace dev <ifname> parent <parent> classid <classid> <kind> …`. */
  classReplace(request: { ifname: string; parent: number; classid: number; kind: string; options: Uint8Array }): void;
  /** Equivalent to `tc filter add dev <ifname> parent <parent> [handle <handle>] prio <prio> protocol <protocol> <kind> …`. */
  filterAdd(request: { ifname: string; parent: number; prio: number; protocol: number; kind: string; options: Uint8Array; handle?: number }): void;
  /** Equivalent to `tc class show dev <ifname>`. */
  classList(ifname: string): QdiscInfo[];
  /** Equivalent to `tc filter show dev <ifname> parent <parent>`. */
  filterList(ifname: string, parent: number): FilterInfo[];
  /**
   * Equivalent to `tc qdisc show dev <ifname>` (current network namespace). The qdisc and nft
   * calls are synchronous: each is a µs-scale netlink transaction (see tc_binding.cc).
   */
  qdiscList(ifname: string): QdiscInfo[];
  /** Equivalent to `tc qdisc replace|add dev <ifname> parent <parent> handle <handle> <kind> …`. */
  qdiscReplace(request: { ifname: string; parent: number; handle: number; kind: string; options?: Uint8Array; exclusive?: boolean }): void;
  /** Equivalent to `tc qdisc del dev <ifname> parent <parent>`; with `handle`, only that qdisc. */
  qdiscDelete(request: { ifname: string; parent: number; handle?: number }): void;
  /** Equivalent to `nft add table inet <table>; nft add chain …; nft add rule …` as one atomic batch. */
  nftAddChain(spec: NftChainSpec): void;
  /** Equivalent to `nft flush chain …; nft delete chain …` (and the table when empty); false if absent. */
  nftDeleteChain(table: string, chain: string): boolean;
  /** Chain names of `inet <table>` (empty when the table does not exist). */
  nftListChains(table: string): string[];
  /**
   * Equivalent to `iptables-legacy -N <chain>; iptables-legacy -A <chain> …` for each rule and
   * `iptables-legacy -I <HOOK> -j <chain>` for each hook (ip6tables-legacy for family 6), as one
   * IPT_SO_SET_REPLACE of the table (all or nothing; the other entries keep their counters), then
   * read back and compared (EIO if the kernel's table is not the one written). EEXIST if the
   * chain exists.
   */
  xtablesAddChain(spec: XtablesChainSpec): void;
  /**
   * Removes the chain and every rule that jumps to it, in one IPT_SO_SET_REPLACE, leaving every
   * other entry byte for byte as it was; false if the chain was already absent.
   */
  xtablesDeleteChain(table: string, chain: string, family?: 4 | 6): boolean;
  /** The user-defined chains of the x_tables `table` of `family` (default 4; ENOENT from the kernel without ip_tables). */
  xtablesListChains(table: string, family?: 4 | 6): string[];
  /**
   * Equivalent to `conntrack -D -p <l4proto> --orig-dst <address> --dport <port>` for each address
   * (IPv4 and IPv6 tables): deletes the conntrack entries of those flows, so their next packet is
   * NATed anew; returns how many were deleted.
   */
  conntrackDeleteFlows(filter: { l4proto: 'udp' | 'tcp'; port: number; addresses: readonly string[] }): number;
  /**
   * Connects to systemd over D-Bus (the system bus; without a dbus-daemon, as root, /run/systemd/private) and reads
   * the manager's Version and SystemState (`running`, `degraded`, `stopping` while the host shuts
   * down, …), synchronously: `systemctl --version; systemctl is-system-running` without forking. A NativeSystemError
   * says why not (`dlopen ELIBACC` without libsystemd.so.0, `sd_bus_open_system ENOENT` without
   * a bus or systemd).
   */
  systemdProbe(): { address: string; version: string; systemState: string };
  /**
   * Equivalent to `systemctl show -p LoadState,ActiveState,SubState,Job,Restart,NRestarts,MainPID,TimeoutStartUSec <unit>`
   * (Manager.LoadUnit, then Properties.Get), on the libuv pool. A unit without a file has
   * loadState `not-found`; an invalid name rejects with EINVAL.
   */
  systemdUnitState(unit: string): Promise<SystemdUnitState>;
  /**
   * What a plan reads once: CanStart/CanStop, TimeoutStopUSec, WatchdogUSec and the units a stop
   * of `unit` propagates to (the Unit's RequiredBy, RequisiteOf, BoundBy, ConsistsOf,
   * PropagatesStopTo), on the libuv pool. Kept out of systemdUnitState, which polls.
   */
  systemdUnitPlanFacts(unit: string): Promise<SystemdUnitPlanFacts>;
  /**
   * Equivalent to `systemctl start|stop <unit>` (StartUnit/StopUnit with mode "replace"), waiting
   * up to `waitMs` (0–10000, default 0) for the job's JobRemoved on the same connection: resolves
   * with the job's result (`done`, `failed`, `canceled`, `timeout`, `dependency`, `skipped`), or
   * `pending` when `waitMs` passed first, `queued` for no wait. For `kill`, SIGKILL to the main
   * process (`systemctl kill -s KILL --kill-whom=main`, KillUnit), after which the unit's Restart=
   * applies: `signalled`. Once a job ended, `state` is the unit read on the same connection (a
   * new connection waits behind the job's cleanup in systemd's event loop); else null. On the
   * libuv pool.
   */
  systemdUnitAction(unit: string, action: 'start' | 'stop' | 'kill', waitMs?: number): Promise<SystemdActionOutcome>;
}
