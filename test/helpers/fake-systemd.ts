// SPDX-License-Identifier: Apache-2.0
/**
 * A fake systemd behind the addon's D-Bus calls (systemdUnitState, systemdUnitAction,
 * systemdProbe), for planning and revert tests without root or systemd. Jobs take `jobMs` of
 * real time: a stop goes through deactivating to inactive, a start through activating to active
 * with a new main pid (or to failed when the unit `failsToStart`), a kill of the main process
 * through auto-restart back to active when Restart= says so. Every request is logged with its
 * time, so tests can tell serial from parallel.
 */
import type { NativeAddon, SystemdUnitPlanFacts, SystemdUnitState } from '../../src/native/addon.js';

/** A loaded service's plan facts with systemd's defaults, for tests that need one read. */
export const FAKE_PLAN_FACTS: SystemdUnitPlanFacts = { canStart: true, canStop: true, timeoutStopUs: 90_000_000, watchdogUs: 0, stopPropagatesTo: [] };

export interface FakeUnit {
  loadState?: string;
  activeState?: string;
  restart?: string;
  failsToStart?: boolean;
  /** Starts (active, like a Type=simple unit once forked), then fails `jobMs` later. */
  crashesAfterStart?: boolean;
  timeoutStartUs?: number | null;
  /** The unit's real name when `name` is an alias. */
  id?: string;
  startLimitBurst?: number;
  startLimitIntervalUs?: number | null;
  timeoutStopUs?: number | null;
  watchdogUs?: number;
  /** RefuseManualStart= / RefuseManualStop=. */
  refuseManualStart?: boolean;
  refuseManualStop?: boolean;
  /** The units a stop of this one propagates to (their Requires=, BindsTo=, PartOf= on it). */
  stopPropagatesTo?: string[];
  /** The units that BindsTo= this one: systemd stops them when it fails (a kill of its main process). */
  boundBy?: string[];
}

export interface FakeEvent {
  readonly at: number;
  readonly unit: string;
  readonly what: 'start' | 'stop' | 'kill' | 'active' | 'inactive' | 'failed';
}

export class FakeSystemd {
  readonly units = new Map<string, SystemdUnitState>();
  readonly facts = new Map<string, SystemdUnitPlanFacts>();
  readonly #boundBy = new Map<string, string[]>();
  readonly events: FakeEvent[] = [];
  readonly #failsToStart = new Set<string>();
  readonly #crashes = new Set<string>();
  readonly #jobMs: number;
  #nextPid = 1000;
  #nextJob = 1;
  #t0 = performance.now();
  reachable = true;
  systemState = 'running';

  constructor(units: Record<string, FakeUnit>, jobMs = 15) {
    this.#jobMs = jobMs;
    for (const [name, u] of Object.entries(units)) this.add(name, u);
  }

  add(name: string, u: FakeUnit): void {
    const active = (u.activeState ?? 'active') === 'active';
    this.units.set(name, {
      loadState: u.loadState ?? 'loaded',
      activeState: u.activeState ?? 'active',
      subState: active ? 'running' : 'dead',
      jobId: 0,
      restart: u.restart ?? 'no',
      nRestarts: 0,
      mainPid: active ? this.#nextPid++ : 0,
      timeoutStartUs: u.timeoutStartUs === undefined ? 90_000_000 : u.timeoutStartUs,
      id: u.id ?? name,
      // systemd's defaults: 5 starts in 10 s.
      startLimitBurst: u.startLimitBurst ?? 5,
      startLimitIntervalUs: u.startLimitIntervalUs === undefined ? 10_000_000 : u.startLimitIntervalUs,
    });
    this.facts.set(name, {
      timeoutStopUs: u.timeoutStopUs === undefined ? 90_000_000 : u.timeoutStopUs,
      watchdogUs: u.watchdogUs ?? 0,
      canStart: !u.refuseManualStart,
      canStop: !u.refuseManualStop,
      stopPropagatesTo: u.stopPropagatesTo ?? [],
    });
    if (u.boundBy) this.#boundBy.set(name, u.boundBy);
    if (u.failsToStart) this.#failsToStart.add(name);
    if (u.crashesAfterStart) this.#crashes.add(name);
  }

  failToStart(name: string, fails = true): void {
    if (fails) this.#failsToStart.add(name);
    else this.#failsToStart.delete(name);
  }

  /** How many times each unit got a new main pid (started by a job or restarted by Restart=). */
  count(unit: string, what: FakeEvent['what']): number {
    return this.events.filter((e) => e.unit === unit && e.what === what).length;
  }

