// SPDX-License-Identifier: Apache-2.0
/**
 * The mechanism of the five HTTP API faults: faultd's HTTP interceptor (`faultd-stressor http`,
 * C++) on `proxyPort`, and one nf_tables nat chain `inet faultd <faultId>-http` that redirects
 * new TCP connections to it (network/interceptor-fault.ts: interceptor recorded before the
 * chain, chain added last and deleted first).
 *
 * Ingress (default): hook prerouting, `iifname <networkInterface> [ip saddr <source>] tcp dport
 * <targetServicePort> redirect to :<proxyPort>`: requests from other hosts to this host's service.
 * Egress: hook output, `[ip daddr <destination>] tcp dport <port> redirect to :<proxyPort>` for
 * each destination × destinationPorts: requests this host sends. In both, the interceptor's own
 * upstream connections (SO_MARK HTTP_MARK) are accepted first, then the safety exclusions
 * (control plane, safety.excludeIPs) are accepted, then the redirects. Connections open before
 * the chain keep their conntrack entry and go on to the service directly (new connections only).
 */
import { existsSync } from 'node:fs';

import { z } from 'zod';

import { FaultdError, messageOf } from '../../errors.js';
import { formatTarget, type IpTarget } from '../../net/addresses.js';
import type { NftRuleSpec } from '../../native/addon.js';
import { interceptorParts, InterceptorRevertSchema, interceptorSupport, NAT_PRIORITY, revertInterceptor, type InterceptorNames } from '../network/interceptor-fault.js';
import { describeRule, NFT_TABLE } from '../network/nft-fault.js';
import { controlPlaneRefusal, controlPlaneTargets, describeExclusions, exclusionsOf } from '../network/safety.js';
import { resolveHosts } from '../network/targets.js';
import { RevertError, type FaultContext, type Planned, type RevertOutcome, type Support } from '../types.js';
import { proxyPortBusy, redirectedPorts, type HttpTargeting } from './http-params.js';
import { readListeningTcpPorts } from '../../host/tcp-listeners.js';
import { removeTlsMaterial, tlsDirOf, tlsFilesOf, writeTlsMaterial, type TlsFiles } from './tls-material.js';

/** fwmark of the interceptor's upstream sockets ("fa17" + "0080"); the chain lets them through. */
export const HTTP_MARK = 0x0fa10080;
/** What the interceptor gets after SIGTERM to finish the exchanges in flight (its --grace-ms). */
export const HTTP_GRACE_MS = 2000;
/** The revert's SIGKILL comes this long after the grace. */
const GRACE_MARGIN_MS = 500;
/** Bound on the chain's rules (destinations × ports, sources, exclusions). */
const MAX_RULES = 512;

const HTTP_NAMES: InterceptorNames = {
  protocol: 'HTTP',
  keptRunningWhy: 'so that the redirected connections are still served',
  stopGraceMs: HTTP_GRACE_MS + GRACE_MARGIN_MS,
};

/** What a matching request gets, as the interceptor's arguments and as words. */
export interface HttpAction {
  /** `--action=…` and its own arguments (status, body, latency, direction, header edits). */
  readonly args: readonly string[];
  /** "get 503 without reaching the service", for --dry-run and the ledger. */
  readonly describe: string;
}

/** Where the chain redirects, with host names resolved. */
export interface HttpScope {
  readonly hook: 'prerouting' | 'output';
  /** Ingress: sources; egress: destinations (empty: any). */
  readonly remotes: readonly IpTarget[];
  readonly exclude: readonly IpTarget[];
}

/** The interceptor's match arguments: path, methods, headers, query, share. */
export function matchArgs(p: HttpTargeting): string[] {
  return [
    ...(p.pathFilter ? [`--path=${p.pathFilter}`] : []),
    ...p.methods.map((m) => `--method=${m}`),
    ...p.headersFilters.map((h) => `--match-header=${h.name}:${h.value}`),
    ...p.queryParams.map((q) => `--query=${q.name}=${q.value}`),
    `--percentage=${p.percentage}`,
  ];
}

