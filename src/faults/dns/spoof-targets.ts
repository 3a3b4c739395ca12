// SPDX-License-Identifier: Apache-2.0
/**
 * linux-dns-spoof's map values that are host names: resolved once at start through the
 * upstream server itself (before the redirect exists), into the addresses the interceptor then
 * answers for the spoofed name.
 */
import { Resolver } from 'node:dns/promises';
import { isIP } from 'node:net';

import { FaultdError } from '../../errors.js';

const RESOLVE_TIMEOUT_MS = 2000;

/** Resolves `name` (A and AAAA) at `server`:`port`; throws naming the name when it has neither. */
export async function resolveAt(name: string, server: string, port: number): Promise<string[]> {
  const resolver = new Resolver({ timeout: RESOLVE_TIMEOUT_MS, tries: 1 });
  resolver.setServers([isIP(server) === 6 ? `[${server}]:${port}` : `${server}:${port}`]);
  const [v4, v6] = await Promise.allSettled([resolver.resolve4(name), resolver.resolve6(name)]);
  const addresses = [...(v4.status === 'fulfilled' ? v4.value : []), ...(v6.status === 'fulfilled' ? v6.value : [])];
  if (addresses.length === 0) {
    const why = [v4, v6].map((r) => (r.status === 'rejected' ? (r.reason as { code?: string }).code ?? String(r.reason) : 'no record')).join(', ');
    throw new FaultdError('FAULTD_ERR_INPUT_INVALID', `spoofMap: "${name}" has no A or AAAA record at ${server}:${port} (${why}): give an address instead`);
  }
  return addresses;
}
