// SPDX-License-Identifier: Apache-2.0
/** The host's resolvers: the `nameserver` lines of resolv.conf, the DNS faults' default upstream. */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';

export const RESOLV_CONF = '/etc/resolv.conf';

/** The IPv4/IPv6 `nameserver` addresses of resolv.conf text, in order (zone ids dropped). */
export function parseNameservers(text: string): string[] {
  const servers: string[] = [];
  for (const line of text.split('\n')) {
    const match = /^\s*nameserver\s+(\S+)/.exec(line);
    const address = match?.[1]?.replace(/%.*$/, '');
    if (address && isIP(address)) servers.push(address);
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
