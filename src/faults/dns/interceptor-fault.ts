// SPDX-License-Identifier: Apache-2.0
/**
 * The mechanism of the DNS faults: the DNS interceptor (`faultd-stressor dns`, C++) started and
 * supervised like a stressor (own process and cgroup, dies with faultd, pid and start time in
 * the ledger before anything is redirected), and an nf_tables nat chain in faultd's table that
 * redirects this host's DNS traffic to each intercepted server (UDP and TCP to server:dnsPort)
 * to the interceptor's loopback port for that server, so the port tells the interceptor where a
 * query was sent; unmatched queries go on there, or to the explicit upstream. The interceptor's
 * own forwards carry DNS_MARK, which the chain accepts first, so they reach their server.
 *
 * Apply: interceptor started (ledger `applied` with its pid) → it reports its ports and ready →
 * chain added, last → the conntrack entries of UDP flows to the servers deleted, so a socket kept
 * across the apply (a resolver's) is NATed by its next query instead of going on to the server.
 * Revert: chain deleted and verified gone, first (no new query is sent to the interceptor), then
 * the conntrack entries of those flows again (a kept socket's entry still NATs it to the
 * interceptor while anything else keeps conntrack on: a firewall's `ct state` rule), then the
 * interceptor stopped and verified gone. The mechanism shared with the HTTP faults is in
 * network/interceptor-fault.ts; this module adds the DNS words, rules and flows.
 */
import { z } from 'zod';

import type { NftRuleSpec } from '../../native/addon.js';
import { isLoopback, localStubUids, processUidOfSocket, readUdpSockets } from './local-stubs.js';
import { interceptorParts, InterceptorRevertSchema, NAT_PRIORITY, revertInterceptor, type InterceptorNames, type InterceptorRevert } from '../network/interceptor-fault.js';
import { NFT_TABLE } from '../network/nft-fault.js';
import { STOP_GRACE_MS } from '../stressor-process.js';
import { withRevert, type FaultContext, type Planned, type RevertOutcome } from '../types.js';

/** fwmark of the interceptor's upstream sockets ("fa17d53"); the chain lets it through unredirected. */
export const DNS_MARK = 0x0fa17d53;

/** The UDP flows whose conntrack entries apply and revert delete (to these servers on this port). */
const DnsFlowsSchema = z.object({ addresses: z.array(z.string()).min(1).max(64), port: z.number().int().min(1).max(65535) });
type DnsFlows = z.infer<typeof DnsFlowsSchema>;

export const DnsInterceptorRevertSchema = InterceptorRevertSchema.extend({
  /** Absent in records of faultd versions before it. */
  flows: DnsFlowsSchema.optional(),
});
export type DnsInterceptorRevert = z.infer<typeof DnsInterceptorRevertSchema>;

/** The DNS interceptor answers the queries in flight for up to 200 ms after SIGTERM, below this grace. */
const DNS_NAMES: InterceptorNames = { protocol: 'DNS', keptRunningWhy: 'so that the redirected queries are still answered', stopGraceMs: STOP_GRACE_MS };

/** What the interceptor does, as its command line says it. */
export interface DnsInterceptorRequest {
  readonly faultId: string;
  /** The servers whose DNS traffic is redirected (one interceptor port each). */
  readonly servers: readonly string[];
  /** Intercepted nameservers that are not (why, as sentences), named in the plan. */
  readonly skipped: readonly string[];
  /** Where unmatched queries go; undefined: each to the server it was sent to. */
  readonly upstream: string | undefined;
  readonly dnsPort: number;
  /** `--action=…` and the rest of the policy's arguments (names, percentage, spoof map…). */
  readonly policyArgs: readonly string[];
  /** Names never touched (the control plane's). */
  readonly spared: readonly string[];
  /** One line for --dry-run and the ledger: what matching queries get. */
  readonly describe: string;
}

export function interceptorArgs(r: DnsInterceptorRequest): string[] {
  return [...r.servers.map((s) => `--server=${s}`), ...(r.upstream === undefined ? [] : [`--upstream=${r.upstream}`]), `--upstream-port=${r.dnsPort}`, `--mark=${DNS_MARK}`, ...r.policyArgs, ...r.spared.map((name) => `--spare=${name}`)];
}

/**
 * The chain's rules: the interceptor's own (marked) packets first, then those of the local stubs'
 * owners (`exemptUids`: their upstream queries are not faulted a second time), then each
 * server's redirects to its port.
 */
export function redirectRules(servers: readonly string[], dnsPort: number, interceptorPorts: readonly number[], exemptUids: readonly number[] = []): NftRuleSpec[] {
  return [
    { mark: DNS_MARK, verdict: 'accept' },
    ...exemptUids.map((skuid): NftRuleSpec => ({ skuid, verdict: 'accept' })),
    ...servers.flatMap((address, i) =>
      (['udp', 'tcp'] as const).map((l4proto): NftRuleSpec => ({ address, l4proto, port: dnsPort, verdict: 'redirect', redirectPort: interceptorPorts[i] ?? 0 })),
    ),
  ];
}

const StatsEvent = z.object({ event: z.literal('stats'), queries: z.number(), answered: z.number(), dropped: z.number(), forwarded: z.number(), upstreamErrors: z.number() });

function describeStats(event: Record<string, unknown>): string | undefined {
  const s = StatsEvent.safeParse(event);
  return s.success ? `${s.data.queries} queries: ${s.data.answered} answered, ${s.data.dropped} dropped, ${s.data.forwarded} forwarded (${s.data.upstreamErrors} upstream errors)` : undefined;
}

