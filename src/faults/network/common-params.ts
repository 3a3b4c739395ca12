// SPDX-License-Identifier: Apache-2.0
/**
 * Tunables every qdisc-based network fault shares (Harness names): the interfaces, targeting
 * (destinations, ports, with `!` exemptions) and SSH exclusion. Targeting and SSH exclusion are
 * carried out by u32 filters steering packets into the fault's class (see root-qdisc-fault.ts).
 */
import { booleanParam, interfacesParam } from '../params.js';
import type { ValidationContext } from '../types.js';
import { steering, type Steering } from './steer.js';
import { resolveHosts, type IpTarget, type PortSelection } from './targets.js';
import { enumParam, hostnamesParam, ipTargetsParam, portsParam } from './target-params.js';

export function commonNetworkParams(ctx: ValidationContext, verb: string) {
  return {
    networkInterfaces: interfacesParam({
      name: 'networkInterfaces',
      interfaces: ctx.host.interfaces,
      fallback: ctx.host.defaultInterface,
      description: `interfaces whose traffic is ${verb} ("eth0,eth1" or a list; default: the default route's)`,
    }),
    direction: enumParam('direction', ['egress', 'ingress'], 'egress', `egress: packets this host sends are ${verb}; ingress: packets it receives (through an IFB device)`),
    destinationHosts: hostnamesParam('destinationHosts', `only traffic to these hosts is ${verb} (resolved once at start)`),
    destinationIPs: ipTargetsParam('destinationIPs', `only traffic to these addresses/CIDRs is ${verb}; "ip|port|port" limits ports`),
    sourcePorts: portsParam('sourcePorts', `only traffic from these local ports is ${verb}; "!" spares them instead`),
    destinationPorts: portsParam('destinationPorts', `only traffic to these remote ports is ${verb}; "!" spares them instead`),
    whitelistSSH: booleanParam({ name: 'whitelistSSH', default: true, description: 'keep this host\'s SSH (ports 22 and 2222) out of the fault' }),
  };
}

/** Harness upper-case spellings of the shared tunables. */
export const COMMON_NETWORK_ALIASES: Readonly<Record<string, string>> = {
  NETWORK_INTERFACES: 'networkInterfaces',
  DESTINATION_HOSTS: 'destinationHosts',
  DESTINATION_IPS: 'destinationIPs',
  SOURCE_PORTS: 'sourcePorts',
  DESTINATION_PORTS: 'destinationPorts',
  WHITELIST_SSH: 'whitelistSSH',
  DIRECTION: 'direction',
};

export interface CommonNetworkValues {
  readonly direction: 'egress' | 'ingress';
  readonly destinationHosts: readonly string[];
  readonly destinationIPs: readonly IpTarget[];
  readonly sourcePorts: PortSelection;
  readonly destinationPorts: PortSelection;
  readonly whitelistSSH: boolean;
}

/** Resolves the host names (once, at plan time) and builds the u32 steering of a fault. */
export async function steeringOf(p: CommonNetworkValues): Promise<{ steer: Steering; targets: IpTarget[] }> {
  const targets = [...p.destinationIPs, ...(await resolveHosts(p.destinationHosts))];
  return { steer: steering({ direction: p.direction, targets, remotePorts: p.destinationPorts, localPorts: p.sourcePorts, keepSsh: p.whitelistSSH }), targets };
}
