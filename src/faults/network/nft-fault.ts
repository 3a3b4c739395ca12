// SPDX-License-Identifier: Apache-2.0
/**
 * The nf_tables mechanism of the network faults (partition; loss and latency where netem is
 * missing): faultd's own `inet faultd` table with one base chain per fault and hook. Exemptions
 * (SSH, excluded addresses and ports) are `accept` rules placed before the fault's `drop` (or
 * `queue`) rules in that chain, so they only exempt from this fault. Revert deletes the fault's
 * chains (and the table when it is empty), then verifies they are gone.
 */
import { z } from 'zod';

import { messageOf } from '../../errors.js';
import type { NftChainSpec, NftRuleSpec } from '../../native/addon.js';
import { RevertError, type Planned, type RevertOutcome } from '../types.js';
import type { NetworkFaultContext } from './context.js';
import { formatTarget, type IpTarget, type PortSelection } from '../../net/addresses.js';

export const NFT_TABLE = 'faultd';
/** Bound on rules per chain: a batch of this many stays well inside the builder's 1 MiB. */
const MAX_RULES = 512;

export type Direction = 'egress' | 'ingress' | 'both';

/**
 * What happens to matching packets: dropped (a share of them at random), or queued to the
 * NFQUEUE delayer. Queueing is done on the receiving side only, before routing (prerouting):
 * delaying a local sender's output collapses TCP throughput (TCP Small Queues), delaying the
 * replies adds the same time to every round trip.
 */
export type NftAction = { readonly kind: 'drop'; readonly percent: number } | { readonly kind: 'queue'; readonly queueNum: number };
export type Protocol = 'tcp' | 'udp' | 'icmp' | 'all';

export interface NftFaultRequest {
  readonly faultId: string;
  readonly direction: Direction;
  /** Interfaces the fault is limited to; empty = every interface. */
  readonly interfaces: readonly string[];
  /** Remote addresses; empty = any. */
  readonly targets: readonly IpTarget[];
  /** Remote (service) ports and local ports. */
  readonly remotePorts: PortSelection;
  readonly localPorts: PortSelection;
  readonly protocol: Protocol;
  readonly action: NftAction;
  readonly excludeTargets: readonly IpTarget[];
  /** This host's SSH ports to keep reachable (empty = none). */
  readonly sshPorts: readonly number[];
}

export const NftRevertSchema = z.object({
  bootId: z.string(),
  table: z.string(),
  chains: z.array(z.string()),
});
export type NftRevert = z.infer<typeof NftRevertSchema>;

export type Hook = 'prerouting' | 'input' | 'output';

/** Remote side of a packet is its destination on output, its source on the incoming hooks. */
function remoteAddress(t: IpTarget, hook: Hook): Pick<NftRuleSpec, 'address' | 'prefixLen' | 'matchSourceAddress'> {
  return { address: t.address, prefixLen: t.prefixLen, matchSourceAddress: hook !== 'output' };
}

function protocolsFor(protocol: Protocol, withPorts: boolean, target: IpTarget | undefined): NftRuleSpec['l4proto'][] {
  if (protocol === 'all') return withPorts ? ['tcp', 'udp'] : [undefined];
  // ICMP of an IPv6 destination is ICMPv6; without a destination, both families.
  if (protocol === 'icmp') return target ? [target.version === 6 ? 'icmpv6' : 'icmp'] : ['icmp', 'icmpv6'];
  return [protocol];
}

/** The rules of one hook's chain: exemptions first, then drops. */
export function chainRules(r: NftFaultRequest, hook: Hook): NftRuleSpec[] {
  const ifnames: (string | undefined)[] = r.interfaces.length ? [...r.interfaces] : [undefined];
  const withIf = (rule: NftRuleSpec): NftRuleSpec[] => ifnames.map((ifname) => (ifname ? { ...rule, ifname } : rule));
  const rules: NftRuleSpec[] = [];
  // The local end of SSH: our server's port (replies leave from it, requests arrive at it).
  for (const port of r.sshPorts) rules.push({ l4proto: 'tcp', port, matchSourcePort: hook === 'output', verdict: 'accept' });
  for (const t of r.excludeTargets) rules.push({ ...remoteAddress(t, hook), verdict: 'accept' });
  for (const port of r.remotePorts.exclude) for (const l4proto of ['tcp', 'udp'] as const) rules.push({ l4proto, port, matchSourcePort: hook !== 'output', verdict: 'accept' });
  for (const port of r.localPorts.exclude) for (const l4proto of ['tcp', 'udp'] as const) rules.push({ l4proto, port, matchSourcePort: hook === 'output', verdict: 'accept' });
  const action: Pick<NftRuleSpec, 'verdict' | 'percent' | 'queueNum'> =
    r.action.kind === 'queue' ? { verdict: 'queue', queueNum: r.action.queueNum } : { verdict: 'drop', ...(r.action.percent < 100 ? { percent: r.action.percent } : {}) };
  const destinations: (IpTarget | undefined)[] = r.targets.length ? [...r.targets] : [undefined];
  for (const target of destinations) {
    const remotePorts = target?.ports.length ? target.ports : r.remotePorts.include;
    const portChoices: { port: number; source: boolean }[] = [
      ...remotePorts.map((port) => ({ port, source: hook !== 'output' })),
      ...r.localPorts.include.map((port) => ({ port, source: hook === 'output' })),
    ];
    const address = target ? remoteAddress(target, hook) : {};
    for (const l4proto of protocolsFor(r.protocol, portChoices.length > 0, target)) {
      const base: NftRuleSpec = { ...address, ...(l4proto ? { l4proto } : {}), ...action };
      if (portChoices.length === 0) rules.push(...withIf(base));
      for (const p of portChoices) rules.push(...withIf({ ...base, port: p.port, matchSourcePort: p.source }));
    }
  }
  return rules;
}

