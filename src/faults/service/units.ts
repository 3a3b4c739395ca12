// SPDX-License-Identifier: Apache-2.0
/**
 * systemd units for linux-service-restart, through the addon's D-Bus calls (never `systemctl`):
 * the names faultd accepts, the units it never stops, and the bounded waits for a unit's job to
 * settle. A wait polls the unit's ActiveState and Job over D-Bus (1 ms apart for 100 ms, then up to
 * 20 ms) when a job outlasts the addon's own wait for it (JOB_WAIT_MS); each
 * poll is one connection and ~8 property reads (about 1.5 ms in the nspawn suite).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { parseProcCgroup } from '../../host/cgroup.js';
import type { NativeAddon, SystemdUnitState } from '../../native/addon.js';

export type UnitNative = Pick<NativeAddon, 'systemdUnitState' | 'systemdUnitAction'>;

/**
 * The pauses between a wait's state reads: POLL_FIRST_MS for the first POLL_FAST_FOR_MS (most
 * jobs end within milliseconds), then doubling up to POLL_MAX_MS, so a slow job costs systemd at
 * most one read per POLL_MAX_MS.
 */
export const POLL_FIRST_MS = 1;
export const POLL_FAST_FOR_MS = 100;
export const POLL_MAX_MS = 20;
/**
 * Longest wait for one job: the unit's own TimeoutStartUSec plus 5 s, never more than 60 s (a
 * unit with `TimeoutStartSec=infinity` or 90 s, the default, would otherwise hold a revert that
 * long; `systemctl start` after the report finishes the job).
 */
export const MAX_WAIT_MS = 60_000;

/**
 * How long the addon waits for a start or stop job's JobRemoved on the connection that queued it
 * (as systemctl does); a job still running then is polled. Measured in the nspawn suite: a state
 * read on a fresh connection waits behind the job in systemd's event loop (up to ~23 ms), so
 * polling alone made a restart take 41 ms against systemctl's 19 ms. Short, so that a revert
 * after an abort waits at most this long for a cycle's job before it starts its own (the
 * addon's wait cannot be interrupted), and a libuv pool thread is never held long.
 */
export const JOB_WAIT_MS = 500;

/** A unit name systemd accepts; systemd escapes other characters as `\xNN`, hence the backslash. */
const UNIT_NAME = /^[A-Za-z0-9:_.@\\-]+$/;
const UNIT_SUFFIX = /\.(service|socket|device|mount|automount|swap|target|path|timer|slice|scope)$/;

/** `nginx` → `nginx.service` (as systemctl does); undefined for anything but a service name. */
export function serviceName(name: string): string | undefined {
  const trimmed = name.trim();
  if (!UNIT_NAME.test(trimmed) || trimmed.length > 250) return undefined;
  if (!UNIT_SUFFIX.test(trimmed)) return `${trimmed}.service`;
  return trimmed.endsWith('.service') ? trimmed : undefined;
}

/**
 * Units never stopped, and why. Stopping any of them takes down what the fault and its revert
 * need, or the machine's own recovery: faultd (its revert would die with it), the bus faultd and
 * systemctl talk to systemd over, the journal every service logs to, and the network managers
 * that carry faultd's control-plane traffic (ARCHITECTURE.md §1.6). The unit faultd itself runs
 * in is added at plan time (from /proc/self/cgroup).
 */
export const DENIED_UNITS: ReadonlyMap<string, string> = new Map([
  ['faultd.service', 'faultd itself: its revert would be stopped with it'],
  ['dbus.service', 'the system bus: faultd reaches systemd through it'],
  ['dbus-broker.service', 'the system bus: faultd reaches systemd through it'],
  ['systemd-journald.service', 'the journal: every service logs through it'],
  ['systemd-networkd.service', "the network: it carries faultd's control-plane traffic"],
  ['NetworkManager.service', "the network: it carries faultd's control-plane traffic"],
  ['networking.service', "the network: it carries faultd's control-plane traffic"],
  ['systemd-logind.service', 'the login manager: stopping it ends no session but locks new logins out'],
]);

/** The services in faultd's own cgroup path (`…/faultd.service`, `…/ssh.service/…`). */
export function ownServices(procRoot: string): string[] {
  let text: string;
  try {
    text = readFileSync(path.join(procRoot, 'self', 'cgroup'), 'utf8');
  } catch {
    return [];
  }
  const names = [...parseProcCgroup(text).values()].flatMap((p) => p.split('/')).filter((part) => part.endsWith('.service'));
  return [...new Set(names)];
}

/** Why `unit` may not be stopped by faultd, or undefined when it may. */
export function deniedReason(unit: string, own: readonly string[]): string | undefined {
  const listed = DENIED_UNITS.get(unit);
  if (listed) return listed;
  return own.includes(unit) ? 'faultd runs in this unit: stopping it would stop faultd and its revert' : undefined;
}

