// SPDX-License-Identifier: Apache-2.0
/**
 * The units systemd stops along with a service: those that Requires=, Requisite=, BindsTo= it
 * or are PartOf= it, and its PropagatesStopTo= (the addon's `stopPropagatesTo`), and theirs in
 * turn. A stop job for the service takes every active one of them down, and starting the
 * service again starts none of them, so linux-service-restart records them before the first
 * stop, checks them against the deny-list, and starts them again after the service in each
 * cycle and at revert.
 */
import type { SystemdUnitState } from '../../native/addon.js';

/** Most dependents one service may take down with it. */
export const MAX_DEPENDENTS = 64;

export interface Dependent {
  readonly unit: string;
  readonly state: SystemdUnitState;
  /** The unit whose stop propagates to this one (the service itself, or a dependent of it). */
  readonly via: string;
}

/** Active or reloading: a unit a stop job would take down, and that the revert must bring back. */
const running = (s: SystemdUnitState): boolean => s.loadState === 'loaded' && (s.activeState === 'active' || s.activeState === 'reloading');

/**
 * The running units a stop of `unit` (its state `state`) propagates to, transitively, in the
 * order found (breadth first: nearest first, so each can be started after what it needs). More
 * than MAX_DEPENDENTS throws: a service that takes that much of the host with it is not a target.
 */
export async function runningDependents(unit: string, state: SystemdUnitState, read: (unit: string) => Promise<SystemdUnitState>): Promise<Dependent[]> {
  const seen = new Set<string>([unit, state.id].filter(Boolean));
  const found: Dependent[] = [];
  const queue: { unit: string; state: SystemdUnitState }[] = [{ unit, state }];
  for (let next = queue.shift(); next; next = queue.shift()) {
    for (const name of next.state.stopPropagatesTo) {
      if (seen.has(name)) continue;
      seen.add(name);
      const s = await read(name);
      if (!running(s)) continue;
      if (found.length === MAX_DEPENDENTS) {
        throw new Error(`stopping ${unit} would also stop more than ${MAX_DEPENDENTS} running units (Requires=, BindsTo=, PartOf= on it)`);
      }
      found.push({ unit: name, state: s, via: next.unit });
      queue.push({ unit: name, state: s });
    }
  }
  return found;
}
