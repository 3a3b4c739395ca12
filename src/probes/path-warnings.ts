// SPDX-License-Identifier: Apache-2.0
/**
 * Probes that their own experiment cuts off: an http or prometheus probe whose target is in the
 * traffic a fault of the same step acts on (a network fault's interfaces, destinations and
 * ports; a DNS fault for a target named by host name; an HTTP fault on the target's port)
 * measures the fault rather than the service. Such probes run as written — the user may want
 * exactly that — but validation says so. Command probes are opaque and never warned about.
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

/** One warning per probe and fault of its step that covers the probe's target. */
export function probePathWarnings(experiment: Experiment, registry: Registry): ValidationProblem[] {
  const warnings: ValidationProblem[] = [];
  for (const probe of experiment.probes) {
    const target = targetOf(probe);
    if (!target) continue;
    const steps = probe.scope.level === 'experiment' ? experiment.steps.map((_, s) => s) : [probe.scope.step];
    for (const s of steps) {
      for (const fault of experiment.steps[s]?.faults ?? []) {
        const reach = registry.get(fault.kind)?.trafficReach(fault.params);
        const why = reach && covers(reach, target);
        if (why) {
          warnings.push({
            path: `probe "${probe.name}"`,
            message: `fault "${fault.id}" (${fault.kind}) of step ${s + 1} covers this probe's target: ${why}. The probe will measure the fault; exclude its target from the fault or move the probe if that is not what you want`,
          });
        }
      }
    }
  }
  return warnings;
}
