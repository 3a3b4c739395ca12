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
 * interceptor stopped and verified gone.
 */
import { z } from 'zod';

import { FaultdError } from '../../errors.js';
import { stressCgroupDirs } from '../../host/cgroup.js';
import type { NftChainSpec, NftRuleSpec } from '../../native/addon.js';
import { isLoopback, localStubUids, processUidOfSocket, readUdpSockets } from './local-stubs.js';
import { NFT_TABLE, NftRevertSchema, revertNftFault, type NftRevert } from '../network/nft-fault.js';
import { revertInOrder } from '../network/ordered-revert.js';
import { revertStressor, startStressor, stressorArgv, StressorRevertSchema } from '../stressor-process.js';
import { RevertError, type ActiveFault, type FaultContext, type Planned, type RevertOutcome } from '../types.js';

/** fwmark of the interceptor's upstream sockets ("fa17d53"); the chain lets it through unredirected. */
export const DNS_MARK = 0x0fa17d53;
/** Before conntrack's own NAT users (iptables' nat table sits at -100 too; dstnat). */
const NAT_OUTPUT_PRIORITY = -100;

/** The UDP flows whose conntrack entries apply and revert delete (to these servers on this port). */
const DnsFlowsSchema = z.object({ addresses: z.array(z.string()).min(1).max(64), port: z.number().int().min(1).max(65535) });
type DnsFlows = z.infer<typeof DnsFlowsSchema>;

export const DnsInterceptorRevertSchema = z.object({
  nft: NftRevertSchema,
  interceptor: StressorRevertSchema,
  /** Absent in records of faultd versions before it. */
  flows: DnsFlowsSchema.optional(),
});
export type DnsInterceptorRevert = z.infer<typeof DnsInterceptorRevertSchema>;

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

const Port = z.number().int().min(1).max(65535);
const ListeningEvent = z.object({ event: z.literal('listening'), ports: z.array(Port) });
const StatsEvent = z.object({ event: z.literal('stats'), queries: z.number(), answered: z.number(), dropped: z.number(), forwarded: z.number(), upstreamErrors: z.number() });

export function planDnsInterceptor(r: DnsInterceptorRequest, ctx: FaultContext): Planned<DnsInterceptorRevert> {
  const chainName = `${r.faultId}-dns`;
  const args = interceptorArgs(r);
  const cgroups = ctx.host.isRoot ? stressCgroupDirs(ctx.cgroups, r.faultId) : [];
  const interceptor = { tag: r.faultId, bootId: ctx.host.bootId, cgroups };
  const nft: NftRevert = { bootId: ctx.host.bootId, table: NFT_TABLE, chains: [chainName] };
  const flows: DnsFlows = { addresses: [...r.servers], port: r.dnsPort };
  const revert: DnsInterceptorRevert = { nft, interceptor, flows };
  const exemptUids = localStubUids(readUdpSockets(ctx.procRoot), r.servers, r.dnsPort, (inode) => processUidOfSocket(ctx.procRoot, inode));
  const withPort = (address: string): string => (address.includes(':') ? `[${address}]:${r.dnsPort}` : `${address}:${r.dnsPort}`);
  const servers = r.servers.map(withPort).join(', ');
  const forwarded = r.upstream === undefined ? 'each to the server it was sent to' : `to ${withPort(r.upstream)} (upstreamServer)`;
  return {
    target: `DNS to ${servers}: ${r.describe}`,
    changes: [
      `start process: faultd-stressor ${stressorArgv(r.faultId, 'dns', args).join(' ')} (DNS interceptor on loopback, a free port for UDP and TCP per server; killed if faultd dies)`,
      ...cgroups.map((dir) => `create cgroup ${dir} and move the interceptor into it`),
      `nf_tables: add chain inet ${NFT_TABLE} ${chainName} (type nat hook output priority ${NAT_OUTPUT_PRIORITY}), one atomic batch, after the interceptor is ready:`,
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
    revert,
    async apply(recordApplied, signal) {
      let ports: number[] = [];
      let stats = 'no query yet';
      const handle = await startStressor(interceptor, 'dns', args, ctx, (started) => recordApplied({ ...revert, interceptor: started }), signal, (event) => {
        const listening = ListeningEvent.safeParse(event);
        if (listening.success) ports = listening.data.ports;
        const s = StatsEvent.safeParse(event);
        if (s.success) stats = `${s.data.queries} queries: ${s.data.answered} answered, ${s.data.dropped} dropped, ${s.data.forwarded} forwarded (${s.data.upstreamErrors} upstream errors)`;
      });
      if (ports.length !== r.servers.length) throw new FaultdError('FAULTD_ERR_FAULT_APPLY', `the DNS interceptor reported ${ports.length} port(s) for ${r.servers.length} server(s)`);
      // Added last: until now, DNS went to the upstream as before. The runner's revert stops
      // the interceptor if this throws (the batch is atomic: nothing of it is left).
      const chain: NftChainSpec = { table: NFT_TABLE, chain: chainName, type: 'nat', hook: 'output', priority: NAT_OUTPUT_PRIORITY, rules: redirectRules(r.servers, r.dnsPort, ports, exemptUids) };
      ctx.native.nftAddChain(chain);
      const deleted = deleteUdpFlows(flows, ctx);
      ctx.logger.info({ ports, servers, keptFlowsDeleted: deleted }, 'DNS to the servers redirected to the interceptor');
      const active: ActiveFault = { measure: () => stats, ended: handle.exit.then((why) => `DNS interceptor exited: ${why}`) };
      return active;
    },
  };
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
export async function revertDnsInterceptor(record: DnsInterceptorRevert, ctx: FaultContext): Promise<RevertOutcome> {
  let chain: RevertOutcome;
  try {
    chain = await revertNftFault(record.nft, ctx);
  } catch (error) {
    if (!(error instanceof RevertError)) throw error;
    throw new RevertError(
      `${error.message}; the DNS interceptor is left running, so that the redirected queries are still answered`,
      `${error.leftover}, and the DNS interceptor it redirects to`,
      `${error.manualFix}, then faultd revert --remnants (stops the interceptor)`,
      { cause: error },
    );
  }
  return revertInOrder(
    [() => Promise.resolve(chain), () => Promise.resolve(revertFlows(record.flows, ctx)), () => revertStressor(record.interceptor, ctx)],
    'no faultd DNS chain or interceptor was left',
  );
}
