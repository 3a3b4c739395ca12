// SPDX-License-Identifier: Apache-2.0
/**
 * The units systemd stops along with a service: those that Requires=, Requisite=, BindsTo= it
 * or are PartOf= it, and its PropagatesStopTo= (the addon's `stopPropagatesTo`), and theirs in
 * turn. systemd adds a stop job for each of them and recurses whatever the unit's state (a
 * stop of an inactive unit is dropped later as redundant, its own dependents' are not), so the
 * walk goes through inactive units too and keeps the ones that run: each of those is taken down
 * by the service's stop, and starting the service again starts none of them.
 */
import type { SystemdUnitPlanFacts, SystemdUnitState } from '../../native/addon.js';

/** Most dependents one service may take down with it. */
export const MAX_DEPENDENTS = 64;
/** Most units the walk reads (running or not): a bound on D-Bus calls at plan time. */
export const MAX_UNITS_READ = 256;

export interface UnitFacts {
  readonly state: SystemdUnitState;
  readonly facts: SystemdUnitPlanFacts;
}

export interface Dependent extends UnitFacts {
  readonly unit: string;
  /** The unit whose stop propagates to this one (the service itself, or a unit between). */
  readonly via: string;
  /** 1 for a direct dependent, 2 for one of those's, … */
  readonly depth: number;
}

/** Running, or on its way up: a unit a stop job takes down, and that must be started again. */
export const isRunning = (s: SystemdUnitState): boolean =>
  s.loadState === 'loaded' && (s.activeState === 'active' || s.activeState === 'reloading' || s.activeState === 'activating');

/**
 * The running units a stop of `unit` propagates to, transitively, nearest first (breadth
 * first). Throws when more than MAX_DEPENDENTS run or more than MAX_UNITS_READ units are in the
 * way: a service that takes that much of the host with it is not a target.
 */
export async function dependentsTakenDown(unit: string, own: UnitFacts, read: (unit: string) => Promise<UnitFacts>): Promise<Dependent[]> {
  const seen = new Set<string>([unit, own.state.id].filter(Boolean));
  const found: Dependent[] = [];
  const queue: { unit: string; facts: SystemdUnitPlanFacts; depth: number }[] = [{ unit, facts: own.facts, depth: 0 }];
  for (let next = queue.shift(); next; next = queue.shift()) {
    for (const name of next.facts.stopPropagatesTo) {
      if (seen.has(name)) continue;
      seen.add(name);
      if (seen.size > MAX_UNITS_READ) throw new Error(`stopping ${unit} reaches more than ${MAX_UNITS_READ} units through Requires=, BindsTo= and PartOf=: too much of the host to follow`);
      const u = await read(name);
      if (isRunning(u.state)) {
        if (found.length === MAX_DEPENDENTS) throw new Error(`stopping ${unit} would also stop more than ${MAX_DEPENDENTS} running units (Requires=, BindsTo=, PartOf= on it)`);
        found.push({ unit: name, ...u, via: next.unit, depth: next.depth + 1 });
      }
      queue.push({ unit: name, facts: u.facts, depth: next.depth + 1 });
    }
  }
  return found;
}

/**
 * The dependents of several units as one list to start after them: none of the units
 * themselves, each once, nearest first across all (a unit at depth 1 of any comes before one at
 * depth 2), so each starts after what it needs when that is also a dependent.
 */
export function startOrder<D extends { readonly unit: string; readonly depth: number }>(units: readonly string[], dependents: readonly D[]): D[] {
  const taken = new Set(units);
  const once: D[] = [];
  for (const d of dependents) {
    if (taken.has(d.unit)) continue;
    taken.add(d.unit);
    once.push(d);
  }
  return once.sort((a, b) => a.depth - b.depth);
}
