// SPDX-License-Identifier: Apache-2.0
/**
 * Probes that their own experiment cuts off: an http or prometheus probe whose target is in the
 * traffic a fault of the same step acts on (a network fault's interfaces, destinations and
 * ports; a DNS fault for a target named by host name; an HTTP fault on the target's port)
 * measures the fault rather than the service. Validation warns about such a probe, and the
 * scheduler does not evaluate it while the fault is applied unless the probe says
 * `evaluateWhenCut: true`. Command probes are opaque and never considered cut.
 */
import { isIP } from 'node:net';

import type { Experiment, ValidationProblem } from '../experiment/schema.js';
import { targetContains } from '../net/addresses.js';
import type { Registry } from '../faults/registry.js';
import type { TrafficReach } from '../faults/types.js';
import type { ProbeSpec } from './types.js';

interface ProbeTarget {
  readonly host: string;
  readonly port: number;
  readonly loopback: boolean;
}

function targetOf(probe: ProbeSpec): ProbeTarget | undefined {
  const url = probe.check.type === 'http' ? probe.check.url : probe.check.type === 'prometheus' ? probe.check.endpoint : undefined;
  if (url === undefined) return undefined;
  const parsed = new URL(url);
  const host = parsed.hostname.replace(/^\[|\]$/g, '');
  const port = parsed.port ? Number(parsed.port) : parsed.protocol === 'https:' ? 443 : 80;
  const loopback = host === 'localhost' || host === '::1' || (isIP(host) === 4 && host.startsWith('127.'));
  return { host, port, loopback };
}

function portSelected(port: number, selection: { readonly include: readonly number[]; readonly exclude: readonly number[] }): boolean {
  if (selection.exclude.includes(port)) return false;
  return selection.include.length === 0 || selection.include.includes(port);
}

/** Why `reach` covers `target`, or undefined. */
function covers(reach: TrafficReach, target: ProbeTarget): string | undefined {
  switch (reach.via) {
    case 'dns': {
      if (isIP(target.host) !== 0 || target.host === 'localhost') return undefined;
      const name = target.host.toLowerCase().replace(/\.$/, '');
      const hit = reach.names.length === 0 || reach.names.some((n) => (reach.match === 'exact' ? n.toLowerCase().replace(/\.$/, '') === name : name.includes(n.toLowerCase())));
      return hit ? `it resolves ${target.host} through the faulted DNS` : undefined;
    }
    case 'http':
      return reach.ports.includes(target.port) ? `its HTTP requests to port ${target.port} go through the fault` : undefined;
    case 'network': {
      // Loopback traffic only crosses `lo`; other traffic is assumed to cross the fault's interfaces.
      if (target.loopback !== reach.interfaces.includes('lo')) return undefined;
      if (!portSelected(target.port, reach.destinationPorts)) return undefined;
      const everywhere = reach.destinations.length === 0 && reach.destinationHosts.length === 0;
      const listed =
        reach.destinationHosts.includes(target.host) ||
        (isIP(target.host) !== 0 && reach.destinations.some((d) => targetContains(d, target.host) && (d.ports.length === 0 || d.ports.includes(target.port))));
      return everywhere || listed ? `its traffic to ${target.host}:${target.port} crosses ${reach.interfaces.join(',')}, which the fault acts on` : undefined;
    }
  }
}

/** A probe whose target a fault of its step covers. */
export interface PathCut {
  readonly probe: string;
  readonly faultId: string;
  readonly kind: string;
  /** 1-based. */
  readonly step: number;
  readonly why: string;
  readonly evaluateWhenCut: boolean;
}

/** Every (probe, fault of its step) pair where the fault covers the probe's target. */
export function probePathCuts(experiment: Pick<Experiment, 'steps' | 'probes'>, registry: Registry): PathCut[] {
  const cuts: PathCut[] = [];
  for (const probe of experiment.probes) {
    const target = targetOf(probe);
    if (!target) continue;
    const steps = probe.scope.level === 'experiment' ? experiment.steps.map((_, s) => s) : [probe.scope.step];
    for (const s of steps) {
      for (const fault of experiment.steps[s]?.faults ?? []) {
        const reach = registry.get(fault.kind)?.trafficReach(fault.params);
        const why = reach && covers(reach, target);
        if (why) cuts.push({ probe: probe.name, faultId: fault.id, kind: fault.kind, step: s + 1, why, evaluateWhenCut: probe.evaluateWhenCut });
      }
    }
  }
  return cuts;
}

export function cutWarning(cut: PathCut): ValidationProblem {
  return {
    path: `probe "${cut.probe}"`,
    message: `fault "${cut.faultId}" (${cut.kind}) of step ${cut.step} covers this probe's target: ${cut.why}. The probe is not evaluated while that fault is applied; set evaluateWhenCut: true on the probe to evaluate it anyway (it then measures the fault), or exclude its target from the fault`,
  };
}