/** `active (running)`. */
export function describeState(s: Pick<SystemdUnitState, 'activeState' | 'subState'>): string {
  return `${s.activeState} (${s.subState})`;
}

/** The longest wait for `unit`'s start or stop job, from its TimeoutStartUSec. */
export function jobBoundMs(timeoutStartUs: number | null): number {
  if (timeoutStartUs === null || timeoutStartUs <= 0) return MAX_WAIT_MS;
  return Math.min(MAX_WAIT_MS, Math.ceil(timeoutStartUs / 1000) + 5000);
}

/** A unit with no job and no state change under way. */
export function isSettled(s: SystemdUnitState): boolean {
  return s.jobId === 0 && (s.activeState === 'active' || s.activeState === 'inactive' || s.activeState === 'failed');
}

export interface Waited {
  /** The state read last (after the job, for a start or stop). */
  readonly state: SystemdUnitState;
  /** Until the job's JobRemoved (a start or stop whose job ended within JOB_WAIT_MS), else until the last read. */
  readonly waitedMs: number;
  /** False when the bound passed (or `signal` aborted) first. */
  readonly done: boolean;
}

/**
 * Reads `unit` until `done(state)` holds, the bound passes, or `signal` aborts. The state read
 * last is returned either way.
 */
export async function waitForUnit(native: UnitNative, unit: string, done: (s: SystemdUnitState) => boolean, boundMs: number, signal?: AbortSignal): Promise<Waited> {
  const started = performance.now();
  let pause = POLL_FIRST_MS;
  for (;;) {
    const state = await native.systemdUnitState(unit);
    const waitedMs = performance.now() - started;
    if (done(state)) return { state, waitedMs, done: true };
    if (waitedMs >= boundMs || signal?.aborted) return { state, waitedMs, done: false };
    await sleep(pause);
    if (waitedMs >= POLL_FAST_FOR_MS) pause = Math.min(POLL_MAX_MS, pause * 2);
  }
}

/** Settled and active: the start job finished well. */
export const isUp = (s: SystemdUnitState): boolean => s.jobId === 0 && s.activeState === 'active';
/** Settled and down: the stop job finished (a unit that failed while stopping is down too). */
export const isDown = (s: SystemdUnitState): boolean => s.jobId === 0 && (s.activeState === 'inactive' || s.activeState === 'failed');

/** A job result from JobRemoved (not `pending` or `queued`): the job's time is the time it took. */
const jobEnded = (result: string): boolean => result !== 'pending' && result !== 'queued';

/**
 * Equivalent to `systemctl start <unit>`: StartUnit and its job waited for (JOB_WAIT_MS), then
 * state reads until the unit is active or its start gave up (failed or inactive, no job left).
 */
export async function startAndWait(native: UnitNative, unit: string, boundMs: number, signal?: AbortSignal): Promise<Waited> {
  const started = performance.now();
  const job = await native.systemdUnitAction(unit, 'start', Math.min(boundMs, JOB_WAIT_MS));
  const jobMs = performance.now() - started;
  const waited = job.state && isSettled(job.state) ? { state: job.state } : await waitForUnit(native, unit, isSettled, boundMs - jobMs, signal);
  return { state: waited.state, waitedMs: jobEnded(job.result) ? jobMs : performance.now() - started, done: isUp(waited.state) };
}

/** Equivalent to `systemctl stop <unit>`: StopUnit and its job, then reads until it is inactive or failed. */
export async function stopAndWait(native: UnitNative, unit: string, boundMs: number, signal?: AbortSignal): Promise<Waited> {
  const started = performance.now();
  const job = await native.systemdUnitAction(unit, 'stop', Math.min(boundMs, JOB_WAIT_MS));
  const jobMs = performance.now() - started;
  if (job.state && isDown(job.state)) return { state: job.state, waitedMs: jobMs, done: true };
  const waited = await waitForUnit(native, unit, isDown, boundMs - jobMs, signal);
  return { ...waited, waitedMs: jobEnded(job.result) ? jobMs : performance.now() - started };
}

/**
 * Equivalent to `systemctl kill -s KILL --kill-whom=main <unit>`, then a wait until systemd has
 * brought it back by its Restart= (active with another main pid and no job). `done` is false
 * when it settled down instead (the start limit hit, or a failing start) or the bound passed.
 */
export async function killAndWaitBack(native: UnitNative, unit: string, before: SystemdUnitState, boundMs: number, signal?: AbortSignal): Promise<Waited> {
  const started = performance.now();
  await native.systemdUnitAction(unit, 'kill');
  const back = (s: SystemdUnitState): boolean => isUp(s) && s.mainPid !== before.mainPid;
  const gaveUp = (s: SystemdUnitState): boolean => isDown(s) && s.subState !== 'auto-restart';
  const waited = await waitForUnit(native, unit, (s) => back(s) || gaveUp(s), boundMs, signal);
  return { ...waited, waitedMs: performance.now() - started, done: back(waited.state) };
}
