// SPDX-License-Identifier: Apache-2.0
/** Tunables the DNS faults share (Harness names): the upstream server and its port. */
import { isIP } from 'node:net';

import { z } from 'zod';

import { numberParam, type Param } from '../params.js';
import { interceptorSupport } from '../network/interceptor-fault.js';
import type { FaultContext, Support, ValidationContext } from '../types.js';

/**
 * `upstreamServer`: the resolver whose traffic is intercepted, an IPv4 or IPv6 address (the port
 * is `dnsPort`); absent, the first `nameserver` of resolv.conf (with systemd-resolved, its stub
 * 127.0.0.53, which every client of the stub goes through).
 */
export function upstreamServerParam(ctx: Pick<ValidationContext, 'network'>): Param<string> {
  const fallback = ctx.network.resolvers[0];
  const error = 'must be the IPv4 or IPv6 address of a DNS server, as "10.0.0.53" or "fd00::53" (the port is dnsPort)';
  const schema = z
    .string({ error })
    .optional()
    .transform((value, c) => {
      const address = value?.trim().replace(/^\[(.*)\]$/, '$1') ?? fallback;
      if (address === undefined) {
        c.addIssue({ code: 'custom', message: 'no nameserver in /etc/resolv.conf to take as the default: give upstreamServer' });
        return z.NEVER;
      }
      const problem = address.includes('%')
        ? `${address}: a zone id is not supported (a link-local resolver); give a global or unique-local address`
        : isIP(address) === 0
          ? error
          : undefined;
      if (problem) {
        c.addIssue({ code: 'custom', input: value, message: value === undefined ? `${problem} (the default, from /etc/resolv.conf): give upstreamServer` : problem });
        return z.NEVER;
      }
      const canonical = canonicalAddress(address);
      const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(canonical);
      if (mapped) {
        // An ip6 rule never matches the IPv4 packets such an address stands for.
        const v4 = [...hexWord(mapped[1]), ...hexWord(mapped[2])].join('.');
        c.addIssue({ code: 'custom', input: value, message: `${address} is an IPv4-mapped IPv6 address: give the IPv4 address ${v4}` });
        return z.NEVER;
      }
      return canonical;
    });
  return {
    schema,
    doc: { name: 'upstreamServer', type: 'address', default: fallback ? `${fallback} (resolv.conf)` : '(resolv.conf: none)', bounds: 'an IPv4 or IPv6 address', description: "the DNS server whose traffic is intercepted (UPSTREAM_SERVER; default: resolv.conf's first nameserver)" },
  };
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
  return numberParam({ name: 'dnsPort', min: 1, max: 65535, integer: true, default: 53, description: "the upstream server's port (DNS_PORT)" });
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
