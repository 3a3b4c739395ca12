// SPDX-License-Identifier: Apache-2.0
/**
 * linux-service-restart (Harness name and tunables): stops the systemd services in `services`
 * and starts them again after `interval`, cycle after cycle for the duration, one at a time or
 * all at once (`sequence`); with `selfHealingServices` it SIGKILLs each main process and lets the
 * unit's own Restart= bring it back. Everything goes to systemd over D-Bus from the addon
 * (StopUnit, StartUnit, KillUnit; never `systemctl`). The intent names each unit with its state
 * before the fault; the revert starts every unit that was active and is not, and checks it is
 * active again, with the time it took — also after a `kill -9` (`revert --remnants`) and after a
 * reboot. Only active units are taken, and never faultd's own, the bus, the journal or the
 * network (service/units.ts).
 */
import { setTimeout as sleep } from 'node:timers/promises';

import { z } from 'zod';

import { FaultdError, messageOf } from '../errors.js';
import type { SystemdUnitPlanFacts, SystemdUnitState } from '../native/addon.js';
import { formatDurationMs, listOf } from '../units.js';
import { booleanParam, durationSchema, MAX_DURATION_MS, paramsObject, type Param } from './params.js';
import { dependentsTakenDown, startOrder, type Dependent, type UnitFacts } from './service/dependents.js';
import { inSequence, RestartLoop, type Sequence } from './service/restart-loop.js';
import { deniedReason, describeState, isSettled, jobBoundMs, ownServices, serviceName, startAndWait, waitForUnit } from './service/units.js';
import { defineInjector, RevertError, type ActiveFault, type FaultContext } from './types.js';

/** Most services one fault takes. */
const MAX_SERVICES = 64;
const MIN_INTERVAL_MS = 1000;
/** How long a unit the revert started must stay active, with one main pid, to count as running. */
const STABLE_MS = 250;
/** Restart= values under which systemd restarts a unit whose main process was SIGKILLed. */
const RESTARTS_AFTER_SIGKILL = ['always', 'on-failure', 'on-abnormal', 'on-abort'];

function params() {
  const listError = `must be systemd service names, as "nginx,redis.service" or a list (1–${MAX_SERVICES}; a name without a suffix gets .service)`;
  return {
    services: {
      schema: z
        .union([z.string(), z.array(z.string())], { error: listError })
        .transform((value, c) => {
          const names = listOf(value);
          const bad = names.filter((n) => serviceName(n) === undefined);
          if (bad.length) {
            c.addIssue({ code: 'custom', input: value, message: `${bad.map((b) => `"${b}"`).join(', ')}: not a service name (only .service units, as "nginx" or "nginx.service")` });
            return z.NEVER;
          }
          const units = [...new Set(names.map((n) => serviceName(n) ?? n))];
          if (units.length === 0 || units.length > MAX_SERVICES) {
            c.addIssue({ code: 'custom', input: value, message: listError });
            return z.NEVER;
          }
          return units;
        }),
      doc: { name: 'services', type: 'service list', default: undefined, bounds: `1–${MAX_SERVICES} active .service units`, description: 'the systemd services to restart (required; SERVICES)' },
    } as Param<string[]>,
    selfHealingServices: booleanParam({ name: 'selfHealingServices', default: false, description: "SIGKILL the main process and let the unit's Restart= bring it back, instead of stop and start (SELF_HEALING_SERVICES)" }),
    sequence: {
      schema: z
        .string({ error: 'must be parallel or serial' })
        .transform((v) => v.trim().toLowerCase())
        .pipe(z.enum(['parallel', 'serial'], { error: 'must be parallel or serial' }))
        .optional()
        .transform((v): Sequence => v ?? 'parallel'),
      doc: { name: 'sequence', type: 'parallel | serial', default: 'parallel', bounds: 'parallel | serial', description: 'all services at once, or one after another in the order given (SEQUENCE)' },
    } as Param<Sequence>,
    interval: {
      schema: durationSchema({ min: MIN_INTERVAL_MS, max: MAX_DURATION_MS }).optional().transform((v) => v ?? 30_000),
      doc: { name: 'interval', type: 'duration', default: '30s', bounds: `${formatDurationMs(MIN_INTERVAL_MS)}–the fault's duration`, description: 'one stop-start cycle: stopped at its start, started at its end (INTERVAL)' },
    } as Param<number>,
  };
}