  get surface(): Pick<NativeAddon, 'systemdUnitState' | 'systemdUnitPlanFacts' | 'systemdUnitAction' | 'systemdProbe'> {
    return {
      systemdProbe: () => {
        if (!this.reachable) throw Object.assign(new Error('sd_bus_open_system ENOENT: no system bus'), { code: 'ENOENT' });
        return { address: 'unix:path=/fake/system_bus_socket', version: '252-fake', systemState: this.systemState };
      },
      systemdUnitState: (unit) => {
        if (!this.reachable) return Promise.reject(Object.assign(new Error('sd_bus_open_system ENOENT: no system bus'), { code: 'ENOENT' }));
        const s = this.units.get(unit);
        return Promise.resolve(s ? { ...s } : { loadState: 'not-found', activeState: 'inactive', subState: 'dead', jobId: 0, restart: '', nRestarts: 0, mainPid: 0, timeoutStartUs: 0, id: '', startLimitBurst: 0, startLimitIntervalUs: 0, });
      },
      systemdUnitPlanFacts: (unit) => {
        if (!this.reachable) return Promise.reject(Object.assign(new Error('sd_bus_open_system ENOENT: no system bus'), { code: 'ENOENT' }));
        const f = this.facts.get(unit);
        return Promise.resolve(f ? { ...f, stopPropagatesTo: [...f.stopPropagatesTo] } : { canStart: true, canStop: true, timeoutStopUs: 0, watchdogUs: 0, stopPropagatesTo: [] });
      },
      systemdUnitAction: async (unit, action, waitMs = 0) => {
        const s = this.units.get(unit);
        if (!s || s.loadState !== 'loaded') throw Object.assign(new Error(`StartUnit ENOENT: Unit ${unit} not found.`), { code: 'ENOENT' });
        this.#log(unit, action);
        if (action === 'stop') {
          // Dependents first: systemd orders their stop before the unit's (After=), so the unit's job ends last.
          this.#propagateStop(s);
          this.#transition(s, 'deactivating', 'stop-sigterm', () => this.#settle(s, unit, 'inactive'));
        } else if (action === 'start') {
          if (s.activeState === 'active') return { result: 'done', state: { ...s } };
          this.#transition(s, 'activating', 'start', () => {
            this.#settle(s, unit, this.#failsToStart.has(unit) ? 'failed' : 'active');
            if (this.#crashes.has(unit)) setTimeout(() => this.#settle(s, unit, 'failed'), this.#jobMs);
          });
        } else if (['always', 'on-failure', 'on-abnormal', 'on-abort'].includes(s.restart)) {
          this.#stopBound(unit);
          s.mainPid = 0;
          s.activeState = 'activating';
          s.subState = 'auto-restart';
          setTimeout(() => {
            s.nRestarts += 1;
            this.#settle(s, unit, this.#failsToStart.has(unit) ? 'failed' : 'active');
          }, this.#jobMs);
        } else {
          this.#stopBound(unit);
          this.#settle(s, unit, 'failed');
        }
        if (action === 'kill') return { result: 'signalled', state: null };
        if (waitMs === 0) return { result: 'queued', state: null };
        // Like the addon: wait for the job (polled here), at most waitMs, and read the unit after it.
        const deadline = performance.now() + waitMs;
        while (s.jobId !== 0 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 2));
        if (s.jobId !== 0) return { result: 'pending', state: null };
        return { result: s.activeState === 'failed' ? 'failed' : 'done', state: { ...s } };
      },
    };
  }

  /** A kill of `unit`'s main process: systemd stops the running units that BindsTo= it. */
  #stopBound(unit: string): void {
    for (const name of this.#boundBy.get(unit) ?? []) {
      const d = this.units.get(name);
      if (d?.activeState === 'active') {
        this.#log(name, 'stop');
        this.#transition(d, 'deactivating', 'stop-sigterm', () => this.#settle(d, name, 'inactive'));
      }
    }
  }

  /**
   * systemd stops the running units that Require=, BindsTo= or are PartOf= a stopped one,
   * transitively, in the same transaction; `taken` holds the units already in it.
   */
  #propagateStop(s: SystemdUnitState, taken = new Set<string>([s.id])): void {
    for (const name of this.facts.get(s.id)?.stopPropagatesTo ?? []) {
      const d = this.units.get(name);
      if (!d || taken.has(name)) continue;
      taken.add(name);
      // Through an inactive unit too: its stop job is dropped as redundant, its dependents' are not.
      this.#propagateStop(d, taken);
      if (d.activeState !== 'active') continue;
      this.#log(name, 'stop');
      this.#transition(d, 'deactivating', 'stop-sigterm', () => this.#settle(d, name, 'inactive'));
    }
  }

  #transition(s: SystemdUnitState, activeState: string, subState: string, then: () => void): void {
    s.jobId = this.#nextJob++;
    s.activeState = activeState;
    s.subState = subState;
    setTimeout(then, this.#jobMs);
  }

  #settle(s: SystemdUnitState, unit: string, state: 'active' | 'inactive' | 'failed'): void {
    s.jobId = 0;
    s.activeState = state;
    s.subState = state === 'active' ? 'running' : state === 'failed' ? 'failed' : 'dead';
    s.mainPid = state === 'active' ? this.#nextPid++ : 0;
    this.#log(unit, state);
  }

  #log(unit: string, what: FakeEvent['what']): void {
    this.events.push({ at: performance.now() - this.#t0, unit, what });
  }
}
