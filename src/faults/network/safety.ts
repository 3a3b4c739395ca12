// SPDX-License-Identifier: Apache-2.0
/**
 * What no network fault may touch unless asked: the control plane's addresses (from the
 * configuration's hub URL, resolved once at start), the configured `safety.excludeIPs`, and
 * this host's SSH ports. Every network fault keeps these out (u32 filters to the clean class, or
 * nf_tables accept rules ahead of the fault's rules), shows them in --dry-run and logs them. A
 * fault that names the control plane itself as its target is refused unless it says
 * `allowControlPlaneImpact: true` (which also lifts the control plane's exclusion).
 */
import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';

import type { Logger } from 'pino';

import { DEFAULT_SSH_PORTS, type Config } from '../../config/config.js';
import { formatTarget, type IpTarget } from './targets.js';

export interface Exclusion {
  readonly target: IpTarget;
  /** Why it is excluded, for --dry-run and the log (`control plane hub:8443`, `safety.excludeIPs`). */
  readonly reason: string;
}

export interface NetworkSafety {
  readonly controlPlane: readonly Exclusion[];
  /** Set when a hub is configured but its host name did not resolve: its traffic cannot be excluded. */
  readonly controlPlaneUnresolved?: string;
  readonly configured: readonly Exclusion[];
  readonly sshPorts: readonly number[];
}

export const DEFAULT_NETWORK_SAFETY: NetworkSafety = { controlPlane: [], configured: [], sshPorts: DEFAULT_SSH_PORTS };

const RESOLVE_TIMEOUT_MS = 3000;

function hostTarget(address: string): IpTarget {
  const version = isIP(address) === 6 ? 6 : 4;
  return { address, prefixLen: version === 4 ? 32 : 128, version, ports: [] };
}

/** Builds the safety settings from the configuration, resolving the hub's host name once. */
export async function resolveNetworkSafety(config: Pick<Config, 'hub' | 'safety'>, logger: Logger): Promise<NetworkSafety> {
  const configured = config.safety.excludeIPs.map((target) => ({ target, reason: 'safety.excludeIPs' }));
  const controlPlane: Exclusion[] = [];
  let controlPlaneUnresolved: string | undefined;
  if (config.hub) {
    const url = new URL(config.hub.url);
    const host = url.hostname.replace(/^\[|\]$/g, '');
    const reason = `control plane ${url.host}`;
    if (isIP(host)) {
      controlPlane.push({ target: hostTarget(host), reason });
    } else {
      try {
        const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no answer within ${RESOLVE_TIMEOUT_MS} ms`)), RESOLVE_TIMEOUT_MS).unref());
        const addresses = await Promise.race([lookup(host, { all: true }), timeout]);
        for (const a of addresses) controlPlane.push({ target: hostTarget(a.address), reason });
      } catch (error) {
        controlPlaneUnresolved = `the control plane host ${host} did not resolve (${error instanceof Error ? error.message : String(error)})`;
        logger.warn({ host, err: error }, 'cannot resolve the control plane host: network faults are refused unless allowControlPlaneImpact');
      }
    }
  }
  return { controlPlane, configured, sshPorts: config.safety.sshPorts, ...(controlPlaneUnresolved ? { controlPlaneUnresolved } : {}) };
}

/** The addresses a fault keeps out: the configured ones, and the control plane unless allowed. */
export function exclusionsOf(safety: NetworkSafety, allowControlPlaneImpact: boolean): Exclusion[] {
  return [...(allowControlPlaneImpact ? [] : safety.controlPlane), ...safety.configured];
}

function blockListOf(target: IpTarget): BlockList {
  const list = new BlockList();
  list.addSubnet(target.address, target.prefixLen, target.version === 4 ? 'ipv4' : 'ipv6');
  return list;
}

/**
 * Targets that would cut the agent from its control plane: a target that is no wider than a
 * control-plane address (the fault would do nothing but cut it). A wider CIDR that merely
 * contains it is fine: the control plane is excluded from it.
 */
export function controlPlaneTargets(targets: readonly IpTarget[], safety: NetworkSafety): string[] {
  const hits: string[] = [];
  for (const target of targets) {
    for (const cp of safety.controlPlane) {
      if (cp.target.version !== target.version) continue;
      const full = target.version === 4 ? 32 : 128;
      if (target.prefixLen === full && blockListOf(cp.target).check(target.address, target.version === 4 ? 'ipv4' : 'ipv6')) {
        hits.push(`${formatTarget(target)} is the ${cp.reason}`);
      }
    }
  }
  return hits;
}

/** The message for a fault refused because it targets the control plane. */
export function controlPlaneRefusal(hits: readonly string[]): string {
  return `${hits.join('; ')}: the fault would cut this agent from its control plane. Set allowControlPlaneImpact: true to do it anyway`;
}

/** One --dry-run line naming everything kept out of a fault, or none. */
export function describeExclusions(exclusions: readonly Exclusion[], sshPorts: readonly number[]): string[] {
  const parts = [...exclusions.map((e) => `${formatTarget(e.target)} (${e.reason})`), ...(sshPorts.length ? [`this host's SSH on port ${sshPorts.join(', ')}`] : [])];
  return parts.length ? [`kept out of the fault: ${parts.join(', ')}`] : [];
}
