// SPDX-License-Identifier: Apache-2.0
/**
 * linux-dns-error (Harness name and tunables): DNS queries for `hostNames` (all names when
 * empty; `matchScheme` exact or substring) fail for the fault's duration, for every resolver
 * and application on the host, caching or not: an nf_tables nat chain redirects the host's DNS
 * traffic (to each resolv.conf nameserver, on `dnsPort`) to faultd's DNS interceptor, which
 * answers the matching queries itself (NXDOMAIN by default; faultd extensions: `errorType`
 * SERVFAIL, REFUSED or a timeout, and `percentage` of the matching queries) and forwards the
 * rest unchanged, to the server each was sent to or to `upstreamServer` (Harness's meaning). The control plane's host name is never touched (dns/interceptor-fault.ts).
 */
import { z } from 'zod';

import { parseHostnames } from '../net/addresses.js';
import { dnsPortParam, dnsSupport, interceptedServers, natRedirectProblem, noServerProblem, upstreamServerParam } from './dns/dns-params.js';
import { DnsInterceptorRevertSchema, planDnsInterceptor, revertDnsInterceptor } from './dns/interceptor-fault.js';
import { numberParam, paramsObject, type Param } from './params.js';
import { enumParam } from './network/target-params.js';
import { defineInjector } from './types.js';

/** Most names one fault targets. */
const MAX_HOST_NAMES = 64;

function hostNamesParam(): Param<string[]> {
  const error = `must be host names or keywords, as "example.com,api" or a list (at most ${MAX_HOST_NAMES})`;
  const schema = z
    .union([z.string(), z.array(z.string())], { error })
    .optional()
    .transform((value, c) => {
      if (value === undefined) return [];
      try {
        const names = [...new Set(parseHostnames(value).map((n) => n.replace(/\.$/, '').toLowerCase()))];
        if (names.length > MAX_HOST_NAMES) throw new Error(`${names.length} names: ${error}`);
        return names;
      } catch (e) {
        c.addIssue({ code: 'custom', input: value, message: e instanceof Error ? e.message : String(e) });
        return z.NEVER;
      }
    });
  return { schema, doc: { name: 'hostNames', type: 'host list', default: '(all names)', bounds: `0–${MAX_HOST_NAMES} DNS names or keywords`, description: 'names whose queries fail; empty: every name (HOST_NAMES)' } };
}

function params() {
  return {
    hostNames: hostNamesParam(),
    matchScheme: enumParam('matchScheme', ['exact', 'substring'], 'exact', 'exact: the query is one of hostNames; substring: it contains one (MATCH_SCHEME)'),
    upstreamServer: upstreamServerParam(),
    dnsPort: dnsPortParam(),
    errorType: enumParam('errorType', ['nxdomain', 'servfail', 'refused', 'timeout'], 'nxdomain', 'what a matching query gets; timeout: no answer at all (faultd extension)'),
    percentage: numberParam({ name: 'percentage', min: 0, max: 100, default: 100, unit: '%', description: 'share of matching queries that fail, drawn per query (faultd extension)' }),
  };
}

export const linuxDnsError = defineInjector({
  kind: 'linux-dns-error',
  summary: 'Fail DNS queries for some or all names (nf_tables redirect to a DNS interceptor)',
  paramAliases: { HOST_NAMES: 'hostNames', MATCH_SCHEME: 'matchScheme', UPSTREAM_SERVER: 'upstreamServer', DNS_PORT: 'dnsPort', ERROR_TYPE: 'errorType', PERCENTAGE: 'percentage' },
  paramsSchema: (ctx) =>
    paramsObject(params()).superRefine((p, c) => {
      const missing = natRedirectProblem('linux-dns-error', ctx);
      if (missing) c.addIssue({ code: 'custom', path: [], message: missing });
      const noServer = noServerProblem(ctx, p.upstreamServer);
      if (noServer) c.addIssue({ code: 'custom', path: ['upstreamServer'], message: noServer });
    }),
  paramDocs: () => Object.values(params()).map((p) => p.doc),
  // Every DNS fault intercepts the host's nameservers on dnsPort: a second redirect of the same
  // traffic would never be reached.
  exclusiveTargets: (p) => [`dns-intercept:${p.dnsPort}`],
  trafficReach: (p) => ({ via: 'dns', names: p.hostNames, match: p.matchScheme }),
  revertSchema: DnsInterceptorRevertSchema,
  plan(faultId, p, ctx) {
    const names = p.hostNames.length ? p.hostNames.map((n) => `"${n}"`).join(', ') : 'every name';
    const share = p.percentage < 100 ? `${p.percentage}% of ` : '';
    const answer = p.errorType === 'timeout' ? 'no answer (timeout)' : p.errorType.toUpperCase();
    return planDnsInterceptor(
      {
        faultId,
        ...interceptedServers(ctx.network.resolvers, p.upstreamServer),
        upstream: p.upstreamServer,
        dnsPort: p.dnsPort,
        policyArgs: [`--action=${p.errorType}`, `--percentage=${p.percentage}`, `--match=${p.matchScheme}`, ...p.hostNames.map((n) => `--name=${n}`)],
        spared: ctx.network.safety.controlPlaneName ? [ctx.network.safety.controlPlaneName] : [],
        describe: `${share}queries for ${names}${p.matchScheme === 'substring' && p.hostNames.length ? ' (substring)' : ''} get ${answer}; the rest are forwarded unchanged`,
      },
      ctx,
    );
  },
  revert: (record, ctx) => revertDnsInterceptor(record, ctx),
  support: (ctx) => dnsSupport(ctx),
});
