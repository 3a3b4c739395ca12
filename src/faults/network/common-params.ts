// SPDX-License-Identifier: Apache-2.0
/**
 * Tunables every qdisc-based network fault shares (Harness names): the interfaces, direction,
 * targeting (destinations, ports, with `!` exemptions), exclusions and SSH. Targeting and
 * exclusions are carried out by u32 filters steering packets into the fault's class (see
 * root-qdisc-fault.ts), or by nf_tables rules where a fault falls back to nf_tables.
 */
import { FaultdError } from '../../errors.js';
import { formatTarget, type IpTarget, type PortSelection } from '../../net/addresses.js';
import { booleanParam, interfacesParam } from '../params.js';
import type { Planned, TrafficReach } from '../types.js';
import type { NetworkFaultContext, NetworkValidationContext } from './context.js';
import { controlPlaneRefusal, controlPlaneTargets, describeExclusions, exclusionsOf } from './safety.js';
import { steering, type Steering } from './steer.js';
import { resolveHosts } from './targets.js';
import { enumParam, hostnamesParam, ipTargetsParam, portsParam } from './target-params.js';

export function commonNetworkParams(ctx: NetworkValidationContext, verb: string) {
  return {
    networkInterfaces: interfacesParam({
      name: 'networkInterfaces',
      interfaces: ctx.network.interfaces,
      fallback: ctx.network.defaultInterface,
      description: `interfaces whose traffic is ${verb} ("eth0,eth1" or a list; default: the default route's)`,
    }),
    direction: enumParam('direction', ['egress', 'ingress'], 'egress', `egress: packets this host sends are ${verb}; ingress: packets it receives (through an IFB device)`),
    destinationHosts: hostnamesParam('destinationHosts', `only traffic to these hosts is ${verb} (resolved once at start)`),
    destinationIPs: ipTargetsParam('destinationIPs', `only traffic to these addresses/CIDRs is ${verb}; "ip|port|port" limits ports`),
    sourcePorts: portsParam('sourcePorts', `only traffic from these local ports is ${verb}; "!" spares them instead`),
    destinationPorts: portsParam('destinationPorts', `only traffic to these remote ports is ${verb}; "!" spares them instead`),
    excludeIPs: ipTargetsParam('excludeIPs', `addresses/CIDRs never ${verb}, even inside a targeted CIDR`),
    excludeHosts: hostnamesParam('excludeHosts', `host names never ${verb} (resolved once at start)`),
    whitelistSSH: booleanParam({ name: 'whitelistSSH', default: true, description: `keep this host's SSH (ports ${ctx.network.safety.sshPorts.join(', ')}; config safety.sshPorts) out of the fault` }),
    allowControlPlaneImpact: booleanParam({ name: 'allowControlPlaneImpact', default: false, description: 'let the fault touch the control plane\'s traffic (it is excluded otherwise)' }),
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
  EXCLUDE_IPS: 'excludeIPs',
  EXCLUDE_HOSTS: 'excludeHosts',
};

export interface CommonNetworkValues {
  readonly direction: 'egress' | 'ingress';
  readonly destinationHosts: readonly string[];
  readonly destinationIPs: readonly IpTarget[];
  readonly sourcePorts: PortSelection;
  readonly destinationPorts: PortSelection;
  readonly excludeIPs: readonly IpTarget[];
  readonly excludeHosts: readonly string[];
  readonly whitelistSSH: boolean;
  readonly allowControlPlaneImpact: boolean;
}

/** Adds a validation issue on destinationIPs when a target is the control plane itself. */
export function refineControlPlane(
  p: Pick<CommonNetworkValues, 'destinationIPs' | 'allowControlPlaneImpact'>,
  ctx: NetworkValidationContext,
  issue: (path: string, message: string) => void,
): void {
  if (p.allowControlPlaneImpact) return;
  if (ctx.network.safety.controlPlaneUnresolved) {
    issue('allowControlPlaneImpact', `${ctx.network.safety.controlPlaneUnresolved}, so its traffic cannot be kept out of the fault; fix the name (config hub.url) or set allowControlPlaneImpact: true`);
  }
  const hits = controlPlaneTargets(p.destinationIPs, ctx.network.safety);
  if (hits.length) issue('destinationIPs', controlPlaneRefusal(hits));
}

/** What a scope decides for an nf_tables request: interfaces, targets, ports, exclusions, SSH. */
export function nftTargeting(p: CommonNetworkValues & { readonly networkInterfaces: readonly string[] }, scope: NetworkScope) {
  return {
    interfaces: p.networkInterfaces,
    targets: scope.targets,
    remotePorts: p.destinationPorts,
    localPorts: p.sourcePorts,
    excludeTargets: scope.exclude,
    sshPorts: scope.sshPorts,
  };
}

/**
 * The plan with the scope's exclusion notes ahead of its changes (for --dry-run), and the
 * resolved target addresses in its target text, which the ledger's intent record keeps.
 */
export function withScopeNotes<R>(planned: Planned<R>, scope: NetworkScope): Planned<R> {
  const targets = scope.targets.map(formatTarget).join(', ');
  const target = targets && !planned.target.includes(targets) ? `${planned.target} → ${targets}` : planned.target;
  return { ...planned, target, changes: [...scope.notes, ...planned.changes], apply: (recordApplied, signal) => planned.apply(recordApplied, signal) };
}

/** Where a fault acts and what it spares, with host names resolved (once, at plan time). */
export interface NetworkScope {
  readonly targets: IpTarget[];
  /** excludeIPs, excludeHosts and the safety exclusions. */
  readonly exclude: IpTarget[];
  readonly sshPorts: readonly number[];
  /** The u32 steering of a qdisc fault for this scope. */
  readonly steer: Steering;
  /** --dry-run lines naming what is kept out. */
  readonly notes: string[];
}

/**
 * Resolves host names, refuses a resolved target that is the control plane (unless allowed),
 * and gathers the exclusions; logs what is kept out.
 */
export async function scopeOf(p: CommonNetworkValues, ctx: NetworkFaultContext): Promise<NetworkScope> {
  const targets = [...p.destinationIPs, ...(await resolveHosts(p.destinationHosts))];
  if (p.destinationHosts.length) ctx.logger.info({ destinationHosts: p.destinationHosts, resolved: targets.slice(p.destinationIPs.length).map(formatTarget) }, 'destination hosts resolved');
  if (!p.allowControlPlaneImpact) {
    const hits = controlPlaneTargets(targets, ctx.network.safety);
    if (hits.length) throw new FaultdError('FAULTD_ERR_INPUT_INVALID', controlPlaneRefusal(hits));
  }
  const safety = exclusionsOf(ctx.network.safety, p.allowControlPlaneImpact);
  const own = [...p.excludeIPs, ...(await resolveHosts(p.excludeHosts))];
  const exclude = [...own, ...safety.map((e) => e.target)];
  const sshPorts = p.whitelistSSH ? ctx.network.safety.sshPorts : [];
  const notes = describeExclusions([...own.map((target) => ({ target, reason: 'excludeIPs/excludeHosts' })), ...safety], sshPorts);
  if (notes.length) ctx.logger.info({ exclusions: notes[0] }, 'network safety exclusions');
  const steer = steering({ direction: p.direction, targets, remotePorts: p.destinationPorts, localPorts: p.sourcePorts, exclude, sshPorts });
  return { targets, exclude, sshPorts, steer, notes };
}

/** The traffic a fault with the shared network tunables acts on (probe warnings). */
export function networkReach(p: Pick<CommonNetworkValues, 'destinationIPs' | 'destinationHosts' | 'destinationPorts'> & { readonly networkInterfaces: readonly string[] }): TrafficReach {
  return { via: 'network', interfaces: p.networkInterfaces, destinations: p.destinationIPs, destinationHosts: p.destinationHosts, destinationPorts: p.destinationPorts };
}