/** A unit's state before the fault, as the revert needs it. */
const UnitStateRecord = z.object({
  unit: z.string(),
  activeState: z.string(),
  subState: z.string(),
  mainPid: z.number(),
  nRestarts: z.number(),
  restart: z.string(),
  timeoutStartUs: z.number().nullable(),
  /** Absent in records written before faultd read TimeoutStopUSec: the start timeout bounds the stop. */
  timeoutStopUs: z.number().nullable().optional(),
});
type UnitStateRecord = z.infer<typeof UnitStateRecord>;

const DependentRecord = UnitStateRecord.extend({
  /** The unit whose stop propagates to this one. */
  via: z.string(),
  /** 1 for a direct dependent of a listed unit, 2 for one of those's, … */
  depth: z.number().int().min(1),
});
type DependentRecord = z.infer<typeof DependentRecord>;

function stateRecord(unit: string, s: SystemdUnitState, f: SystemdUnitPlanFacts): UnitStateRecord {
  return { unit, activeState: s.activeState, subState: s.subState, mainPid: s.mainPid, nRestarts: s.nRestarts, restart: s.restart, timeoutStartUs: s.timeoutStartUs, timeoutStopUs: f.timeoutStopUs };
}

const ServiceRestartRevertSchema = z.object({
  faultId: z.string(),
  sequence: z.enum(['parallel', 'serial']),
  selfHealing: z.boolean(),
  /** Each unit and its state before the fault, recorded before the first stop. */
  units: z.array(UnitStateRecord),
  /**
   * The running units the units' stops take down (service/dependents.ts), none of the units, each
   * once, nearest first: started after all the units. Absent in records before 2026-12-06.
   */
  dependents: z.array(DependentRecord).default([]),
});

/** The cycles of running faults, by fault id: the revert ends them before it starts the units. */
const loops = new Map<string, Pick<RestartLoop, 'stop'>>();

/** A D-Bus failure of a plan read: EINVAL is a bad name (of the field `field`), anything else systemd unreachable. */
function readFailed(error: unknown, unit: string, field: string): FaultdError {
  const code = (error as { code?: string }).code;
  if (code === 'EINVAL') return new FaultdError('FAULTD_ERR_INPUT_INVALID', `${field}: "${unit}" is not a valid unit name: ${messageOf(error)}`, { cause: error });
  return new FaultdError('FAULTD_ERR_FAULT_UNSUPPORTED', `cannot reach systemd over D-Bus: ${messageOf(error)}`, { cause: error });
}

/** A unit's state and plan facts, or FAULT_UNSUPPORTED when systemd cannot be reached over D-Bus. */
async function readUnit(unit: string, ctx: FaultContext, field = 'services'): Promise<UnitFacts> {
  try {
    const [state, facts] = await Promise.all([ctx.native.systemdUnitState(unit), ctx.native.systemdUnitPlanFacts(unit)]);
    return { state, facts };
  } catch (error) {
    throw readFailed(error, unit, field);
  }
}

/** Why systemd would not bring `s` back after a SIGKILL of its main process, if it would not. */
function selfHealingProblem(unit: string, s: SystemdUnitState): string | undefined {
  if (!RESTARTS_AFTER_SIGKILL.includes(s.restart)) return `${unit} has Restart=${s.restart || 'no'}: systemd would not bring it back after a kill (selfHealingServices needs Restart=always, on-failure, on-abnormal or on-abort)`;
  if (s.mainPid === 0) return `${unit} has no main process to kill (a oneshot or RemainAfterExit unit)`;
  return undefined;
}

/**
 * Why restarting `unit` every `intervalMs` would run into its start limit, if it would: systemd
 * counts every start (faultd's and Restart='s) and refuses the one that reaches StartLimitBurst
 * within StartLimitIntervalSec (start-limit-hit), which would leave the unit down.
 */
