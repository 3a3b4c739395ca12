// SPDX-License-Identifier: Apache-2.0
/** The host's resolvers: the `nameserver` lines of resolv.conf, the DNS faults' default upstream. */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';

export const RESOLV_CONF = '/etc/resolv.conf';

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
