// SPDX-License-Identifier: Apache-2.0
/**
 * The network faults' extension of the fault context: what they consult besides the host facts
 * every kind gets, namely the safety exclusions (control plane, configured addresses, SSH) and
 * the interfaces of faultd's network namespace. Built once per command by the composition root
 * (src/cli/context.ts); other kinds never read it.
 */
import { defaultRouteInterface, listInterfaces, type NetInterface } from '../../host/interfaces.js';
import type { HostRoots } from '../../host/facts.js';
import { readListeningTcpPorts } from '../../host/tcp-listeners.js';
import { readHostNameservers, RESOLV_CONF, RESOLVED_UPSTREAMS } from '../dns/resolv-conf.js';
import type { FaultContext, ValidationContext } from '../types.js';
import type { NetworkSafety } from '../../net/network-safety.js';

export interface NetworkContext {
  /** What no network fault may touch unless asked (see safety.ts). */
  readonly safety: NetworkSafety;
  /** Network interfaces of faultd's network namespace, with their MTU. */
  readonly interfaces: readonly NetInterface[];
  /** Interface of the default route (IPv4, else IPv6), the default target of network faults. */
  readonly defaultInterface: string | undefined;
  /** The host's resolvers (resolv.conf `nameserver`s, and systemd-resolved's upstreams behind its stub), whose traffic the DNS faults intercept. */
  readonly resolvers: readonly string[];
  /** TCP ports with a listener now (read when asked): the HTTP faults' proxyPort must not be one. */
  readonly listeningTcpPorts?: () => ReadonlySet<number>;
}

/** What network fault validation reads. */
export type NetworkValidationContext = Pick<ValidationContext, 'host' | 'features' | 'network'>;

/** What network fault planning and revert use (the NFQUEUE delayer's process takes the full FaultContext). */
export type NetworkFaultContext = Pick<FaultContext, 'host' | 'features' | 'network' | 'native' | 'logger'>;

/** Reads the interfaces (from /sys and /proc under `roots`) and the resolvers next to the given safety settings. */
export function readNetworkContext(safety: NetworkSafety, roots: HostRoots, resolvConf = RESOLV_CONF, resolvedConf = RESOLVED_UPSTREAMS): NetworkContext {
  return {
    safety,
    interfaces: listInterfaces(roots.sys),
    defaultInterface: defaultRouteInterface(roots.proc),
    resolvers: readHostNameservers(resolvConf, resolvedConf),
    listeningTcpPorts: () => readListeningTcpPorts(roots.proc),
  };
}
