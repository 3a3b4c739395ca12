// SPDX-License-Identifier: Apache-2.0
/**
 * Network namespaces for privileged tests: each test gets its own namespace (and a veth pair in
 * it), removed in teardown even when the test fails. Nothing touches the root namespace.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

import type { ExecutionContext } from 'ava';

let counter = 0;

/**
 * System tools by absolute path: npm puts node_modules/.bin first on PATH, and a package there
 * may shadow a system command (@vercel/nft installs an `nft`).
 */
export function systemTool(name: string): string {
  for (const dir of ['/usr/sbin', '/sbin', '/usr/bin', '/bin']) {
    if (existsSync(`${dir}/${name}`)) return `${dir}/${name}`;
  }
  throw new Error(`${name} is not installed (bash scripts/install-deps.sh)`);
}

export interface TestNetns {
  readonly name: string;
  /** Runs a command inside the namespace and returns its stdout (throws on failure). */
  exec(command: string, args: readonly string[]): string;
}

/** iproute2's `ip`, by absolute path. */
const IP = systemTool('ip');

function resolveTool(command: string): string {
  return command.startsWith('/') ? command : systemTool(command);
}

/** Creates `fdt-<pid>-<n>` with a veth pair v0/v1 (both up), deleted at teardown. */
export function testNetns(t: ExecutionContext): TestNetns {
  const ns = bareNetns(t);
  ns.exec('ip', ['link', 'add', 'v0', 'type', 'veth', 'peer', 'name', 'v1']);
  ns.exec('ip', ['link', 'set', 'v0', 'up']);
  ns.exec('ip', ['link', 'set', 'v1', 'up']);
  return ns;
}

export interface NetnsPair {
  /** Namespace A with interface `va` at 10.77.<n>.1/24. */
  readonly a: TestNetns;
  /** Namespace B with interface `vb` at 10.77.<n>.2/24. */
  readonly b: TestNetns;
  readonly addressA: string;
  readonly addressB: string;
}

/**
 * Deletes `fdt-<pid>-*` namespaces whose test process is gone: a run killed mid-test (SIGKILL of
 * ava, a CI timeout) never ran its teardowns. Once per process, before its first namespace.
 */
function removeStaleNamespaces(): void {
  const listed = spawnSync(IP, ['netns', 'list'], { encoding: 'utf8' }).stdout ?? '';
  for (const name of listed.split('\n').map((l) => l.split(' ')[0] ?? '')) {
    const pid = /^fdt-(\d+)-\d+$/.exec(name)?.[1];
    if (pid && Number(pid) !== process.pid && !existsSync(`/proc/${pid}`)) spawnSync(IP, ['netns', 'del', name]);
  }
}

