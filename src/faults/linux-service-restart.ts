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
import type { SystemdUnitState } from '../native/addon.js';
import { formatDurationMs, listOf } from '../units.js';
import { booleanParam, durationSchema, MAX_DURATION_MS, paramsObject, type Param } from './params.js';
import { runningDependents, type Dependent } from './service/dependents.js';
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

const UnitRecord = UnitStateRecord.extend({
  /** The running units a stop of this one takes down (service/dependents.ts), nearest first. */
  dependents: z.array(UnitStateRecord.extend({ via: z.string() })).default([]),
});
type UnitRecord = z.infer<typeof UnitRecord>;

function stateRecord(unit: string, s: SystemdUnitState): UnitStateRecord {
  return { unit, activeState: s.activeState, subState: s.subState, mainPid: s.mainPid, nRestarts: s.nRestarts, restart: s.restart, timeoutStartUs: s.timeoutStartUs, timeoutStopUs: s.timeoutStopUs };
}

const ServiceRestartRevertSchema = z.object({
  faultId: z.string(),
  sequence: z.enum(['parallel', 'serial']),
  selfHealing: z.boolean(),
  /** Each unit and its state before the fault, recorded before the first stop. */
  units: z.array(UnitRecord),
});

/** The cycles of running faults, by fault id: the revert ends them before it starts the units. */
const loops = new Map<string, RestartLoop>();

