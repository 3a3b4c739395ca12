// SPDX-License-Identifier: Apache-2.0
/**
 * The host's resolvers, whose traffic the DNS faults intercept: the `nameserver` lines of
 * resolv.conf and, when they point at systemd-resolved's stub, the upstreams resolved uses.
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';

export const RESOLV_CONF = '/etc/resolv.conf';
/** systemd-resolved's view of its upstream servers (a resolv.conf without its stub). */
export const RESOLVED_UPSTREAMS = '/run/systemd/resolve/resolv.conf';
/** systemd-resolved's stub listeners (127.0.0.53, and 127.0.0.54 without its cache). */
const RESOLVED_STUBS = new Set(['127.0.0.53', '127.0.0.54']);

/**
 * The IPv4/IPv6 `nameserver` addresses of resolv.conf text, in order. A zone id is kept
 * (`fe80::1%eth0`): without it the address means nothing, and upstreamServer refuses it by name.
 */
export function parseNameservers(text: string): string[] {
  const servers: string[] = [];
  for (const line of text.split('\n')) {
    const address = /^\s*nameserver\s+(\S+)/.exec(line)?.[1];
    if (address && isIP(address.replace(/%.*$/, ''))) servers.push(address);
  }
  return servers;
}

/** Nameservers of `file` (none when it cannot be read). */
export function readNameservers(file = RESOLV_CONF): string[] {
  try {
    return parseNameservers(readFileSync(file, 'utf8'));
  } catch {
    return [];
  }
}

/**
 * The host's nameservers: resolv.conf's and, when one of them is systemd-resolved's stub, the
 * upstreams resolved forwards to (its own queries to them are the host's DNS too), without repeats.
 */
export function readHostNameservers(file = RESOLV_CONF, resolvedFile = RESOLVED_UPSTREAMS): string[] {
  const servers = readNameservers(file);
  if (!servers.some((s) => RESOLVED_STUBS.has(s))) return servers;
  return [...new Set([...servers, ...readNameservers(resolvedFile)])];
}
