// SPDX-License-Identifier: Apache-2.0
/** Tunables the DNS faults share (Harness names): the upstream server and the DNS port; the servers intercepted. */
import { isIP } from 'node:net';

import { z } from 'zod';

import { numberParam, type Param } from '../params.js';
import { interceptorSupport } from '../network/interceptor-fault.js';
import type { FaultContext, Support, ValidationContext } from '../types.js';

/** Why an address cannot be a DNS server of the fault (undefined when it can), as a sentence. */
function addressProblem(address: string): string | undefined {
  if (address.includes('%')) return `${address}: a zone id is not supported (a link-local resolver); give a global or unique-local address`;
  if (isIP(address) === 0) return ADDRESS_ERROR;
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(canonicalAddress(address));
  // An ip6 rule never matches the IPv4 packets such an address stands for.
  if (mapped) return `${address} is an IPv4-mapped IPv6 address: give the IPv4 address ${[...hexWord(mapped[1]), ...hexWord(mapped[2])].join('.')}`;
  return undefined;
}

const ADDRESS_ERROR = 'must be the IPv4 or IPv6 address of a DNS server, as "10.0.0.53" or "fd00::53" (the port is dnsPort)';

/**
 * `upstreamServer` (Harness meaning): where the queries the fault does not target are forwarded,
 * an IPv4 or IPv6 address (the port is `dnsPort`). Absent (undefined), each query goes on to the
 * nameserver it was sent to. Which traffic is intercepted does not depend on it: the host's
 * nameservers (interceptedServers), and this server too.
 */
export function upstreamServerParam(): Param<string | undefined> {
  const schema = z
    .string({ error: ADDRESS_ERROR })
    .optional()
    .transform((value, c) => {
      if (value === undefined) return undefined;
      const address = value.trim().replace(/^\[(.*)\]$/, '$1');
      const problem = addressProblem(address);
      if (problem) {
        c.addIssue({ code: 'custom', input: value, message: problem });
        return z.NEVER;
      }
      return canonicalAddress(address);
    });
  return {
    schema,
    doc: { name: 'upstreamServer', type: 'address', default: "(each query's own nameserver)", bounds: 'an IPv4 or IPv6 address', description: 'where queries the fault does not target are forwarded (UPSTREAM_SERVER); the host\'s DNS to every resolv.conf nameserver is intercepted either way' },
  };
}

/** The DNS servers whose traffic a fault intercepts, and the nameservers it cannot intercept (with why). */
export interface InterceptedServers {
  readonly servers: readonly string[];
  readonly skipped: readonly string[];
}

/**
 * Every nameserver of the host (resolv.conf's, and systemd-resolved's upstreams behind its stub),
 * in one spelling, then `upstream` when given and not among them (a program may ask it
 * directly). A nameserver that cannot be intercepted (a zone id, an IPv4-mapped address) is
 * skipped and named.
 */
export function interceptedServers(resolvers: readonly string[], upstream: string | undefined): InterceptedServers {
  const servers: string[] = [];
  const skipped: string[] = [];
  for (const address of resolvers) {
    const problem = addressProblem(address);
    if (problem) skipped.push(problem);
    else if (!servers.includes(canonicalAddress(address))) servers.push(canonicalAddress(address));
  }
  if (upstream !== undefined && !servers.includes(upstream)) servers.push(upstream);
  return { servers: servers.slice(0, MAX_SERVERS), skipped: [...skipped, ...servers.slice(MAX_SERVERS).map((s) => `${s}: more than ${MAX_SERVERS} nameservers`)] };
}

/** Most servers one interceptor serves (its kMaxRoutes). */
export const MAX_SERVERS = 16;

/** The validation issue when there is nothing to intercept, naming the field that would give one. */
export function noServerProblem(ctx: Pick<ValidationContext, 'network'>, upstream: string | undefined): string | undefined {
  const { servers, skipped } = interceptedServers(ctx.network.resolvers, upstream);
  if (servers.length) return undefined;
  return skipped.length
    ? `no nameserver of /etc/resolv.conf can be intercepted (${skipped.join('; ')}): give upstreamServer`
    : 'no nameserver in /etc/resolv.conf to intercept: give upstreamServer';
}

/** One spelling per address (RFC 5952 for IPv6: `fd00:0::53` → `fd00::53`), so that equal upstreams compare equal. */
export function canonicalAddress(address: string): string {
  return isIP(address) === 6 ? new URL(`http://[${address}]/`).hostname.slice(1, -1) : address;
}

/** The two bytes of a 16-bit hex group, high first. */
function hexWord(group: string | undefined): [number, number] {
  const word = Number.parseInt(group ?? '0', 16);
  return [word >> 8, word & 0xff];
}

export function dnsPortParam(): Param<number> {
  return numberParam({ name: 'dnsPort', min: 1, max: 65535, integer: true, default: 53, description: 'port of the DNS traffic intercepted, and of the upstream (DNS_PORT)' });
}

/** `faultd faults` / `doctor` support of a DNS fault: root (CAP_NET_ADMIN) and nf_tables nat redirect. */
export function dnsSupport(ctx: FaultContext): Support {
  return interceptorSupport(ctx, 'DNS interceptor');
}

/** The validation issue for a kernel without nat redirect, naming what is missing. */
export function natRedirectProblem(kind: string, ctx: Pick<ValidationContext, 'features'>): string | undefined {
  const nat = ctx.features.natRedirect();
  return nat.supported ? undefined : `${kind} needs nf_tables nat chains with redirect (nf_nat, nft_chain_nat, nft_redir), which this kernel does not offer (${nat.reason})`;
}