/** A unit's state, or FAULT_UNSUPPORTED when systemd cannot be reached over D-Bus. */
async function readUnit(unit: string, ctx: FaultContext): Promise<SystemdUnitState> {
  try {
    return await ctx.native.systemdUnitState(unit);
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === 'EINVAL') throw new FaultdError('FAULTD_ERR_INPUT_INVALID', `services: "${unit}" is not a valid unit name: ${messageOf(error)}`, { cause: error });
    throw new FaultdError('FAULTD_ERR_FAULT_UNSUPPORTED', `cannot reach systemd over D-Bus: ${messageOf(error)}`, { cause: error });
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

/**
 * The running units a stop of `unit` takes down, recorded so that each cycle and the revert
 * start them again; one that faultd must never stop, or could not start again, is a problem.
 */
async function dependentRecords(unit: string, s: SystemdUnitState, own: readonly string[], problems: string[], ctx: FaultContext): Promise<UnitRecord['dependents']> {
  let found: Dependent[];
  try {
    found = await runningDependents(unit, s, (name) => readUnit(name, ctx));
  } catch (error) {
    if (error instanceof FaultdError) throw error;
    problems.push(messageOf(error));
    return [];
  }
  for (const d of found) {
    const how = `stopping ${unit} also stops ${d.unit}${d.via === unit ? '' : ` (through ${d.via})`}, which Requires=, BindsTo= or is PartOf= it`;
    const denied = deniedReason(d.state.id || d.unit, own);
    if (denied) problems.push(`${how}, and ${d.unit} is never stopped by faultd (${denied})`);
    else if (!d.state.canStart) problems.push(`${how}, and ${d.unit} has RefuseManualStart=yes: faultd could not start it again`);
  }
  return found.map((d) => ({ ...stateRecord(d.unit, d.state), via: d.via }));
}

/** Reads and checks every unit before anything changes: unknown, inactive, denied units (also by an alias) and intervals that reach a start limit are refused by name. */
async function unitRecords(units: readonly string[], selfHealing: boolean, pace: { intervalMs: number; cycles: number }, ctx: FaultContext): Promise<UnitRecord[]> {
  const own = ownServices(ctx.procRoot);
  const records: UnitRecord[] = [];
  const problems: string[] = [];
  const intervalProblems: string[] = [];
  for (const unit of units) {
    const denied = deniedReason(unit, own);
    if (denied) {
      problems.push(`${unit} is never restarted by faultd (${denied})`);
      continue;
    }
    const s = await readUnit(unit, ctx);
    // An alias (dbus-org.freedesktop.network1.service, sshd.service) stops the unit it names.
    const deniedAs = s.id && s.id !== unit ? deniedReason(s.id, own) : undefined;
    if (deniedAs) problems.push(`${unit} is an alias of ${s.id}, which is never restarted by faultd (${deniedAs})`);
    else if (s.loadState === 'not-found') problems.push(`${unit}: no such unit (LoadState=not-found)`);
    else if (s.loadState !== 'loaded') problems.push(`${unit}: LoadState=${s.loadState}, not loaded`);
    else if (s.activeState !== 'active') problems.push(`${unit} is ${describeState(s)}, not active: faultd restarts only units that run (it would not start what was down)`);
    else if (!s.canStart) problems.push(`${unit} has RefuseManualStart=yes: faultd could not start it again`);
    else if (!selfHealing && !s.canStop) problems.push(`${unit} has RefuseManualStop=yes: systemd refuses to stop it`);
    else if (selfHealing && selfHealingProblem(unit, s)) problems.push(selfHealingProblem(unit, s) ?? '');
    else if (startLimitProblem(unit, s, pace)) intervalProblems.push(startLimitProblem(unit, s, pace) ?? '');
    else {
      const dependents = await dependentRecords(unit, s, own, problems, ctx);
      records.push({ ...stateRecord(unit, s), dependents });
    }
  }
  if (problems.length) throw new FaultdError('FAULTD_ERR_INPUT_INVALID', `services: ${problems.join('; ')}`);
  if (intervalProblems.length) throw new FaultdError('FAULTD_ERR_INPUT_INVALID', `interval: ${intervalProblems.join('; ')}`);
  return records;
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

/**
 * The dependents to start again after each unit: running before the fault, not one of the units
 * themselves, and each under the first unit that listed it (a shared one is started once).
 */
function dependentsToRestore(units: readonly UnitRecord[]): Map<string, UnitStateRecord[]> {
  const taken = new Set(units.map((u) => u.unit));
  const out = new Map<string, UnitStateRecord[]>();
  for (const u of units) {
    const mine = u.dependents.filter((d) => !taken.has(d.unit));
    for (const d of mine) taken.add(d.unit);
    out.set(u.unit, mine);
  }
  return out;
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
    const units = await unitRecords(p.services, p.selfHealingServices, { intervalMs: p.interval, cycles }, ctx);
    const revert = { faultId, sequence: p.sequence, selfHealing: p.selfHealingServices, units };
    const list = units.map((u) => `${u.unit} (${describeState(u)}, main pid ${u.mainPid})`).join(', ');
    const how = p.selfHealingServices
      ? `SIGKILL the main process of ${list} (KillUnit main) and wait for each unit's Restart= to bring it back`
      : `stop ${list} (StopUnit, checked inactive), and start them (StartUnit, checked active) ${formatDurationMs(p.interval)} later`;
    const takenDown = units.filter((u) => u.dependents.length).map((u) => `${u.unit} takes ${u.dependents.map((d) => d.unit).join(', ')} down with it`);
    const dependentsNote = takenDown.length ? [`systemd propagates each ${p.selfHealingServices ? 'failure to BindsTo= units' : 'stop'}: ${takenDown.join('; ')} (Requires=, BindsTo=, PartOf=); faultd starts them again after their unit in each cycle and at revert`] : [];
    return {
      target: units.map((u) => u.unit).join(', '),
      changes: [`${cycles} cycle(s) of ${formatDurationMs(p.interval)}, ${p.sequence}: ${how}; the last start is the revert's`, ...dependentsNote],
      revertSteps: [
        `start (StartUnit) each of ${units.map((u) => u.unit).join(', ')} that is not active, ${p.sequence}, then the running units its stop took down, and check each is active again (at most ${Math.round(Math.max(...units.map((u) => jobBoundMs(u.timeoutStartUs))) / 1000)} s each)`,
      ],
      revert,
      async apply(recordApplied, signal): Promise<ActiveFault> {
        await recordApplied(revert);
        const loop = new RestartLoop({ units, sequence: p.sequence, selfHealing: p.selfHealingServices, intervalMs: p.interval, cycles, native: ctx.native, logger: ctx.logger });
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
    const dependents = dependentsToRestore(wanted);
    if (shuttingDown(ctx)) {
      // systemd refuses start jobs against shutdown.target, and the bus goes away under us. The
      // reboot ends the fault as it would end the units anyway: what is enabled comes back at boot.
      const all = [...wanted.map((u) => u.unit), ...[...dependents.values()].flat().map((d) => d.unit)];
      return { outcome: 'reverted', detail: `the host is shutting down (SystemState=stopping): not started now; ${all.join(', ')} come(s) back at boot if enabled` };
    }
    // Each unit, then what its stop took down, nearest first (each needs what comes before it).
    const restoredEach = await inSequence(wanted, r.sequence, async (u) => {
      const own = await restoreUnit(u, ctx);
      const theirs: Restored[] = [];
      for (const d of dependents.get(u.unit) ?? []) theirs.push(await restoreUnit(d, ctx));
      return [own, ...theirs];
    });
    const restored = await checkStable(restoredEach.flat(), ctx);
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
