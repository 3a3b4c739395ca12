// SPDX-License-Identifier: Apache-2.0
/**
 * The host names of a network fault's targeting (`destinationHosts`, `excludeHosts`), resolved
 * once when the fault is planned. Parsing of addresses, ports and names is in net/addresses.ts.
 */
import { lookup } from 'node:dns/promises';

import { FaultdError } from '../../errors.js';
import { hostTarget, type IpTarget } from '../../net/addresses.js';

/** Resolves host names once (all addresses); the result goes into the ledger and the log. */
export async function resolveHosts(hosts: readonly string[]): Promise<IpTarget[]> {
  const targets: IpTarget[] = [];
  for (const host of hosts) {
    let addresses;
    try {
      addresses = await lookup(host, { all: true });
    } catch (error) {
      throw new FaultdError('FAULTD_ERR_FAULT_APPLY', `cannot resolve destinationHosts entry "${host}": ${error instanceof Error ? error.message : String(error)}`);
    }
    for (const a of addresses) targets.push(hostTarget(a.address));
  }
  return targets;
}
