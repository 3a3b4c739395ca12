// SPDX-License-Identifier: Apache-2.0
/**
 * linux-network-partition (faultd; Harness has no partition fault): drop all traffic to and/or
 * from the targets, through nf_tables (never `nft`), or x_tables chains on an iptables-legacy-only
 * host (never `iptables`; see network/filter-backend.ts). SSH stays reachable by default, and so do
 * `excludeIPs`. Targets are addresses/CIDRs (`ip|port` suffixes), host names resolved once at
 * start, and ports.
 */
import { booleanParam, interfacesParam, paramsObject } from './params.js';
import { networkReach, refineControlPlane, scopeOf, withScopeNotes } from './network/common-params.js';
import { dropBackend, FilterRevertSchema, planFilterFault, revertFilterFault } from './network/filter-backend.js';
import { formatTarget } from '../net/addresses.js';
import { enumParam, hostnamesParam, ipTargetsParam, portsParam } from './network/target-params.js';
import { defineInjector } from './types.js';
import type { NetworkValidationContext } from './network/context.js';

function params(ctx: NetworkValidationContext) {
  return {
    networkInterfaces: interfacesParam({
      name: 'networkInterfaces',
      interfaces: ctx.network.interfaces,
      fallback: undefined,
      optional: true,
      description: 'limit the fault to these interfaces',
    }),
    destinationIPs: ipTargetsParam('destinationIPs', 'addresses or CIDRs cut off, e.g. "10.0.0.5,10.1.0.0/16|5432"'),
    destinationHosts: hostnamesParam('destinationHosts', 'host names cut off (resolved once at start; the addresses are logged)'),
    destinationPorts: portsParam('destinationPorts', 'remote ports cut off (all destinations, or with the ones given)'),
    sourcePorts: portsParam('sourcePorts', 'local ports cut off'),
    protocol: enumParam('protocol', ['all', 'tcp', 'udp', 'icmp'], 'all', 'protocol cut off (ports need tcp, udp or all)'),
    direction: enumParam('direction', ['both', 'egress', 'ingress'], 'both', 'which way traffic is dropped'),
    excludeIPs: ipTargetsParam('excludeIPs', 'addresses never cut off, even inside a target CIDR'),
    excludeHosts: hostnamesParam('excludeHosts', 'host names never cut off (resolved once at start)'),
    whitelistSSH: booleanParam({ name: 'whitelistSSH', default: true, description: `keep this host's SSH (ports ${ctx.network.safety.sshPorts.join(', ')}; config safety.sshPorts) reachable` }),
    allowControlPlaneImpact: booleanParam({ name: 'allowControlPlaneImpact', default: false, description: 'let the partition cut the control plane (it is excluded otherwise)' }),
  };
}

export const linuxNetworkPartition = defineInjector({
  kind: 'linux-network-partition',
  summary: 'Cut traffic to/from addresses, hosts or ports (nf_tables drop; x_tables on iptables-legacy-only hosts)',
  paramAliases: {
    NETWORK_INTERFACES: 'networkInterfaces', DESTINATION_IPS: 'destinationIPs', DESTINATION_HOSTS: 'destinationHosts',
    DESTINATION_PORTS: 'destinationPorts', SOURCE_PORTS: 'sourcePorts', PROTOCOL: 'protocol', DIRECTION: 'direction',
    EXCLUDE_IPS: 'excludeIPs', EXCLUDE_HOSTS: 'excludeHosts', WHITELIST_SSH: 'whitelistSSH',
  },
  paramsSchema: (ctx) =>
    paramsObject(params(ctx))
      .superRefine((v, c) => {
        const filter = dropBackend(ctx.features);
        if (!filter.backend) c.addIssue({ code: 'custom', path: [], message: `linux-network-partition ${filter.reason}` });
        const hasTarget = v.destinationIPs.length + v.destinationHosts.length + v.destinationPorts.include.length + v.sourcePorts.include.length > 0;
        if (!hasTarget) c.addIssue({ code: 'custom', path: ['destinationIPs'], message: 'a partition needs a target: destinationIPs, destinationHosts, destinationPorts or sourcePorts' });
        const ports = v.destinationPorts.include.length + v.sourcePorts.include.length + v.destinationIPs.reduce((n, t) => n + t.ports.length, 0);
        if (v.protocol === 'icmp' && ports > 0) c.addIssue({ code: 'custom', path: ['protocol'], message: 'icmp has no ports: use tcp, udp or all with ports' });
        const portedExclusion = v.excludeIPs.find((t) => t.ports.length > 0);
        if (portedExclusion) c.addIssue({ code: 'custom', path: ['excludeIPs'], message: `"${portedExclusion.address}|${portedExclusion.ports.join('|')}": excludeIPs exempts whole addresses; give no |port` });
        refineControlPlane(v, ctx, (path, message) => c.addIssue({ code: 'custom', path: [path], message }));
      })
      .transform((v) => ({ ...v, backend: dropBackend(ctx.features).backend ?? ('nftables' as const) })),
  paramDocs: (ctx) => Object.values(params(ctx)).map((p) => p.doc),
  revertSchema: FilterRevertSchema,
  trafficReach: (p) => networkReach(p),
  async plan(faultId, p, ctx) {
    // The partition's direction includes `both`; the scope only needs it for qdisc steering.
    const scope = await scopeOf({ ...p, direction: 'egress' }, ctx);
    const what = [...scope.targets.map(formatTarget), ...p.destinationPorts.include.map((port) => `port ${port}`), ...p.sourcePorts.include.map((port) => `local port ${port}`)];
    if (p.backend === 'xtables') ctx.logger.info({ mechanism: 'xtables' }, 'no nf_tables on this kernel: partition through x_tables (iptables-legacy) chains');
    const planned = planFilterFault(
      p.backend,
      {
        faultId,
        direction: p.direction,
        interfaces: p.networkInterfaces,
        targets: scope.targets,
        remotePorts: p.destinationPorts,
        localPorts: p.sourcePorts,
        protocol: p.protocol,
        action: { kind: 'drop', percent: 100 },
        excludeTargets: scope.exclude,
        sshPorts: scope.sshPorts,
      },
      ctx,
      `partition (${p.direction}) from ${what.join(', ')}${p.backend === 'xtables' ? ' (x_tables, no nf_tables here)' : ''}`,
    );
    return withScopeNotes(planned, scope);
  },
  revert: (record, ctx) => revertFilterFault(record, ctx),
  support(ctx) {
    const admin = ctx.host.isRoot || (ctx.host.capEff & (1n << 12n)) !== 0n;
    const filter = dropBackend(ctx.features);
    return {
      supported: admin && filter.backend !== undefined,
      notes: [admin ? 'CAP_NET_ADMIN: yes' : 'needs root or CAP_NET_ADMIN', filter.backend ? `mechanism: ${filter.reason}` : `packet filter: ${filter.reason}`],
    };
  },
});