/** The revert record: the interceptor's, and the directory of its TLS files when it terminates TLS. */
export const HttpRevertSchema = InterceptorRevertSchema.extend({ tlsDir: z.string().optional() });
export type HttpRevert = z.infer<typeof HttpRevertSchema>;

/** `tls`: the files of the certificate it presents, when it terminates TLS (httpsEnabled). */
export function interceptorArgs(p: HttpTargeting, action: HttpAction, tls?: TlsFiles): string[] {
  const tlsArgs = tls ? [`--tls-cert=${tls.cert}`, `--tls-key=${tls.key}`, ...(p.httpsRootCertFile ? [`--upstream-ca=${p.httpsRootCertFile}`] : [])] : [];
  return [`--mark=${HTTP_MARK}`, `--port=${p.proxyPort}`, `--grace-ms=${HTTP_GRACE_MS}`, ...tlsArgs, ...action.args, ...matchArgs(p)];
}

/** The chain's rules: the interceptor's own (marked) connections, the exclusions, then the redirects. */
export function httpChainRules(p: HttpTargeting, scope: HttpScope, port: number): NftRuleSpec[] {
  const source = scope.hook === 'prerouting';
  const rules: NftRuleSpec[] = [{ mark: HTTP_MARK, verdict: 'accept' }];
  for (const t of scope.exclude) rules.push({ address: t.address, prefixLen: t.prefixLen, matchSourceAddress: source, verdict: 'accept' });
  const remotes: (IpTarget | undefined)[] = scope.remotes.length ? [...scope.remotes] : [undefined];
  for (const remote of remotes) {
    const address: Partial<NftRuleSpec> = remote ? { address: remote.address, prefixLen: remote.prefixLen, matchSourceAddress: source } : {};
    const ports = source ? [p.targetServicePort] : remote?.ports.length ? remote.ports : p.destinationPorts;
    for (const servicePort of ports) {
      rules.push({ ...(source && p.networkInterface ? { ifname: p.networkInterface } : {}), ...address, l4proto: 'tcp', port: servicePort, verdict: 'redirect', redirectPort: port });
    }
  }
  return rules;
}

function describeChainRule(rule: NftRuleSpec): string {
  if (rule.mark !== undefined) return `accept meta mark 0x${rule.mark.toString(16).padStart(8, '0')} (the interceptor's own connections upstream)`;
  return rule.verdict === 'redirect' ? `${describeRule(rule)} → :${rule.redirectPort ?? 0}` : describeRule(rule);
}

const StatsEvent = (event: Record<string, unknown>): string | undefined => {
  const n = (key: string): number | undefined => (typeof event[key] === 'number' ? event[key] : undefined);
  const [connections, requests, matched, faulted, passed, upstreamErrors] = ['connections', 'requests', 'matched', 'faulted', 'passed', 'upstreamErrors'].map(n);
  if (event['event'] !== 'stats' || [connections, requests, matched, faulted, passed, upstreamErrors].includes(undefined)) return undefined;
  return `${requests} requests on ${connections} connections: ${matched} matched, ${faulted} faulted, ${passed} passed (${upstreamErrors} upstream errors)`;
};

/** Resolves the host names of the direction's filter; refuses a destination that is the control plane. */
async function scopeOf(p: HttpTargeting, ctx: FaultContext): Promise<HttpScope & { notes: string[] }> {
  const ingress = p.serviceDirection === 'ingress';
  const field = ingress ? 'sourceHosts' : 'destinationHosts';
  const hosts = ingress ? p.sourceHosts : p.destinationHosts;
  let resolved: IpTarget[];
  try {
    resolved = await resolveHosts(hosts);
  } catch (error) {
    throw new FaultdError('FAULTD_ERR_FAULT_APPLY', (error instanceof Error ? error.message : String(error)).replace('destinationHosts', field), { cause: error });
  }
  if (hosts.length) ctx.logger.info({ [field]: hosts, resolved: resolved.map(formatTarget) }, `${field} resolved`);
  const remotes = [...(ingress ? p.sourceIPs : p.destinationIPs), ...resolved];
  if (!ingress) {
    const hits = controlPlaneTargets(remotes, ctx.network.safety);
    if (hits.length) throw new FaultdError('FAULTD_ERR_INPUT_INVALID', `destinationHosts: ${controlPlaneRefusal(hits).replace(/\. Set allowControlPlaneImpact.*$/, '')}`);
  }
  const exclusions = exclusionsOf(ctx.network.safety, false);
  return { hook: ingress ? 'prerouting' : 'output', remotes, exclude: exclusions.map((e) => e.target), notes: describeExclusions(exclusions, []) };
}