export function startLimitProblem(unit: string, s: Pick<SystemdUnitState, 'startLimitBurst' | 'startLimitIntervalUs'>, { intervalMs, cycles }: { intervalMs: number; cycles: number }): string | undefined {
  const burst = s.startLimitBurst;
  const windowMs = (s.startLimitIntervalUs ?? 0) / 1000;
  if (burst <= 0 || windowMs <= 0) return undefined;
  // One start per cycle (the last is the revert's), at most as many as fit in one window.
  const starts = Math.min(cycles, Math.floor(windowMs / intervalMs) + 1);
  if (starts < burst) return undefined;
  const least = burst > 1 ? windowMs / (burst - 1) : windowMs;
  return `${formatDurationMs(intervalMs)} would start ${unit} ${starts} times within its StartLimitIntervalSec=${formatDurationMs(windowMs)}, reaching StartLimitBurst=${burst}: systemd would refuse that start and leave it down. Give more than ${formatDurationMs(Math.floor(least))}, or raise the unit's start limit`;
}

interface Problems {
  /** Named `services`: units faultd must not take down or could not bring back. */
  readonly services: string[];
  /** Named `interval`: start limits the cycles would reach. */
  readonly interval: string[];
}

/**
 * The running units a stop of `unit` takes down, to be started again after the units each cycle
 * and at revert. One that faultd must never stop, could not start again (RefuseManualStart=), a
 * target (starting one starts everything it wants, also what was stopped on purpose) or one
 * whose start limit the cycles would reach is a problem.
 */
async function dependentsOf(unit: string, own: UnitFacts, ownServiceNames: readonly string[], pace: { intervalMs: number; cycles: number }, problems: Problems, ctx: FaultContext): Promise<Dependent[]> {
  let found: Dependent[];
  try {
    found = await dependentsTakenDown(unit, own, (name) => readUnit(name, ctx, `services (${unit} depends through ${name})`));
  } catch (error) {
    if (error instanceof FaultdError) throw error;
    problems.services.push(messageOf(error));
    return [];
  }
  for (const d of found) {
    const how = `stopping ${unit} also stops ${d.unit}${d.via === unit ? '' : ` (through ${d.via})`}, which Requires=, BindsTo= or is PartOf= it`;
    const denied = deniedReason(d.state.id || d.unit, ownServiceNames);
    if (denied) problems.services.push(`${how}, and ${d.unit} is never stopped by faultd (${denied})`);
    else if (d.unit.endsWith('.target')) problems.services.push(`${how}: faultd does not start targets again (a start would also start every unit the target wants, those stopped on purpose included)`);
    else if (!d.facts.canStart) problems.services.push(`${how}, and ${d.unit} has RefuseManualStart=yes: faultd could not start it again`);
    else {
      const limit = startLimitProblem(d.unit, d.state, pace);
      if (limit) problems.interval.push(`${limit} (${d.unit} is taken down with ${unit})`);
    }
  }
  return found;
}

interface Planned {
  readonly units: UnitStateRecord[];
  readonly dependents: DependentRecord[];
}

