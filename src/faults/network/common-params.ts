// SPDX-License-Identifier: Apache-2.0
/**
 * Tunables every network fault shares (Harness names): the interfaces, and the targeting and
 * SSH tunables. This step of the network work applies faults to whole interfaces; targeting
 * tunables are accepted only empty (so existing Harness files load) until filtering lands.
 */
import { booleanParam, interfacesParam, notYetParam } from '../params.js';
import type { ValidationContext } from '../types.js';

const TARGETING_WHY = 'targeting by destination or port is in progress; today the fault covers the whole interface';

export function commonNetworkParams(ctx: ValidationContext, verb: string) {
  return {
    networkInterfaces: interfacesParam({
      name: 'networkInterfaces',
      interfaces: ctx.host.interfaces,
      fallback: ctx.host.defaultInterface,
      description: `interfaces whose egress is ${verb} ("eth0,eth1" or a list; default: the default route's)`,
    }),
    destinationHosts: notYetParam('destinationHosts', TARGETING_WHY),
    destinationIPs: notYetParam('destinationIPs', TARGETING_WHY),
    sourcePorts: notYetParam('sourcePorts', TARGETING_WHY),
    destinationPorts: notYetParam('destinationPorts', TARGETING_WHY),
    whitelistSSH: booleanParam({
      name: 'whitelistSSH',
      default: true,
      description: 'keep SSH out of the fault (until targeting lands, a whole-interface fault affects SSH too)',
    }),
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
};

/** The dry-run note for a whole-interface fault while SSH exclusion needs targeting. */
export function sshNote(whitelistSSH: boolean): string[] {
  return whitelistSSH ? ['note: the whole interface is affected, SSH included (per-flow SSH exclusion arrives with targeting)'] : [];
}