/** Plans an HTTP fault: reads the host (listeners on proxyPort, host names), changes nothing. */
export async function planHttpFault(faultId: string, p: HttpTargeting, action: HttpAction, ctx: FaultContext): Promise<Planned<HttpRevert>> {
  // Checked at validation too; again here, just before the start, against what listens now.
  if (readListeningTcpPorts(ctx.procRoot).has(p.proxyPort)) {
    throw new FaultdError('FAULTD_ERR_INPUT_INVALID', `proxyPort: ${proxyPortBusy(p.proxyPort)}`);
  }
  const scope = await scopeOf(p, ctx);
  const rules = httpChainRules(p, scope, p.proxyPort);
  if (rules.length > MAX_RULES) {
    throw new FaultdError('FAULTD_ERR_INPUT_INVALID', `the destinations and ports expand to ${rules.length} nf_tables rules, more than ${MAX_RULES}: give fewer destinationIPs/destinationHosts or destinationPorts`);
  }
  if (p.httpsRootCertFile && !existsSync(p.httpsRootCertFile)) {
    throw new FaultdError('FAULTD_ERR_INPUT_INVALID', `httpsRootCertFile: ${p.httpsRootCertFile} does not exist`);
  }
  const tlsDir = p.httpsEnabled && p.customCertificates ? tlsDirOf(faultId, ctx.host.isRoot) : undefined;
  const tlsFiles = tlsDir ? tlsFilesOf(tlsDir) : undefined;
  const chainName = `${faultId}-http`;
  const parts = interceptorParts(
    { faultId, mode: 'http', args: interceptorArgs(p, action, tlsFiles), chain: { name: chainName, hook: scope.hook }, rules: (ports) => httpChainRules(p, scope, ports[0] ?? 0), stats: StatsEvent, idle: 'no request yet' },
    HTTP_NAMES,
    ctx,
  );
  const ports = redirectedPorts(p).join(',');
  const where =
    p.serviceDirection === 'ingress'
      ? `HTTP requests to this host's port ${p.targetServicePort} arriving on ${p.networkInterface ?? "?"}${scope.remotes.length ? ` from ${scope.remotes.map(formatTarget).join(', ')}` : ''}`
      : `HTTP requests this host sends to ${scope.remotes.length ? scope.remotes.map(formatTarget).join(', ') : 'any host'} on port ${ports}`;
  const share = p.percentage < 100 ? `${p.percentage}% of ` : '';
  const filters = [
    p.pathFilter ? `path ${p.pathFilter}*` : '',
    p.methods.length ? `method ${p.methods.join('|')}` : '',
    ...p.headersFilters.map((h) => `header ${h.name}: ${h.value}`),
    ...p.queryParams.map((q) => `query ${q.name}=${q.value}`),
  ].filter(Boolean);
  return {
    target: `${where}: ${share}those matching ${filters.length ? filters.join(', ') : 'any request'} ${action.describe}; the rest pass unchanged`,
    changes: [
      ...scope.notes,
      ...(tlsDir ? [`write customCertificates' key and certificate chain to ${tlsDir}/ (directory 0700, files 0600); the interceptor terminates TLS with them${p.httpsRootCertFile ? ` and verifies the upstream against ${p.httpsRootCertFile}` : ' and speaks TLS to the upstream without verifying it (no httpsRootCertFile)'}`] : []),
      `start process: ${parts.argv} (HTTP interceptor listening on port ${p.proxyPort}, IPv4 and IPv6; killed if faultd dies)`,
      ...parts.cgroups.map((dir) => `create cgroup ${dir} and move the interceptor into it`),
      `nf_tables: add chain inet ${NFT_TABLE} ${chainName} (type nat hook ${scope.hook} priority ${NAT_PRIORITY}) with ${rules.length} rule(s), one atomic batch, after the interceptor is ready:`,
      ...rules.map((rule) => `  ${describeChainRule(rule)}`),
      'only new TCP connections are redirected: connections open before the fault keep going to the service directly (conntrack)',
      ...tlsPortWarning(p),
    ],
    revertSteps: [
      `delete chain inet ${NFT_TABLE} ${chainName} (and the table once empty), verify it is gone: new connections go to the service directly again`,
      `SIGTERM the interceptor (it accepts nothing more and finishes the exchanges in flight for up to ${HTTP_GRACE_MS} ms), SIGKILL after ${HTTP_NAMES.stopGraceMs} ms; remove its cgroup; verify it is gone`,
      ...(tlsDir ? [`remove ${tlsDir}/ (the key and certificate)`] : []),
    ],
    revert: { ...parts.revert, ...(tlsDir ? { tlsDir } : {}) },
    async apply(recordApplied, signal) {
      // The intent (with tlsDir) is in the ledger: a crash from here on leaves nothing unknown.
      if (tlsDir && p.customCertificates) writeTlsMaterial(tlsDir, p.customCertificates);
      return parts.apply((applied) => recordApplied({ ...applied, ...(tlsDir ? { tlsDir } : {}) }), signal);
    },
  };
}