/** Reads and checks every unit before anything changes: unknown, inactive, denied units (also by an alias), their dependents, and intervals that reach a start limit are refused by name. */
async function planUnits(units: readonly string[], selfHealing: boolean, pace: { intervalMs: number; cycles: number }, ctx: FaultContext): Promise<Planned> {
  const own = ownServices(ctx.procRoot);
  const records: UnitStateRecord[] = [];
  const found: Dependent[] = [];
  const problems: Problems = { services: [], interval: [] };
  for (const unit of units) {
    const denied = deniedReason(unit, own);
    if (denied) {
      problems.services.push(`${unit} is never restarted by faultd (${denied})`);
      continue;
    }
    const u = await readUnit(unit, ctx);
    const s = u.state;
    // An alias (dbus-org.freedesktop.network1.service, sshd.service) stops the unit it names.
    const deniedAs = s.id && s.id !== unit ? deniedReason(s.id, own) : undefined;
    if (deniedAs) problems.services.push(`${unit} is an alias of ${s.id}, which is never restarted by faultd (${deniedAs})`);
    else if (s.loadState === 'not-found') problems.services.push(`${unit}: no such unit (LoadState=not-found)`);
    else if (s.loadState !== 'loaded') problems.services.push(`${unit}: LoadState=${s.loadState}, not loaded`);
    else if (s.activeState !== 'active') problems.services.push(`${unit} is ${describeState(s)}, not active: faultd restarts only units that run (it would not start what was down)`);
    else if (!u.facts.canStart) problems.services.push(`${unit} has RefuseManualStart=yes: faultd could not start it again`);
    else if (!selfHealing && !u.facts.canStop) problems.services.push(`${unit} has RefuseManualStop=yes: systemd refuses to stop it`);
    else if (selfHealing && selfHealingProblem(unit, s)) problems.services.push(selfHealingProblem(unit, s) ?? '');
    else if (startLimitProblem(unit, s, pace)) problems.interval.push(startLimitProblem(unit, s, pace) ?? '');
    else {
      found.push(...(await dependentsOf(unit, u, own, pace, problems, ctx)));
      records.push(stateRecord(unit, s, u.facts));
    }
  }
  if (problems.services.length) throw new FaultdError('FAULTD_ERR_INPUT_INVALID', `services: ${problems.services.join('; ')}`);
  if (problems.interval.length) throw new FaultdError('FAULTD_ERR_INPUT_INVALID', `interval: ${problems.interval.join('; ')}`);
  return { units: records, dependents: dependentRecords(records, found) };
}

/** The dependents to start again after `units`, each once, nearest first, as recorded. */
function dependentRecords(units: readonly UnitStateRecord[], found: readonly Dependent[]): DependentRecord[] {
  return startOrder(units.map((r) => r.unit), found).map((d) => ({ ...stateRecord(d.unit, d.state, d.facts), via: d.via, depth: d.depth }));
}

/**
 * The dependents of `units` now, checked as at plan time for the cycles left: read before each
 * later cycle's stop, so a unit started during the fault that depends on one is followed too.
 * Throws (ending the fault, with the units up) when one of them may not be taken down.
 */
async function currentDependents(units: readonly UnitStateRecord[], pace: { intervalMs: number; cycles: number }, ctx: FaultContext): Promise<DependentRecord[]> {
  const own = ownServices(ctx.procRoot);
  const problems: Problems = { services: [], interval: [] };
  const found: Dependent[] = [];
  for (const u of units) found.push(...(await dependentsOf(u.unit, await readUnit(u.unit, ctx), own, pace, problems, ctx)));
  const refused = [...problems.services, ...problems.interval];
  if (refused.length) throw new Error(`not stopped again: ${refused.join('; ')}`);
  return dependentRecords(units, found);
}

interface Restored {
  readonly unit: string;
  readonly outcome: 'started' | 'already-active' | 'failed';
  readonly ms: number;
  readonly state: SystemdUnitState | undefined;
  readonly error?: string;
}

/** Waits out a job under way, then starts the unit if it is not active; checks it is. */
async function restoreUnit(record: UnitStateRecord, ctx: FaultContext): Promise<Restored> {
  const started = performance.now();
  const bound = jobBoundMs(record.timeoutStartUs);
  try {
    const settled = await waitForUnit(ctx.native, record.unit, isSettled, bound);
    if (settled.state.activeState === 'active' && settled.done) return { unit: record.unit, outcome: 'already-active', ms: performance.now() - started, state: settled.state };
    const up = await startAndWait(ctx.native, record.unit, bound);
    return { unit: record.unit, outcome: up.done ? 'started' : 'failed', ms: performance.now() - started, state: up.state };
  } catch (error) {
    return { unit: record.unit, outcome: 'failed', ms: performance.now() - started, state: undefined, error: messageOf(error) };
  }
}

/**
 * A Type=simple unit is active once forked: one whose process exits at once (a broken
 * ExecStart) shows it only a moment later. Each unit the revert started must still be active
 * with the same main pid STABLE_MS later: one wait for all of them, so a serial revert of many
 * units is not held up.
 */