function bareNetns(t: ExecutionContext): TestNetns {
  if (counter === 0) removeStaleNamespaces();
  counter += 1;
  const name = `fdt-${process.pid}-${counter}`;
  execFileSync(IP, ['netns', 'add', name]);
  // A namespace that cannot be deleted fails the test rather than leaking unnoticed.
  t.teardown(() => {
    execFileSync(IP, ['netns', 'del', name]);
  });
  const exec = (command: string, args: readonly string[]): string =>
    execFileSync(IP, ['netns', 'exec', name, resolveTool(command), ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  exec('ip', ['link', 'set', 'lo', 'up']);
  return { name, exec };
}

/** Two namespaces joined by a veth pair va (in A) ↔ vb (in B), addressed 10.77.<n>.1/.2. */
export function testNetnsPair(t: ExecutionContext): NetnsPair {
  const a = bareNetns(t);
  const b = bareNetns(t);
  const subnet = 10 + (counter % 200);
  execFileSync(IP, ['-n', a.name, 'link', 'add', 'va', 'type', 'veth', 'peer', 'name', 'vb', 'netns', b.name]);
  const addressA = `10.77.${subnet}.1`;
  const addressB = `10.77.${subnet}.2`;
  a.exec('ip', ['addr', 'add', `${addressA}/24`, 'dev', 'va']);
  b.exec('ip', ['addr', 'add', `${addressB}/24`, 'dev', 'vb']);
  a.exec('ip', ['link', 'set', 'va', 'up']);
  b.exec('ip', ['link', 'set', 'vb', 'up']);
  // Permanent neighbours: no ARP resolution, whose queue would drop the first packets of a burst.
  const mac = (ns: TestNetns, dev: string): string => (JSON.parse(ns.exec('ip', ['-j', 'link', 'show', dev])) as { address: string }[])[0]?.address ?? '';
  a.exec('ip', ['neigh', 'replace', addressB, 'lladdr', mac(b, 'vb'), 'dev', 'va', 'nud', 'permanent']);
  b.exec('ip', ['neigh', 'replace', addressA, 'lladdr', mac(a, 'va'), 'dev', 'vb', 'nud', 'permanent']);
  return { a, b, addressA, addressB };
}

/**
 * Adds fd77:<n>::1 on A's `va` and fd77:<n>::2 on B's `vb` (n: A's namespace number) with
 * permanent neighbours, as testNetnsPair does for IPv4; returns B's address.
 */
export function addIpv6(pair: Pick<NetnsPair, 'a' | 'b'>): string {
  const subnet = /\d+$/.exec(pair.a.name)?.[0] ?? '1';
  const [addressA, addressB] = [`fd77:${subnet}::1`, `fd77:${subnet}::2`];
  pair.a.exec('ip', ['-6', 'addr', 'add', `${addressA}/64`, 'dev', 'va', 'nodad']);
  pair.b.exec('ip', ['-6', 'addr', 'add', `${addressB}/64`, 'dev', 'vb', 'nodad']);
  const mac = (ns: TestNetns, dev: string): string => (JSON.parse(ns.exec('ip', ['-j', 'link', 'show', dev])) as { address: string }[])[0]?.address ?? '';
  pair.a.exec('ip', ['-6', 'neigh', 'replace', addressB, 'lladdr', mac(pair.b, 'vb'), 'dev', 'va', 'nud', 'permanent']);
  pair.b.exec('ip', ['-6', 'neigh', 'replace', addressA, 'lladdr', mac(pair.a, 'va'), 'dev', 'vb', 'nud', 'permanent']);
  return addressB;
}

/**
 * `iptables-legacy-save` (6: `ip6tables-legacy-save`, of one `table` when given) in `ns` without
 * its dated comment lines, every `[packets:bytes]` counter zeroed: the x_tables oracle.
 */
export function legacySave(ns: TestNetns, family: 4 | 6 = 4, table?: string): string {
  return ns
    .exec(family === 6 ? 'ip6tables-legacy-save' : 'iptables-legacy-save', table ? ['-t', table] : [])
    .split('\n')
    .filter((line) => !line.startsWith('#'))
    .join('\n')
    .replace(/\[\d+:\d+\]/g, '[0:0]');
}

/** Counters in `tc -j` qdisc options: statistics, not configuration (htb counts unclassified packets). */
const OPTION_COUNTERS = new Set(['direct_packets_stat']);

/** `tc -j qdisc show dev <dev>` without the fields that change by themselves (refcnt, counters). */
export function qdiscState(ns: TestNetns, dev: string): unknown {
  const list = JSON.parse(ns.exec('tc', ['-j', 'qdisc', 'show', 'dev', dev])) as Record<string, unknown>[];
  return list.map((qdisc) =>
    Object.fromEntries(
      Object.entries(qdisc)
        .filter(([key]) => key !== 'refcnt')
        .map(([key, value]) =>
          key === 'options' && value && typeof value === 'object' ? [key, Object.fromEntries(Object.entries(value).filter(([k]) => !OPTION_COUNTERS.has(k)))] : [key, value],
        ),
    ),
  );
}

/** Parses strace `-e write=` hex dumps into the byte buffers that were written. */
export function parseStraceDumps(text: string): Buffer[] {
  const buffers: Buffer[] = [];
  let current: number[] | undefined;
  for (const line of text.split('\n')) {
    if (/^\s*\* \d+ bytes in buffer/.test(line)) {
      current = [];
      buffers.push(Buffer.alloc(0));
      continue;
    }
    const match = /^\s*\|\s*[0-9a-f]{5}\s+((?:[0-9a-f]{2}\s{1,2}){1,16})/.exec(line);
    if (match && current) {
      for (const hex of (match[1] ?? '').trim().split(/\s+/)) current.push(parseInt(hex, 16));
      buffers[buffers.length - 1] = Buffer.from(current);
    }
  }
  return buffers;
}

const RTM_NEWQDISC = 36;
const RTM_NEWTFILTER = 44;
const TCMSG_BYTES = 20;
const TCA_OPTIONS = 2;

/** The TCA_OPTIONS attribute (header included) of the first message of `type` (RTM_NEWQDISC by default). */
export function qdiscOptionsOf(messages: readonly Buffer[], type = RTM_NEWQDISC): Buffer | undefined {
  for (const message of messages) {
    if (message.length < 16 || message.readUInt16LE(4) !== type) continue;
    const end = message.readUInt32LE(0);
    let at = 16 + TCMSG_BYTES;
    while (at + 4 <= end) {
      const len = message.readUInt16LE(at);
      const type = message.readUInt16LE(at + 2) & 0x3fff;
      if (len < 4) break;
      if (type === TCA_OPTIONS) return message.subarray(at, at + len);
      at += (len + 3) & ~3;
    }
  }
  return undefined;
}

/** The TCA_OPTIONS that `tc <args>` sends in its first message of `type`, captured with strace. */
function captureTc(ns: TestNetns, args: readonly string[], type: number): Buffer {
  const result = spawnSync('ip', ['netns', 'exec', ns.name, systemTool('strace'), '-f', '-e', 'trace=sendmsg', '-e', 'write=3,4,5,6', systemTool('tc'), ...args], {
    encoding: 'utf8',
  });
  // strace writes its trace (with the hex dumps) to stderr.
  const options = qdiscOptionsOf(parseStraceDumps(result.stderr), type);
  if (!options) throw new Error(`no message ${type} captured for tc ${args.join(' ')}:\n${result.stdout}\n${result.stderr}`);
  return options;
}

/** What `tc qdisc replace dev v0 root <args>` sends as TCA_OPTIONS. */
export function captureTcOptions(ns: TestNetns, args: readonly string[]): Buffer {
  return captureTc(ns, ['qdisc', 'replace', 'dev', 'v0', 'root', ...args], RTM_NEWQDISC);
}

/** What `tc filter add dev v0 <args>` sends as TCA_OPTIONS. */
export function captureTcFilterOptions(ns: TestNetns, args: readonly string[]): Buffer {
  return captureTc(ns, ['filter', 'add', 'dev', 'v0', ...args], RTM_NEWTFILTER);
}