export function hooksOf(r: NftFaultRequest): Hook[] {
  if (r.action.kind === 'queue') return ['prerouting'];
  return r.direction === 'both' ? ['output', 'input'] : r.direction === 'egress' ? ['output'] : ['input'];
}

const CHAIN_SUFFIX: Record<Hook, string> = { prerouting: 'pre', input: 'in', output: 'out' };
/** Before conntrack and routing, as iptables' mangle table: a queued packet waits before anything else sees it. */
const QUEUE_PRIORITY = -150;

export function describeRule(rule: NftRuleSpec): string {
  const parts: string[] = [];
  if (rule.ifname) parts.push(`if ${rule.ifname}`);
  if (rule.address) parts.push(`${rule.matchSourceAddress ? 'from' : 'to'} ${formatTarget({ address: rule.address, prefixLen: rule.prefixLen ?? 32, version: rule.address.includes(':') ? 6 : 4, ports: [] })}`);
  if (rule.l4proto) parts.push(rule.l4proto);
  if (rule.port) parts.push(`${rule.matchSourcePort ? 'sport' : 'dport'} ${rule.port}`);
  if (rule.percent !== undefined) parts.push(`${rule.percent}% at random`);
  const verdict = rule.verdict === 'queue' ? `queue ${rule.queueNum ?? 0} (bypass)` : rule.verdict;
  return `${verdict} ${parts.join(' ') || 'everything'}`;
}

export function planNftFault(r: NftFaultRequest, ctx: NetworkFaultContext, target: string): Planned<NftRevert> {
  const chains: NftChainSpec[] = hooksOf(r).map((hook) => ({
    table: NFT_TABLE,
    chain: `${r.faultId}-${CHAIN_SUFFIX[hook]}`,
    hook,
    priority: hook === 'prerouting' ? QUEUE_PRIORITY : 0,
    rules: chainRules(r, hook),
  }));
  for (const chain of chains) {
    if (chain.rules.length > MAX_RULES) throw new Error(`the targets expand to ${chain.rules.length} rules, more than ${MAX_RULES}`);
  }
  const revert: NftRevert = { bootId: ctx.host.bootId, table: NFT_TABLE, chains: chains.map((c) => c.chain) };
  return {
    target,
    changes: chains.flatMap((c) => [
      `nf_tables: add chain inet ${NFT_TABLE} ${c.chain} (hook ${c.hook}) with ${c.rules.length} rule(s), one atomic batch:`,
      ...c.rules.map((rule) => `  ${describeRule(rule)}`),
    ]),
    revertSteps: chains.map((c) => `delete chain inet ${NFT_TABLE} ${c.chain} (and the table once empty)`),
    revert,
    async apply(recordApplied) {
      for (const chain of chains) ctx.native.nftAddChain(chain);
      await recordApplied(revert);
      return { measure: () => `${chains.reduce((n, c) => n + c.rules.length, 0)} nft rule(s) active`, ended: new Promise<string>(() => undefined) };
    },
  };
}

export function revertNftFault(record: NftRevert, ctx: NetworkFaultContext): Promise<RevertOutcome> {
  return Promise.resolve().then(() => removeChains(record, ctx));
}

function removeChains(record: NftRevert, ctx: NetworkFaultContext): RevertOutcome {
  // After a reboot the chains are gone, and that is checked rather than assumed (a container
  // sharing its host's network namespace gets a new boot id, and its rules stay on the host).
  const rebooted = record.bootId !== ctx.host.bootId;
  let removed = 0;
  // Every chain is tried; a refused delete is reported with what is left, not thrown bare.
  const refusals: string[] = [];
  for (const chain of record.chains) {
    try {
      if (ctx.native.nftDeleteChain(record.table, chain)) removed += 1;
    } catch (error) {
      refusals.push(`${chain}: ${messageOf(error)}`);
    }
  }
  const left = ctx.native.nftListChains(record.table).filter((c) => record.chains.includes(c));
  if (left.length > 0) {
    throw new RevertError(
      `nf_tables chains ${left.join(', ')} are still there after delete${refusals.length ? ` (${refusals.join('; ')})` : ''}`,
      left.map((c) => `chain inet ${record.table} ${c}`).join(', '),
      left.map((c) => `nft flush chain inet ${record.table} ${c} && nft delete chain inet ${record.table} ${c}`).join(' && '),
    );
  }
  if (removed === 0) return { outcome: 'already-absent', detail: rebooted ? 'checked after a reboot: no faultd chain was left' : 'no faultd chain was left' };
  return { outcome: 'reverted', detail: `removed nf_tables chain(s) ${record.chains.join(', ')}` };
}