async function checkStable(restored: readonly Restored[], ctx: FaultContext): Promise<Restored[]> {
  if (!restored.some((r) => r.outcome === 'started')) return [...restored];
  await sleep(STABLE_MS);
  return Promise.all(
    restored.map(async (r): Promise<Restored> => {
      if (r.outcome !== 'started' || !r.state) return r;
      const before = r.state;
      let later: SystemdUnitState;
      try {
        later = await ctx.native.systemdUnitState(r.unit);
      } catch (error) {
        return { ...r, outcome: 'failed', state: undefined, error: messageOf(error) };
      }
      if (later.activeState === 'active' && later.mainPid === before.mainPid) return { ...r, state: later };
      return { ...r, outcome: 'failed', state: later, error: `active after ${Math.round(r.ms)} ms, then ${describeState(later)} within ${STABLE_MS} ms (main pid ${before.mainPid} → ${later.mainPid})` };
    }),
  );
}

function describeRestored(r: Restored): string {
  const ms = `${Math.round(r.ms)} ms`;
  if (r.outcome === 'started') return `started ${r.unit} (active after ${ms})`;
  if (r.outcome === 'already-active') return `${r.unit} already active${r.state ? ` (main pid ${r.state.mainPid}, ${r.state.nRestarts} automatic restarts)` : ''}`;
  return `${r.unit} not active: ${r.error ?? (r.state ? `${describeState(r.state)} after ${ms}` : 'unknown state')}`;
}

/** True while systemd takes the host down (its SystemState is `stopping`). */
function shuttingDown(ctx: FaultContext): boolean {
  try {
    return ctx.native.systemdProbe().systemState === 'stopping';
  } catch {
    return false; // unreachable: the start below says why
  }
}

