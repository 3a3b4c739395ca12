// SPDX-License-Identifier: Apache-2.0
/**
 * The stop-start cycles of linux-service-restart (Harness semantics): each cycle lasts
 * `interval`; it stops the units at its start and starts them again at its end, which is the
 * start of the next cycle (or faultd's revert, after the last). With `selfHealing` a cycle
 * SIGKILLs each unit's main process instead and waits for the unit's own Restart= to bring it
 * back. `sequence` serial takes the units one at a time, in the order given; parallel all at
 * once. Cycles are scheduled from the first one's start, so a slow stop does not shift the
 * rest; the last cycle ends with the fault, and the revert (not this loop) starts the units.
 */
import { setTimeout as sleep } from 'node:timers/promises';

import type { Logger } from 'pino';

import type { SystemdUnitState } from '../../native/addon.js';
import { describeState, jobBoundMs, killAndWaitBack, startAndWait, stopAndWait, type UnitNative, type Waited } from './units.js';

export type Sequence = 'parallel' | 'serial';

export interface LoopUnit {
  readonly unit: string;
  readonly timeoutStartUs: number | null;
  /** TimeoutStopUSec (null: infinity); absent in records before faultd read it: the start timeout stands in. */
  readonly timeoutStopUs?: number | null | undefined;
}

export interface LoopOptions<D extends LoopUnit = LoopUnit> {
  readonly units: readonly LoopUnit[];
  /**
   * The running units the units' stops take down (service/dependents.ts), none of the units,
   * nearest first: started one by one after all the units in each cycle.
   */
  readonly dependents: readonly D[];
  readonly sequence: Sequence;
  readonly selfHealing: boolean;
  readonly intervalMs: number;
  /** Cycles in the fault's duration (at least 1). */
  readonly cycles: number;
  readonly native: UnitNative;
  readonly logger: Logger;
  /**
   * Before each later cycle's stop (the units are up again): the dependents as they are now,
   * checked as at plan time (throws why one may not be taken down). Absent: the plan's list stands.
   */
  readonly currentDependents?: () => Promise<readonly D[]>;
  /** Records (in the ledger) the list the cycles now start again, before the stop that takes the new ones down. */
  readonly recordDependents?: (dependents: readonly D[]) => Promise<void>;
}

/** Runs `each` over `items` one at a time or all at once; the first failure is thrown after all ran. */
export async function inSequence<T, R>(items: readonly T[], sequence: Sequence, each: (item: T) => Promise<R>): Promise<R[]> {
  if (sequence === 'parallel') {
    const settled = await Promise.allSettled(items.map(each));
    const failed = settled.find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
    return settled.map((r) => (r as PromiseFulfilledResult<R>).value);
  }
  const out: R[] = [];
  for (const item of items) out.push(await each(item));
  return out;
}

export class RestartLoop<D extends LoopUnit = LoopUnit> {
  readonly #o: LoopOptions<D>;
  readonly #stop = new AbortController();
  #started = 0;
  #cycle = 0;
  #downs = 0;
  #running: Promise<void> = Promise.resolve();
  /** The units the stops take down: the plan's, and those found before later cycles. */
  #dependents: readonly D[];
  #end: (reason: string) => void = () => undefined;
  /** Settles with why when a cycle fails (a unit that would not stop, start or come back). */
  readonly ended: Promise<string>;

  constructor(options: LoopOptions<D>) {
    this.#o = options;
    this.#dependents = options.dependents;
    this.ended = new Promise<string>((resolve) => (this.#end = resolve));
  }

  /** The first cycle's stop (or kill): done, or thrown, before the fault counts as applied. */
  async begin(signal: AbortSignal): Promise<void> {
    this.#started = performance.now();
    this.#cycle = 1;
    const onAbort = (): void => this.#stop.abort();
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      await this.#down();
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
    if (signal.aborted) throw new Error('aborted while stopping the units');
    this.#running = this.#rest().catch((error: unknown) => {
      const reason = error instanceof Error ? error.message : String(error);
      this.#o.logger.error({ cycle: this.#cycle, reason }, 'service restart cycle failed');
      this.#end(reason);
    });
  }

  /** Ends the cycles and waits for one under way to finish its step (the revert follows). */
  async stop(): Promise<void> {
    this.#stop.abort();
    await this.#running;
  }

  measure(): string {
    const verb = this.#o.selfHealing ? 'killed' : 'stopped';
    return `cycle ${this.#cycle}/${this.#o.cycles}, ${verb} ${this.#downs}×`;
  }