export function planDnsInterceptor(r: DnsInterceptorRequest, ctx: FaultContext): Planned<DnsInterceptorRevert> {
  const chainName = `${r.faultId}-dns`;
  const flows: DnsFlows = { addresses: [...r.servers], port: r.dnsPort };
  const exemptUids = localStubUids(readUdpSockets(ctx.procRoot), r.servers, r.dnsPort, (inode) => processUidOfSocket(ctx.procRoot, inode));
  const parts = interceptorParts(
    {
      faultId: r.faultId,
      mode: 'dns',
      args: interceptorArgs(r),
      chain: { name: chainName, hook: 'output' },
      ports: r.servers.length,
      rules: (ports) => redirectRules(r.servers, r.dnsPort, ports, exemptUids),
      afterRedirect: () => {
        const deleted = deleteUdpFlows(flows, ctx);
        ctx.logger.info({ servers: r.servers, keptFlowsDeleted: deleted }, 'conntrack entries of kept DNS flows deleted');
      },
      stats: describeStats,
      idle: 'no query yet',
    },
    DNS_NAMES,
    ctx,
  );
  const withPort = (address: string): string => (address.includes(':') ? `[${address}]:${r.dnsPort}` : `${address}:${r.dnsPort}`);
  const servers = r.servers.map(withPort).join(', ');
  const forwarded = r.upstream === undefined ? 'each to the server it was sent to' : `to ${withPort(r.upstream)} (upstreamServer)`;
  const planned: Planned<InterceptorRevert> = {
    target: `DNS to ${servers}: ${r.describe}`,
    changes: [
      `start process: ${parts.argv} (DNS interceptor on loopback, a free port for UDP and TCP per server; killed if faultd dies)`,
      ...parts.cgroups.map((dir) => `create cgroup ${dir} and move the interceptor into it`),
      `nf_tables: add chain inet ${NFT_TABLE} ${chainName} (type nat hook output priority ${NAT_PRIORITY}), one atomic batch, after the interceptor is ready:`,
      `  accept meta mark 0x${DNS_MARK.toString(16).padStart(8, '0')} (the interceptor's own queries to the upstream)`,
      ...exemptUids.map((uid) => `  accept meta skuid ${uid} (a local DNS server on ${r.servers.filter(isLoopback).map(withPort).join(', ')}: its own queries to its upstreams are not faulted again)`),
      ...r.servers.map((s) => `  redirect udp and tcp to ${withPort(s)} → the interceptor's port for it`),
      `queries the fault does not target are forwarded unchanged, ${forwarded}`,
      ...r.skipped.map((why) => `not intercepted: ${why}`),
      `conntrack: delete the entries of UDP flows to ${servers} that exist (a socket a resolver keeps is redirected by its next query; TCP connections are left as they are)`,
      ...(r.spared.length ? [`kept out of the fault: ${r.spared.map((n) => `"${n}"`).join(', ')} (control plane), always forwarded`] : []),
    ],
    revertSteps: [
      `delete chain inet ${NFT_TABLE} ${chainName} (and the table once empty), verify it is gone`,
      `conntrack: delete the entries of UDP flows to ${servers} (a kept socket's entry would still lead to the interceptor)`,
      'SIGTERM the interceptor (it answers the queries in flight for up to 200 ms), SIGKILL after 300 ms; remove its cgroup; verify it is gone',
    ],
    revert: parts.revert,
    apply: parts.apply,
  };
  return withRevert(planned, { flows });
}

/**
 * The conntrack entries of UDP flows to the servers: after the redirect is added, a flow's old
 * entry (not NATed) would keep its packets off the redirect; after it is deleted, an entry NATed
 * to the interceptor would keep them on it. Best effort: the count deleted, or undefined (logged)
 * when the kernel refuses (no ctnetlink) — new flows are unaffected either way.
 */
function deleteUdpFlows(flows: DnsFlows, ctx: FaultContext): number | undefined {
  try {
    return ctx.native.conntrackDeleteFlows({ l4proto: 'udp', port: flows.port, addresses: flows.addresses });
  } catch (error) {
    ctx.logger.warn({ error: error instanceof Error ? error.message : String(error), flows }, 'conntrack entries of kept DNS flows not deleted: a UDP socket kept open follows its old entry until it expires');
    return undefined;
  }
}

function revertFlows(flows: DnsFlows | undefined, ctx: FaultContext): RevertOutcome {
  const deleted = flows ? deleteUdpFlows(flows, ctx) : 0;
  return deleted ? { outcome: 'reverted', detail: `deleted ${deleted} conntrack entr${deleted === 1 ? 'y' : 'ies'} of DNS flows` } : { outcome: 'already-absent', detail: 'no conntrack entry of a DNS flow' };
}

/**
 * Chain first (verified gone), then the kept flows' conntrack entries, then the interceptor;
 * idempotent, also after kill -9 and reboot.
 * A chain that cannot be deleted keeps the interceptor running: stopping it would leave the
 * host's DNS redirected to a dead port, which is worse than the fault. A retry stops it.
 */
export function revertDnsInterceptor(record: DnsInterceptorRevert, ctx: FaultContext): Promise<RevertOutcome> {
  return revertInterceptor(record, DNS_NAMES, ctx, () => revertFlows(record.flows, ctx));
}