export const linuxServiceRestart = defineInjector({
  kind: 'linux-service-restart',
  summary: 'Stop systemd services and start them again every interval (or SIGKILL them for their Restart=); all active again at revert',
  paramAliases: { SERVICES: 'services', SELF_HEALING_SERVICES: 'selfHealingServices', SEQUENCE: 'sequence', INTERVAL: 'interval' },
  paramsSchema: () => paramsObject(params()),
  paramDocs: () => Object.values(params()).map((p) => p.doc),
  durationProblem: (p, durationMs) => (p.interval > durationMs ? { param: 'interval', message: `must not exceed the fault's duration (${formatDurationMs(durationMs)}); it is ${formatDurationMs(p.interval)}` } : undefined),
  exclusiveTargets: (p) => p.services.map((unit) => `systemd-unit:${unit}`),
  revertSchema: ServiceRestartRevertSchema,
  async plan(faultId, p, ctx) {
    const durationMs = ctx.durationMs ?? p.interval;
    const cycles = Math.max(1, Math.floor(durationMs / p.interval));
    const { units, dependents } = await planUnits(p.services, p.selfHealingServices, { intervalMs: p.interval, cycles }, ctx);
    const revert = { faultId, sequence: p.sequence, selfHealing: p.selfHealingServices, units, dependents };
    const list = units.map((u) => `${u.unit} (${describeState(u)}, main pid ${u.mainPid})`).join(', ');
    const how = p.selfHealingServices
      ? `SIGKILL the main process of ${list} (KillUnit main) and wait for each unit's Restart= to bring it back`
      : `stop ${list} (StopUnit, checked inactive), and start them (StartUnit, checked active) ${formatDurationMs(p.interval)} later`;
    const takenDown = dependents.map((d) => `${d.unit}${d.depth > 1 ? ` (through ${d.via})` : ''}`).join(', ');
    const dependentsNote = dependents.length
      ? [
          `${p.selfHealingServices ? 'a unit that BindsTo= a killed one is stopped with it' : 'systemd propagates each stop (Requires=, Requisite=, BindsTo=, PartOf=)'}: ${takenDown} ${p.selfHealingServices ? 'may go' : 'go(es)'} down too; faultd starts them again, nearest first, after the units in each cycle and at revert`,
        ]
      : [];
    const slowest = Math.max(...[...units, ...dependents].map((u) => jobBoundMs(u.timeoutStartUs)));
    return {
      target: units.map((u) => u.unit).join(', '),
      // The dependents go down with the units: no other fault of the step may restart them.
      claims: [...units, ...dependents].map((u) => `systemd-unit:${u.unit}`),
      changes: [`${cycles} cycle(s) of ${formatDurationMs(p.interval)}, ${p.sequence}: ${how}; the last start is the revert's`, ...dependentsNote],
      revertSteps: [
        `start (StartUnit) each of ${units.map((u) => u.unit).join(', ')} that is not active, ${p.sequence}${dependents.length ? `, then ${dependents.map((d) => d.unit).join(', ')} one by one` : ''}, and check each is active again (at most ${Math.round(slowest / 1000)} s each)`,
      ],
      revert,
      async apply(recordApplied, signal): Promise<ActiveFault> {
        await recordApplied(revert);
        const loop = new RestartLoop({
          units,
          dependents,
          sequence: p.sequence,
          selfHealing: p.selfHealingServices,
          intervalMs: p.interval,
          cycles,
          native: ctx.native,
          logger: ctx.logger,
          currentDependents: () => currentDependents(units, { intervalMs: p.interval, cycles }, ctx),
          recordDependents: (now) => recordApplied({ ...revert, dependents: [...now] }),
        });
        loops.set(faultId, loop);
        try {
          await loop.begin(signal);
        } catch (error) {
          throw new FaultdError('FAULTD_ERR_FAULT_APPLY', messageOf(error), { cause: error });
        }
        return { measure: () => loop.measure(), ended: loop.ended };
      },
    };
  },
  async revert(r, ctx) {
    const loop = loops.get(r.faultId);
    loops.delete(r.faultId);
    await loop?.stop();
    const wanted = r.units.filter((u) => u.activeState === 'active');
    if (!wanted.length) return { outcome: 'already-absent', detail: 'no unit was stopped' };
    if (shuttingDown(ctx)) {
      // systemd refuses start jobs against shutdown.target, and the bus goes away under us. The
      // reboot ends the fault as it would end the units anyway: what is enabled comes back at boot.
      const all = [...wanted, ...r.dependents].map((u) => u.unit);
      return { outcome: 'reverted', detail: `the host is shutting down (SystemState=stopping): not started now; ${all.join(', ')} come(s) back at boot if enabled` };
    }
    // The units first (as `sequence` says), then what their stops took down, one by one, nearest
    // first: each starts after what it needs (a Requisite= would refuse the start otherwise).
    const ownRestored = await inSequence(wanted, r.sequence, (u) => restoreUnit(u, ctx));
    const dependentsRestored: Restored[] = [];
    for (const d of r.dependents) dependentsRestored.push(await restoreUnit(d, ctx));
    const restored = await checkStable([...ownRestored, ...dependentsRestored], ctx);
    const failed = restored.filter((x) => x.outcome === 'failed');
    if (failed.length) {
      const names = failed.map((x) => x.unit).join(' ');
      throw new RevertError(
        restored.map(describeRestored).join('; '),
        `${failed.map((x) => `${x.unit} ${x.state ? describeState(x.state) : 'in an unknown state'}`).join(', ')} (active before the fault)`,
        `systemctl start ${names}  # then: systemctl status ${names}`,
      );
    }
    const detail = restored.map(describeRestored).join('; ');
    return restored.some((x) => x.outcome === 'started') ? { outcome: 'reverted', detail } : { outcome: 'already-absent', detail };
  },
  support(ctx) {
    try {
      const manager = ctx.native.systemdProbe();
      return { supported: true, notes: [`systemd ${manager.version} reachable over D-Bus at ${manager.address} (StopUnit/StartUnit/KillUnit; never systemctl)`] };
    } catch (error) {
      return { supported: false, notes: [`systemd not reachable over D-Bus: ${messageOf(error)}`] };
    }
  },
});