/** Ports that usually carry TLS, which the interceptor reads as HTTP only without httpsEnabled. */
const TLS_PORTS = [443, 8443];

/** A --dry-run line when TLS ports are redirected without httpsEnabled (Harness's egress default has 8443). */
function tlsPortWarning(p: HttpTargeting): string[] {
  const ports = p.httpsEnabled ? [] : redirectedPorts(p).filter((port) => TLS_PORTS.includes(port));
  return ports.length
    ? [`note: port ${ports.join(', ')} usually carries TLS; without httpsEnabled those connections are redirected too and fail at the interceptor (it answers 400 to what is not HTTP): leave the port out of destinationPorts, or give httpsEnabled and customCertificates`]
    : [];
}

/** Chain first (verified gone), then the interceptor after its grace; idempotent, also from `revert --remnants`. */
export async function revertHttpFault(record: HttpRevert, ctx: FaultContext): Promise<RevertOutcome> {
  // A failed chain delete throws here and keeps the interceptor, and so its TLS files.
  const outcome = await revertInterceptor(record, HTTP_NAMES, ctx);
  if (!record.tlsDir) return outcome;
  let removed: boolean;
  try {
    removed = removeTlsMaterial(record.tlsDir);
  } catch (error) {
    throw new RevertError(`the interceptor's TLS files could not be removed: ${messageOf(error)}`, `directory ${record.tlsDir} (a private key)`, `rm -r ${record.tlsDir}`, { cause: error });
  }
  if (!removed) return outcome;
  return { outcome: 'reverted', detail: outcome.outcome === 'reverted' ? `${outcome.detail}; removed ${record.tlsDir}` : `removed ${record.tlsDir}` };
}

/** `faultd faults` / `doctor`: root, nat redirect, and what HTTP the interceptor speaks. */
export function httpSupport(ctx: FaultContext): Support {
  const base = interceptorSupport(ctx, 'HTTP interceptor');
  const tls = ctx.features.httpTls?.();
  const https = tls?.supported ? 'with httpsEnabled and customCertificates (TLS terminated with your certificate, ALPN h2 or http/1.1)' : `refused (${tls?.reason ?? 'no TLS probe'})`;
  return { ...base, notes: [...base.notes, `HTTP/1.1 (keep-alive, chunked, pipelining) and HTTP/2; HTTPS: ${https}`] };
}

/** One interceptor per proxy port, and per (direction, port): two faults never redirect the same traffic. */
export function httpExclusiveTargets(p: HttpTargeting): string[] {
  return [`http-proxy-port:${p.proxyPort}`, ...redirectedPorts(p).map((port) => `http-${p.serviceDirection}:${port}`)];
}
