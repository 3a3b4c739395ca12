// SPDX-License-Identifier: Apache-2.0
/**
 * The mechanism of the DNS faults: the DNS interceptor (`faultd-stressor dns`, C++) started and
 * supervised like a stressor (own process and cgroup, dies with faultd, pid and start time in
 * the ledger before anything is redirected), and an nf_tables nat chain in faultd's table that
 * redirects this host's DNS traffic to the upstream (UDP and TCP to upstreamServer:dnsPort) to
 * the interceptor's loopback port. The interceptor's own forwards carry DNS_MARK, which the
 * chain accepts first, so they reach the upstream.
 *
 * Apply: interceptor started (ledger `applied` with its pid) → it reports its port and ready →
 * chain added, last. Revert: chain deleted and verified gone, first (no query is sent to the
 * interceptor any more), then the interceptor stopped and verified gone. The mechanism shared
 * with the HTTP faults is in network/interceptor-fault.ts; this module adds the DNS words.
 */
import { z } from 'zod';

import type { NftRuleSpec } from '../../native/addon.js';
import { interceptorParts, InterceptorRevertSchema, NAT_PRIORITY, revertInterceptor, type InterceptorNames, type InterceptorRevert } from '../network/interceptor-fault.js';
import { NFT_TABLE } from '../network/nft-fault.js';
import { STOP_GRACE_MS } from '../stressor-process.js';
import type { FaultContext, Planned, RevertOutcome } from '../types.js';

/** fwmark of the interceptor's upstream sockets ("fa17d53"); the chain lets it through unredirected. */
export const DNS_MARK = 0x0fa17d53;

export const DnsInterceptorRevertSchema = InterceptorRevertSchema;
export type DnsInterceptorRevert = InterceptorRevert;

/** The DNS interceptor answers the queries in flight for up to 200 ms after SIGTERM, below this grace. */
const DNS_NAMES: InterceptorNames = { protocol: 'DNS', keptRunningWhy: 'so that the redirected queries are still answered', stopGraceMs: STOP_GRACE_MS };

/** What the interceptor does, as its command line says it. */
export interface DnsInterceptorRequest {
  readonly faultId: string;
  readonly upstream: string;
  readonly dnsPort: number;
  /** `--action=…` and the rest of the policy's arguments (names, percentage, spoof map…). */
  readonly policyArgs: readonly string[];
  /** Names never touched (the control plane's). */
  readonly spared: readonly string[];
  /** One line for --dry-run and the ledger: what matching queries get. */
  readonly describe: string;
}

export function interceptorArgs(r: DnsInterceptorRequest): string[] {
  return [`--upstream=${r.upstream}`, `--upstream-port=${r.dnsPort}`, `--mark=${DNS_MARK}`, ...r.policyArgs, ...r.spared.map((name) => `--spare=${name}`)];
}

/** The chain's rules: the interceptor's own (marked) packets first, then the redirects. */
export function redirectRules(upstream: string, dnsPort: number, interceptorPort: number): NftRuleSpec[] {
  return [
    { mark: DNS_MARK, verdict: 'accept' },
    ...(['udp', 'tcp'] as const).map((l4proto): NftRuleSpec => ({ address: upstream, l4proto, port: dnsPort, verdict: 'redirect', redirectPort: interceptorPort })),
  ];
}

const StatsEvent = z.object({ event: z.literal('stats'), queries: z.number(), answered: z.number(), dropped: z.number(), forwarded: z.number(), upstreamErrors: z.number() });

function describeStats(event: Record<string, unknown>): string | undefined {
  const s = StatsEvent.safeParse(event);
  return s.success ? `${s.data.queries} queries: ${s.data.answered} answered, ${s.data.dropped} dropped, ${s.data.forwarded} forwarded (${s.data.upstreamErrors} upstream errors)` : undefined;
}

export function planDnsInterceptor(r: DnsInterceptorRequest, ctx: FaultContext): Planned<DnsInterceptorRevert> {
  const chainName = `${r.faultId}-dns`;
  const parts = interceptorParts(
    { faultId: r.faultId, mode: 'dns', args: interceptorArgs(r), chain: { name: chainName, hook: 'output' }, rules: (port) => redirectRules(r.upstream, r.dnsPort, port), stats: describeStats, idle: 'no query yet' },
    DNS_NAMES,
    ctx,
  );
  const upstream = r.upstream.includes(':') ? `[${r.upstream}]:${r.dnsPort}` : `${r.upstream}:${r.dnsPort}`;
  return {
    target: `DNS to ${upstream}: ${r.describe}`,
    changes: [
      `start process: ${parts.argv} (DNS interceptor on ${r.upstream.includes(':') ? '[::1]' : '127.0.0.1'}, a free port for UDP and TCP; killed if faultd dies)`,
      ...parts.cgroups.map((dir) => `create cgroup ${dir} and move the interceptor into it`),
      `nf_tables: add chain inet ${NFT_TABLE} ${chainName} (type nat hook output priority ${NAT_PRIORITY}), one atomic batch, after the interceptor is ready:`,
      `  accept meta mark 0x${DNS_MARK.toString(16).padStart(8, '0')} (the interceptor's own queries to the upstream)`,
      `  redirect udp and tcp to ${upstream} → the interceptor's port`,
      ...(r.spared.length ? [`kept out of the fault: ${r.spared.map((n) => `"${n}"`).join(', ')} (control plane), always forwarded`] : []),
    ],
    revertSteps: [
      `delete chain inet ${NFT_TABLE} ${chainName} (and the table once empty), verify it is gone`,
      'SIGTERM the interceptor (it answers the queries in flight for up to 200 ms), SIGKILL after 300 ms; remove its cgroup; verify it is gone',
    ],
    revert: parts.revert,
    apply: parts.apply,
  };
}

/**
 * Chain first (verified gone), then the interceptor; idempotent, also after kill -9 and reboot.
 * A chain that cannot be deleted keeps the interceptor running: stopping it would leave the
 * host's DNS redirected to a dead port, which is worse than the fault. A retry stops it.
 */
export function revertDnsInterceptor(record: DnsInterceptorRevert, ctx: FaultContext): Promise<RevertOutcome> {
  return revertInterceptor(record, DNS_NAMES, ctx);
}
