// SPDX-License-Identifier: Apache-2.0
/**
 * What no network fault may touch unless asked: the control plane's addresses, the configured
 * `safety.excludeIPs`, and this host's SSH ports (gathered at start by net/network-safety.ts).
 * Every network fault keeps these out (u32 filters to the clean class, or nf_tables accept rules
 * ahead of the fault's rules), shows them in --dry-run and logs them. A fault that names the control plane itself as its target is refused unless it says
 * `allowControlPlaneImpact: true` (which also lifts the control plane's exclusion).
 */

import { formatTarget, targetContains, type IpTarget } from '../../net/addresses.js';
import type { Exclusion, NetworkSafety } from '../../net/network-safety.js';

/** The addresses a fault keeps out: the configured ones, and the control plane unless allowed. */
export function exclusionsOf(safety: NetworkSafety, allowControlPlaneImpact: boolean): Exclusion[] {
  return [...(allowControlPlaneImpact ? [] : safety.controlPlane), ...safety.configured];
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
      if (target.prefixLen === full && targetContains(cp.target, target.address)) {
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