  async #rest(): Promise<void> {
    for (let k = 1; k < this.#o.cycles; k += 1) {
      const due = this.#started + k * this.#o.intervalMs;
      const wait = Math.max(0, due - performance.now());
      try {
        await sleep(wait, undefined, { signal: this.#stop.signal });
      } catch {
        return; // stopped: the revert takes over
      }
      this.#cycle = k + 1;
      if (!this.#o.selfHealing) await this.#up();
      if (this.#stop.signal.aborted) return;
      await this.#followDependents();
      if (this.#stop.signal.aborted) return;
      await this.#down();
    }
  }

  /** Starts every unit and checks that each is active. */
  async #up(): Promise<void> {
    await inSequence(this.#o.units, this.#o.sequence, async (u) => {
      if (this.#stop.signal.aborted) return;
      const started = await startAndWait(this.#o.native, u.unit, jobBoundMs(u.timeoutStartUs), this.#stop.signal);
      if (!started.done && !this.#stop.signal.aborted) throw new Error(`${u.unit} did not start again in cycle ${this.#cycle}: ${describeState(started.state)} after ${Math.round(started.waitedMs)} ms`);
      this.#o.logger.info({ unit: u.unit, cycle: this.#cycle, ms: Math.round(started.waitedMs) }, 'unit started');
    });
    await this.#startDependents();
  }

  /**
   * A unit started during the fault that depends on one of the units would go down with the
   * next stop and stay down: the list is read again, and one found now is recorded before that
   * stop, kept in the list (so the cycles and the revert start it) and named in the log.
   */
  async #followDependents(): Promise<void> {
    if (!this.#o.currentDependents) return;
    const now = await this.#o.currentDependents();
    const known = new Set(this.#dependents.map((d) => d.unit));
    const added = now.filter((d) => !known.has(d.unit));
    if (!added.length) return;
    // Nearest first as read now; one of the plan's that no longer depends (stopped since) stays last.
    const current = new Set(now.map((d) => d.unit));
    const merged = [...now, ...this.#dependents.filter((d) => !current.has(d.unit))];
    await this.#o.recordDependents?.(merged);
    this.#dependents = merged;
    this.#o.logger.info({ cycle: this.#cycle, added: added.map((d) => d.unit) }, 'units started during the fault depend on the units: they go down with them and are started again');
  }

  /** Starts again, one by one and nearest first, the running units that the stops (or kills) took down. */
  async #startDependents(): Promise<void> {
    for (const d of this.#dependents) {
      if (this.#stop.signal.aborted) return;
      const started = await startAndWait(this.#o.native, d.unit, jobBoundMs(d.timeoutStartUs), this.#stop.signal);
      if (!started.done && !this.#stop.signal.aborted) throw new Error(`${d.unit}, taken down with the units, did not start again in cycle ${this.#cycle}: ${describeState(started.state)} after ${Math.round(started.waitedMs)} ms`);
      this.#o.logger.info({ unit: d.unit, cycle: this.#cycle, ms: Math.round(started.waitedMs) }, 'dependent unit started');
    }
  }

  /**
   * The bound of a stop of `u`: its TimeoutStopUSec, or a dependent's when longer (they stop
   * first, ordered After= it, so its job ends after theirs); jobBoundMs caps it.
   */
  #stopBoundMs(u: LoopUnit): number {
    const stopTimeout = (x: LoopUnit): number | null => (x.timeoutStopUs === undefined ? x.timeoutStartUs : x.timeoutStopUs);
    return Math.max(...[u, ...this.#dependents].map((x) => jobBoundMs(stopTimeout(x))));
  }

  /** Stops every unit (checked inactive), or kills each and checks systemd brought it back. */
  async #down(): Promise<void> {
    await inSequence(this.#o.units, this.#o.sequence, async (u) => {
      if (this.#stop.signal.aborted) return;
      const result = this.#o.selfHealing ? await this.#kill(u) : await stopAndWait(this.#o.native, u.unit, this.#stopBoundMs(u), this.#stop.signal);
      if (this.#stop.signal.aborted) return;
      this.#downs += 1;
      if (!result.done) {
        const what = this.#o.selfHealing ? 'come back by its Restart= after SIGKILL' : 'stop';
        throw new Error(`${u.unit} did not ${what} in cycle ${this.#cycle}: ${describeState(result.state)} after ${Math.round(result.waitedMs)} ms`);
      }
      this.#o.logger.info({ unit: u.unit, cycle: this.#cycle, ms: Math.round(result.waitedMs), mainPid: result.state.mainPid }, this.#o.selfHealing ? 'unit killed and restarted by systemd' : 'unit stopped');
    });
    // A unit bound to one that failed (BindsTo=) is stopped by systemd even when Restart= brings it back.
    if (this.#o.selfHealing) await this.#startDependents();
  }

  async #kill(u: LoopUnit): Promise<Waited> {
    const before: SystemdUnitState = await this.#o.native.systemdUnitState(u.unit);
    return killAndWaitBack(this.#o.native, u.unit, before, jobBoundMs(u.timeoutStartUs), this.#stop.signal);
  }
}
