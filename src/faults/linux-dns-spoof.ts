// SPDX-License-Identifier: Apache-2.0
/**
 * linux-dns-spoof (Harness name and tunables): the names in `spoofMap` resolve to other
 * addresses for the fault's duration, for every program on the host. A map value is an address
 * (answered as an A or AAAA record) or a host name, resolved once at start through
 * `upstreamServer` (or the first nameserver) and answered with its addresses. Same mechanism as linux-dns-error: the DNS interceptor
 * behind an nf_tables nat redirect (dns/interceptor-fault.ts); other names are forwarded
 * unchanged and the control plane's name is never spoofed.
 */
import { isIP } from 'node:net';

import { z } from 'zod';

import { parseHostnames } from '../net/addresses.js';
import { dnsPortParam, dnsSupport, interceptedServers, natRedirectProblem, noServerProblem, upstreamServerParam } from './dns/dns-params.js';
import { DnsInterceptorRevertSchema, planDnsInterceptor, revertDnsInterceptor } from './dns/interceptor-fault.js';
import { resolveAt } from './dns/spoof-targets.js';
import { mapEntriesSchema, paramsObject, type Param } from './params.js';
import { defineInjector } from './types.js';

/** Most names one fault spoofs. */
const MAX_SPOOFED = 64;
/** TTL of the spoofed records: short, so clients that cache them ask again soon after the revert. */
export const SPOOF_TTL_S = 5;

const canonical = (name: string): string => name.replace(/\.$/, '').toLowerCase();

function spoofMapParam(): Param<Record<string, string>> {
  const error = `must be a map of host names to an address or a host name, as '{"api.example.com":"10.0.0.9"}' (JSON text or a YAML map, 1–${MAX_SPOOFED} entries)`;
  const schema = mapEntriesSchema(error, MAX_SPOOFED).transform(({ input: value, entries }, c) => {
    const map: Record<string, string> = {};
    for (const [name, target] of entries) {
      try {
        parseHostnames(name);
      } catch {
        c.addIssue({ code: 'custom', input: value, message: `"${name}" is not a host name` });
        return z.NEVER;
      }
      if (typeof target !== 'string' || (!isIP(target) && !isHostname(target))) {
        c.addIssue({ code: 'custom', input: value, message: `"${name}": ${JSON.stringify(target)} is neither an IPv4/IPv6 address nor a host name` });
        return z.NEVER;
      }
      map[canonical(name)] = isIP(target) ? target : canonical(target);
    }
    return map;
  });
  return { schema, doc: { name: 'spoofMap', type: 'map', default: undefined, bounds: `1–${MAX_SPOOFED} names → address or host name`, description: 'names to spoof and what they resolve to (required; SPOOF_MAP)' } };
}

function isHostname(text: string): boolean {
  try {
    parseHostnames(text);
    return !text.includes(',');
  } catch {
    return false;
  }
}

function params() {
  return { spoofMap: spoofMapParam(), upstreamServer: upstreamServerParam(), dnsPort: dnsPortParam() };
}

export const linuxDnsSpoof = defineInjector({
  kind: 'linux-dns-spoof',
  summary: 'Resolve some names to other addresses (nf_tables redirect to a DNS interceptor)',
  paramAliases: { SPOOF_MAP: 'spoofMap', UPSTREAM_SERVER: 'upstreamServer', DNS_PORT: 'dnsPort' },
  paramsSchema: (ctx) =>
    paramsObject(params()).superRefine((p, c) => {
      const missing = natRedirectProblem('linux-dns-spoof', ctx);
      if (missing) c.addIssue({ code: 'custom', path: [], message: missing });
      const noServer = noServerProblem(ctx, p.upstreamServer);
      if (noServer) c.addIssue({ code: 'custom', path: ['upstreamServer'], message: noServer });
      const hub = ctx.network.safety.controlPlaneName;
      if (hub && Object.keys(p.spoofMap).includes(canonical(hub))) {
        c.addIssue({ code: 'custom', path: ['spoofMap'], message: `"${hub}" is the control plane's host name: it is never spoofed (the agent would lose its control plane)` });
      }
    }),
  paramDocs: () => Object.values(params()).map((p) => p.doc),
  // Every DNS fault intercepts the host's nameservers on dnsPort: a second redirect of the same
  // traffic would never be reached.
  exclusiveTargets: (p) => [`dns-intercept:${p.dnsPort}`],
  trafficReach: (p) => ({ via: 'dns', names: Object.keys(p.spoofMap), match: 'exact' }),
  revertSchema: DnsInterceptorRevertSchema,
  async plan(faultId, p, ctx) {
    const intercepted = interceptedServers(ctx.network.resolvers, p.upstreamServer);
    // Through the server unmatched queries go to (the first nameserver without an upstream).
    const resolver = p.upstreamServer ?? intercepted.servers[0] ?? '';
    const resolved: [string, string, string[]][] = [];
    for (const [name, target] of Object.entries(p.spoofMap)) {
      resolved.push([name, target, isIP(target) ? [target] : await resolveAt(target, resolver, p.dnsPort)]);
    }
    const named = resolved.filter(([, target]) => !isIP(target));
    if (named.length) ctx.logger.info({ resolved: Object.fromEntries(named.map(([, target, a]) => [target, a])) }, 'spoof targets resolved through the upstream');
    return planDnsInterceptor(
      {
        faultId,
        ...intercepted,
        upstream: p.upstreamServer,
        dnsPort: p.dnsPort,
        policyArgs: ['--action=spoof', `--ttl=${SPOOF_TTL_S}`, ...resolved.flatMap(([name, , addresses]) => addresses.map((a) => `--spoof=${name}=${a}`))],
        spared: ctx.network.safety.controlPlaneName ? [ctx.network.safety.controlPlaneName] : [],
        describe: `${resolved.map(([name, target, a]) => `"${name}" → ${isIP(target) ? target : `${target} (${a.join(', ')})`}`).join(', ')} (TTL ${SPOOF_TTL_S} s); the rest are forwarded unchanged`,
      },
      ctx,
    );
  },
  revert: (record, ctx) => revertDnsInterceptor(record, ctx),
  support: (ctx) => dnsSupport(ctx),
});
