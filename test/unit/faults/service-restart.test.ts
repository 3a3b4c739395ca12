// SPDX-License-Identifier: Apache-2.0
// linux-service-restart without root or systemd, on a fake systemd behind the addon's D-Bus
// calls (test/helpers/fake-systemd.ts): params with Harness spellings and their errors naming
// field and range, the plan's refusals (unknown, inactive, denied units; self-healing without
// Restart=), the cycles (serial vs parallel order, kills for self-healing), and the revert
// (started and checked active, idempotent, failing with the command that fixes it).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import test, { type ExecutionContext } from 'ava';

import { FaultdError } from '../../../src/errors.js';
import { validateExperiment } from '../../../src/experiment/schema.js';
import { linuxServiceRestart } from '../../../src/faults/linux-service-restart.js';
import { REGISTRY } from '../../../src/faults/registry.js';
import { RestartLoop } from '../../../src/faults/service/restart-loop.js';
import { deniedReason, ownServices, serviceName } from '../../../src/faults/service/units.js';
import { RevertError, type FaultContext } from '../../../src/faults/types.js';
import { FAKE_CONTEXT, FAKE_NATIVE, SILENT } from '../../helpers/fake.js';
import { FAKE_PLAN_FACTS, FakeSystemd } from '../../helpers/fake-systemd.js';
import { FAKE_VALIDATION } from '../../helpers/host.js';
import { waitUntil } from '../../helpers/processes.js';

function experiment(fault: Record<string, unknown>) {
  return { apiVersion: 'faultd/v1', kind: 'Experiment', metadata: { name: 'svc' }, spec: { steps: [{ faults: [{ kind: 'linux-service-restart', ...fault }] }] } };
}

function problems(fault: Record<string, unknown>): string[] {
  const result = validateExperiment(experiment(fault), REGISTRY, FAKE_VALIDATION);
  return result.ok ? [] : result.problems.map((p) => `${p.path}: ${p.message}`);
}

/** A context on `systemd`, with a fake /proc whose self/cgroup puts faultd in `ownUnit`. */
function context(t: ExecutionContext, systemd: FakeSystemd, ownUnit = 'session-3.scope', durationMs?: number): FaultContext {
  const proc = mkdtempSync(path.join(tmpdir(), 'faultd-svc-'));
  t.teardown(() => rmSync(proc, { recursive: true, force: true }));
  mkdirSync(path.join(proc, 'self'));
  writeFileSync(path.join(proc, 'self/cgroup'), `0::/system.slice/${ownUnit}\n`);
  return { ...FAKE_CONTEXT, native: { ...FAKE_NATIVE, ...systemd.surface }, procRoot: proc, ...(durationMs === undefined ? {} : { durationMs }) };
}

function params(raw: Record<string, unknown>): Parameters<typeof linuxServiceRestart.plan>[1] {
  const result = linuxServiceRestart.validateParams(raw, FAKE_VALIDATION);
  if (!result.ok) throw new Error(JSON.stringify(result.issues));
  return result.params;
}

test('Harness spellings and defaults: SERVICES, SELF_HEALING_SERVICES, SEQUENCE, INTERVAL; names without a suffix get .service', (t) => {
  const result = validateExperiment(experiment({ duration: '60s', params: { SERVICES: 'nginx,redis.service, nginx', SELF_HEALING_SERVICES: 'true', SEQUENCE: 'Serial', INTERVAL: '20s' } }), REGISTRY, FAKE_VALIDATION);
  t.true(result.ok, JSON.stringify(result));
  if (!result.ok) return;
  t.deepEqual(result.experiment.steps[0]?.faults[0]?.params, { services: ['nginx.service', 'redis.service'], selfHealingServices: true, sequence: 'serial', interval: 20_000 });
  const defaults = validateExperiment(experiment({ params: { services: ['sshd'] } }), REGISTRY, FAKE_VALIDATION);
  t.true(defaults.ok);
  if (defaults.ok) {
    t.deepEqual(defaults.experiment.steps[0]?.faults[0]?.params, { services: ['sshd.service'], selfHealingServices: false, sequence: 'parallel', interval: 30_000 });
    t.is(defaults.experiment.steps[0]?.faults[0]?.durationMs, 30_000, 'Harness duration default 30s: one cycle of 30s');
  }
  t.is(serviceName('getty@tty1'), 'getty@tty1.service');
  t.is(serviceName('dbus.socket'), undefined);
});

test('bad input names the field and the allowed range', (t) => {
  t.deepEqual(problems({ params: {} }), ['spec.steps[0].faults[0].params.services: must be systemd service names, as "nginx,redis.service" or a list (1–64; a name without a suffix gets .service)']);
  t.regex(problems({ params: { services: '' } })[0] ?? '', /params\.services: must be systemd service names.*1–64/);
  t.regex(problems({ params: { services: ' , ' } })[0] ?? '', /params\.services: must be systemd service names/);
  t.deepEqual(problems({ params: { services: 'cron.timer,a b' } }), ['spec.steps[0].faults[0].params.services: "cron.timer", "a b": not a service name (only .service units, as "nginx" or "nginx.service") (got "cron.timer,a b")']);
  t.deepEqual(problems({ params: { services: 'x', sequence: 'random' } }), ['spec.steps[0].faults[0].params.sequence: must be parallel or serial (got "random")']);
  t.deepEqual(problems({ duration: '10s', params: { services: 'x', interval: '30s' } }), ["spec.steps[0].faults[0].params.interval: must not exceed the fault's duration (10s); it is 30s"]);
  t.deepEqual(problems({ duration: '10s', params: { services: 'x', interval: '500ms' } }), ['spec.steps[0].faults[0].params.interval: must be in 1s–24h (got "500ms")']);
  t.deepEqual(problems({ params: { services: 'x', selfHealingServices: 'yes' } }), ['spec.steps[0].faults[0].params.selfHealingServices: must be true or false (got "yes")']);
  t.deepEqual(problems({ params: { services: 'x', restartMode: 'now' } }), ['spec.steps[0].faults[0].params: unknown field "restartMode"']);
  const twice = { apiVersion: 'faultd/v1', kind: 'Experiment', metadata: { name: 'svc' }, spec: { steps: [{ faults: [
    { kind: 'linux-service-restart', name: 'one', params: { services: 'web,db' } },
    { kind: 'linux-service-restart', name: 'two', params: { services: 'db.service' } },
  ] }] } };
  const result = validateExperiment(twice, REGISTRY, FAKE_VALIDATION);
  t.deepEqual(result.ok ? [] : result.problems.map((p) => p.message), ['faults "one" and "two" both change systemd-unit:db.service; put them in separate steps']);
});

test('the plan refuses unknown, inactive and denied units by name and changes nothing', async (t) => {
  const systemd = new FakeSystemd({ 'web.service': {}, 'idle.service': { activeState: 'inactive' }, 'agent.service': {}, 'masked.service': { loadState: 'masked', activeState: 'inactive' } });
  const ctx = context(t, systemd, 'agent.service');
  const error = await t.throwsAsync(linuxServiceRestart.plan('f1', params({ services: 'web,nope,idle,dbus,agent,masked' }), ctx), { instanceOf: FaultdError });
  t.is(error.code, 'FAULTD_ERR_INPUT_INVALID');
  t.is(
    error.message,
    'services: nope.service: no such unit (LoadState=not-found); idle.service is inactive (dead), not active: faultd restarts only units that run (it would not start what was down); ' +
      'dbus.service is never restarted by faultd (the system bus: faultd reaches systemd through it); agent.service is never restarted by faultd (faultd runs in this unit: stopping it would stop faultd and its revert); ' +
      'masked.service: LoadState=masked, not loaded',
  );
  t.deepEqual(systemd.events, [], 'nothing was asked of systemd but states');
  await t.throwsAsync(linuxServiceRestart.plan('f1', params({ services: 'faultd' }), ctx), { message: /faultd\.service is never restarted by faultd \(faultd itself/ });
});

test('an alias of a denied unit is refused by the unit it names (the deny-list reads systemd\'s Id)', async (t) => {
  const systemd = new FakeSystemd({ 'dbus-org.freedesktop.network1.service': { id: 'systemd-networkd.service' }, 'sshd.service': { id: 'agent.service' } });
  const ctx = context(t, systemd, 'agent.service');
  const error = await t.throwsAsync(linuxServiceRestart.plan('f1', params({ services: 'dbus-org.freedesktop.network1,sshd' }), ctx), { instanceOf: FaultdError });
  t.regex(error.message, /^services: dbus-org\.freedesktop\.network1\.service is an alias of systemd-networkd\.service, which is never restarted by faultd \(.*\); sshd\.service is an alias of agent\.service, which is never restarted by faultd \(faultd runs in this unit/);
  t.deepEqual(systemd.events, []);
});

test('an interval that would reach the unit\'s start limit is refused (systemd would refuse that start and leave the unit down); fewer cycles than the burst pass', async (t) => {
  const systemd = new FakeSystemd({ 'web.service': {}, 'tight.service': { startLimitBurst: 3, startLimitIntervalUs: 60_000_000 }, 'free.service': { startLimitIntervalUs: 0 } });
  const tenCycles = context(t, systemd, 'session-3.scope', 10_000);
  const error = await t.throwsAsync(linuxServiceRestart.plan('f1', params({ services: 'web', interval: '1s' }), tenCycles), { instanceOf: FaultdError });
  t.is(error.code, 'FAULTD_ERR_INPUT_INVALID');
  t.is(error.message, "interval: 1s would start web.service 10 times within its StartLimitIntervalSec=10s, reaching StartLimitBurst=5: systemd would refuse that start and leave it down. Give more than 2.5s, or raise the unit's start limit");
  await t.notThrowsAsync(linuxServiceRestart.plan('f1', params({ services: 'web', interval: '3s' }), context(t, systemd, 'session-3.scope', 30_000)));
  await t.notThrowsAsync(linuxServiceRestart.plan('f1', params({ services: 'web', interval: '1s' }), context(t, systemd, 'session-3.scope', 2000)), 'two starts in all');
  await t.throwsAsync(linuxServiceRestart.plan('f1', params({ services: 'tight', interval: '20s' }), context(t, systemd, 'session-3.scope', 60_000)), { message: /StartLimitBurst=3.*more than 30s/ });
  await t.notThrowsAsync(linuxServiceRestart.plan('f1', params({ services: 'free', interval: '1s' }), tenCycles), 'no start limit');
  t.deepEqual(systemd.events, []);
});

test('self-healing needs a Restart= that brings a SIGKILLed unit back', async (t) => {
  const systemd = new FakeSystemd({ 'plain.service': { restart: 'no' }, 'watch.service': { restart: 'on-watchdog' }, 'ok.service': { restart: 'on-failure' } });
  const ctx = context(t, systemd);
  await t.throwsAsync(linuxServiceRestart.plan('f1', params({ services: 'plain,watch,ok', selfHealingServices: true }), ctx), {
    message: 'services: plain.service has Restart=no: systemd would not bring it back after a kill (selfHealingServices needs Restart=always, on-failure, on-abnormal or on-abort); watch.service has Restart=on-watchdog: systemd would not bring it back after a kill (selfHealingServices needs Restart=always, on-failure, on-abnormal or on-abort)',
  });
  const plan = await linuxServiceRestart.plan('f1', params({ services: 'ok', selfHealingServices: true }), ctx);
  t.regex(plan.changes[0] ?? '', /SIGKILL the main process of ok\.service/);
});

test('systemd unreachable: the plan says why (not supported), and doctor support says it too', async (t) => {
  const systemd = new FakeSystemd({ 'web.service': {} });
  systemd.reachable = false;
  const ctx = context(t, systemd);
  await t.throwsAsync(linuxServiceRestart.plan('f1', params({ services: 'web' }), ctx), { instanceOf: FaultdError, message: 'cannot reach systemd over D-Bus: sd_bus_open_system ENOENT: no system bus' });
  t.deepEqual(linuxServiceRestart.support(ctx), { supported: false, notes: ['systemd not reachable over D-Bus: sd_bus_open_system ENOENT: no system bus'] });
  systemd.reachable = true;
  t.true(linuxServiceRestart.support(ctx).supported);
});

test('the intent names each unit and its state before anything stops; cycles stop then start, the revert starts and checks (2 cycles of 1s)', async (t) => {
  const systemd = new FakeSystemd({ 'a.service': {}, 'b.service': { restart: 'always' } });
  const ctx = context(t, systemd, 'faultd.service', 2000);
  const plan = await linuxServiceRestart.plan('f1', params({ services: 'a,b', interval: '1s' }), ctx);
  t.is(plan.target, 'a.service, b.service');
  t.regex(plan.changes[0] ?? '', /^2 cycle\(s\) of 1s, parallel: stop a\.service \(active \(running\), main pid \d+\), b\.service/);
  let recorded: unknown;
  const active = await plan.apply((r) => {
    recorded = r;
    t.deepEqual(systemd.events, [], 'recorded before the first stop');
    return Promise.resolve();
  }, new AbortController().signal);
  t.like(recorded, { faultId: 'f1', sequence: 'parallel', selfHealing: false, units: [{ unit: 'a.service', activeState: 'active', subState: 'running', restart: 'no' }, { unit: 'b.service', activeState: 'active', restart: 'always' }] });
  t.is(systemd.units.get('a.service')?.activeState, 'inactive', 'stopped when apply returns');
  await new Promise((r) => setTimeout(r, 1300));
  t.is(systemd.count('a.service', 'start'), 1, 'started at the end of cycle 1');
  t.is(systemd.count('a.service', 'stop'), 2, 'and stopped again for cycle 2');
  t.regex(active.measure(), /^cycle 2\/2, stopped 4×$/);
  const outcome = await linuxServiceRestart.revert(plan.revert, ctx);
  t.is(outcome.outcome, 'reverted');
  t.regex(outcome.detail, /^started a\.service \(active after \d+ ms\); started b\.service \(active after \d+ ms\)$/);
  t.is(systemd.units.get('a.service')?.activeState, 'active');
  t.is(systemd.units.get('b.service')?.activeState, 'active');
  const again = await linuxServiceRestart.revert(plan.revert, ctx);
  t.is(again.outcome, 'already-absent', 'idempotent');
  t.regex(again.detail, /a\.service already active/);
});

/** Runs a RestartLoop of `cycles` × `intervalMs` on `systemd` and returns its events. */
async function runLoop(systemd: FakeSystemd, units: string[], o: { sequence: 'parallel' | 'serial'; selfHealing: boolean; cycles: number; intervalMs: number }) {
  const loop = new RestartLoop({ units: units.map((unit) => ({ unit, timeoutStartUs: 90_000_000 })), dependents: [], native: systemd.surface, logger: SILENT, ...o });
  await loop.begin(new AbortController().signal);
  await new Promise((r) => setTimeout(r, o.cycles * o.intervalMs - 20));
  await loop.stop();
  return loop;
}

test('serial: each unit is stopped only after the one before it is down, in the order given; parallel: all stops are asked at once', async (t) => {
  const serial = new FakeSystemd({ 'a.service': {}, 'b.service': {}, 'c.service': {} }, 20);
  await runLoop(serial, ['c.service', 'a.service', 'b.service'], { sequence: 'serial', selfHealing: false, cycles: 1, intervalMs: 200 });
  t.deepEqual(serial.events.map((e) => `${e.what} ${e.unit}`), ['stop c.service', 'inactive c.service', 'stop a.service', 'inactive a.service', 'stop b.service', 'inactive b.service']);
  const parallel = new FakeSystemd({ 'a.service': {}, 'b.service': {}, 'c.service': {} }, 20);
  await runLoop(parallel, ['c.service', 'a.service', 'b.service'], { sequence: 'parallel', selfHealing: false, cycles: 1, intervalMs: 200 });
  t.deepEqual(parallel.events.slice(0, 3).map((e) => e.what), ['stop', 'stop', 'stop']);
  const spread = Math.max(...parallel.events.slice(0, 3).map((e) => e.at)) - Math.min(...parallel.events.slice(0, 3).map((e) => e.at));
  t.true(spread < 15, `all three stops within ${spread.toFixed(1)} ms`);
});

test('cycles: 4 × 100 ms stops each unit 4 times and starts it 3 times (the 4th start is the revert)', async (t) => {
  const systemd = new FakeSystemd({ 'a.service': {}, 'b.service': {} }, 10);
  const loop = await runLoop(systemd, ['a.service', 'b.service'], { sequence: 'parallel', selfHealing: false, cycles: 4, intervalMs: 100 });
  for (const unit of ['a.service', 'b.service']) {
    t.is(systemd.count(unit, 'stop'), 4, unit);
    t.is(systemd.count(unit, 'start'), 3, unit);
  }
  const stops = systemd.events.filter((e) => e.unit === 'a.service' && e.what === 'stop').map((e) => e.at);
  // Cycles are scheduled from the first one's start, so stop k comes k intervals after the first
  // at the earliest (a late cycle, on a loaded machine, makes the next gap shorter, not the schedule later).
  const offsets = stops.map((at) => at - (stops[0] ?? 0));
  t.true(offsets.every((o, k) => o >= k * 100 - 5), `stop k at k × 100 ms after the first, or later: ${offsets.map((o) => o.toFixed(0)).join(', ')} ms`);
  t.is(loop.measure(), 'cycle 4/4, stopped 8×');
});

test('self-healing: each cycle SIGKILLs the main process and waits for Restart= to bring the unit back; faultd never starts it', async (t) => {
  const systemd = new FakeSystemd({ 'a.service': { restart: 'always' } }, 10);
  await runLoop(systemd, ['a.service'], { sequence: 'serial', selfHealing: true, cycles: 3, intervalMs: 100 });
  t.is(systemd.count('a.service', 'kill'), 3);
  t.is(systemd.count('a.service', 'start'), 0);
  t.is(systemd.units.get('a.service')?.nRestarts, 3);
  t.is(systemd.units.get('a.service')?.activeState, 'active');
});

test('a unit that does not come back: the cycle ends the fault with why; the revert fails naming the command that fixes it', async (t) => {
  const systemd = new FakeSystemd({ 'a.service': {}, 'b.service': {} }, 10);
  const ctx = context(t, systemd, 'faultd.service', 2000);
  const plan = await linuxServiceRestart.plan('f2', params({ services: 'a,b', interval: '1s', sequence: 'serial' }), ctx);
  const active = await plan.apply(() => Promise.resolve(), new AbortController().signal);
  systemd.failToStart('a.service');
  const why = await active.ended;
  t.regex(why, /^a\.service did not start again in cycle 2: failed \(failed\) after \d+ ms$/);
  t.is(systemd.count('b.service', 'start'), 0, 'serial: the cycle stopped at the first unit that failed');
  const error = await t.throwsAsync(linuxServiceRestart.revert(plan.revert, ctx), { instanceOf: RevertError });
  t.regex(error.message, /^a\.service not active: failed \(failed\) after \d+ ms; started b\.service \(active after \d+ ms\)$/);
  t.is(error.leftover, 'a.service failed (failed) (active before the fault)');
  t.is(error.manualFix, 'systemctl start a.service  # then: systemctl status a.service');
  t.is(systemd.units.get('b.service')?.activeState, 'active', 'the other unit is still brought back');
  systemd.failToStart('a.service', false);
  t.is((await linuxServiceRestart.revert(plan.revert, ctx)).outcome, 'reverted', 'once fixed, the same record reverts');
});

test('a remnant revert (no cycles running: faultd was killed) starts what the intent says was active', async (t) => {
  const systemd = new FakeSystemd({ 'a.service': { activeState: 'inactive' }, 'b.service': {} });
  const ctx = context(t, systemd);
  const record = {
    faultId: 'gone',
    sequence: 'serial',
    selfHealing: false,
    units: [
      { unit: 'a.service', activeState: 'active', subState: 'running', mainPid: 7, nRestarts: 0, restart: 'no', timeoutStartUs: 90_000_000 },
      { unit: 'b.service', activeState: 'active', subState: 'running', mainPid: 8, nRestarts: 0, restart: 'no', timeoutStartUs: null },
    ],
  };
  const outcome = await linuxServiceRestart.revert(record, ctx);
  t.is(outcome.outcome, 'reverted');
  t.regex(outcome.detail, /^started a\.service \(active after \d+ ms\); b\.service already active \(main pid \d+, 0 automatic restarts\)$/);
  t.is(systemd.count('b.service', 'start'), 0, 'an active unit is left alone');
});

test("faultd's own services come from /proc/self/cgroup; the deny-list holds the bus, the journal and the network", (t) => {
  const proc = mkdtempSync(path.join(tmpdir(), 'faultd-svc-'));
  t.teardown(() => rmSync(proc, { recursive: true, force: true }));
  mkdirSync(path.join(proc, 'self'));
  writeFileSync(path.join(proc, 'self/cgroup'), '12:pids:/system.slice/faultd-agent.service\n0::/system.slice/faultd-agent.service/worker\n');
  t.deepEqual(ownServices(proc), ['faultd-agent.service']);
  t.truthy(deniedReason('faultd-agent.service', ownServices(proc)));
  for (const unit of ['dbus.service', 'systemd-journald.service', 'systemd-networkd.service', 'NetworkManager.service']) t.truthy(deniedReason(unit, []), unit);
  t.is(deniedReason('nginx.service', []), undefined);
  t.deepEqual(ownServices('/nonexistent'), []);
});

test('listed by faultd faults with its params', (t) => {
  t.true(REGISTRY.has('linux-service-restart'));
  t.deepEqual(linuxServiceRestart.paramDocs(FAKE_VALIDATION).map((d) => `${d.name}=${d.default ?? '(required)'}`), ['services=(required)', 'selfHealingServices=false', 'sequence=parallel', 'interval=30s']);
});

test('while the host shuts down the revert starts nothing (systemd would refuse) and says the units come back at boot if enabled', async (t) => {
  const systemd = new FakeSystemd({ 'a.service': { activeState: 'inactive' } });
  systemd.systemState = 'stopping';
  const record = { faultId: 'x', sequence: 'parallel', selfHealing: false, units: [{ unit: 'a.service', activeState: 'active', subState: 'running', mainPid: 7, nRestarts: 0, restart: 'no', timeoutStartUs: null }] };
  const outcome = await linuxServiceRestart.revert(record, context(t, systemd));
  t.deepEqual(outcome, { outcome: 'reverted', detail: 'the host is shutting down (SystemState=stopping): not started now; a.service come(s) back at boot if enabled' });
  t.deepEqual(systemd.events, []);
});

test('an abort while the first units stop: apply gives up with the rest untouched, and the revert starts what was stopped', async (t) => {
  const systemd = new FakeSystemd({ 'a.service': {}, 'b.service': {}, 'c.service': {} }, 60);
  const ctx = context(t, systemd, 'faultd.service', 30_000);
  const plan = await linuxServiceRestart.plan('f3', params({ services: 'a,b,c', sequence: 'serial', interval: '10s' }), ctx);
  const abort = new AbortController();
  setTimeout(() => abort.abort(), 90);
  await t.throwsAsync(plan.apply(() => Promise.resolve(), abort.signal), { instanceOf: FaultdError, message: 'aborted while stopping the units' });
  t.is(systemd.count('c.service', 'stop'), 0, 'c was never stopped');
  const started = performance.now();
  const outcome = await linuxServiceRestart.revert(plan.revert, ctx);
  t.true(performance.now() - started < 1000, 'reverted within 1 s of the abort');
  t.regex(outcome.detail, /started a\.service .*c\.service already active/);
  for (const unit of ['a.service', 'b.service', 'c.service']) t.is(systemd.units.get(unit)?.activeState, 'active', unit);
});

test('a started unit must stay active: one that fails right after its start (a broken ExecStart of a Type=simple unit) fails the revert', async (t) => {
  const systemd = new FakeSystemd({ 'a.service': { activeState: 'inactive', crashesAfterStart: true }, 'b.service': { activeState: 'inactive' } }, 20);
  const record = {
    faultId: 'y',
    sequence: 'parallel',
    selfHealing: false,
    units: ['a.service', 'b.service'].map((unit) => ({ unit, activeState: 'active', subState: 'running', mainPid: 7, nRestarts: 0, restart: 'no', timeoutStartUs: null })),
  };
  const error = await t.throwsAsync(linuxServiceRestart.revert(record, context(t, systemd)), { instanceOf: RevertError });
  t.regex(error.message, /^a\.service not active: active after \d+ ms, then failed \(failed\) within 250 ms \(main pid \d+ → 0\); started b\.service \(active after \d+ ms\)$/);
  t.is(error.manualFix, 'systemctl start a.service  # then: systemctl status a.service');
});


test('dependents: the units a stop propagates to are found transitively, through inactive ones too (running ones kept), recorded once, and started after all the units, nearest first, each cycle and at revert', async (t) => {
  const systemd = new FakeSystemd({
    'db.service': { stopPropagatesTo: ['api.service', 'idle-report.service'] },
    'cache.service': { stopPropagatesTo: ['api.service'] },
    'api.service': { stopPropagatesTo: ['web.service'] },
    'web.service': { stopPropagatesTo: ['db.service'] },
    // Inactive (Requires= does not propagate a crash), but systemd recurses through it all the same.
    'idle-report.service': { activeState: 'inactive', stopPropagatesTo: ['mailer.service'] },
    'mailer.service': {},
  });
  const ctx = context(t, systemd, 'faultd.service', 2000);
  const plan = await linuxServiceRestart.plan('dep-1', params({ services: 'db,cache', interval: '1s', sequence: 'serial' }), ctx);
  t.is(plan.changes[1], 'systemd propagates each stop (Requires=, Requisite=, BindsTo=, PartOf=): api.service, web.service (through api.service), mailer.service (through idle-report.service) go(es) down too; faultd starts them again, nearest first, after the units in each cycle and at revert');
  t.deepEqual(systemd.events, [], 'the plan only read states');
  t.deepEqual(plan.claims, ['db.service', 'cache.service', 'api.service', 'web.service', 'mailer.service'].map((u) => `systemd-unit:${u}`), 'the step check sees the dependents too');
  let recorded: { dependents: { unit: string; via: string; depth: number; activeState: string }[] } | undefined;
  await plan.apply((r) => {
    recorded = r as typeof recorded;
    return Promise.resolve();
  }, new AbortController().signal);
  t.deepEqual(recorded?.dependents.map((d) => [d.unit, d.via, d.depth]), [['api.service', 'db.service', 1], ['web.service', 'api.service', 2], ['mailer.service', 'idle-report.service', 2]], 'api once (db and cache share it), nearest first');
  t.is(systemd.units.get('mailer.service')?.activeState, 'inactive', 'the stop of db took mailer down through the inactive idle-report');
  t.true(await waitUntil(() => systemd.count('mailer.service', 'start') === 1, 5000), `cycle 2 started the dependents: ${JSON.stringify(systemd.events)}`);
  t.true(await waitUntil(() => systemd.count('mailer.service', 'inactive') === 2, 5000), 'cycle 2 stopped db again, and mailer with it');
  const starts = systemd.events.filter((e) => e.what === 'start').map((e) => e.unit);
  t.deepEqual(starts, ['db.service', 'cache.service', 'api.service', 'web.service', 'mailer.service'], 'the units (serial, as given), then the dependents, nearest first');
  const outcome = await linuxServiceRestart.revert(plan.revert, ctx);
  t.is(outcome.outcome, 'reverted');
  // The revert may come between cycle 2's stops of db and of cache (serial): cache is then still up.
  t.regex(outcome.detail, /^started db\.service \(active after \d+ ms\); (started cache\.service|cache\.service already active) .*; started api\.service .*; started web\.service .*; started mailer\.service \(active after \d+ ms\)$/);
  for (const unit of ['db.service', 'cache.service', 'api.service', 'web.service', 'mailer.service']) t.is(systemd.units.get(unit)?.activeState, 'active', unit);
  t.is(systemd.units.get('idle-report.service')?.activeState, 'inactive', 'what was down stays down');
});

test('dependents: one on the deny-list, a target, or one with RefuseManualStart= refuses the plan naming the chain; a service with RefuseManualStop= is refused; a dependent\'s start limit names interval', async (t) => {
  const systemd = new FakeSystemd({
    'bus-helper.service': { stopPropagatesTo: ['glue.service'] },
    'glue.service': { stopPropagatesTo: ['dbus.service'] },
    'dbus.service': {},
    'base.service': { stopPropagatesTo: ['pinned.service', 'multi-user.target'] },
    'pinned.service': { refuseManualStart: true },
    'multi-user.target': {},
    'sticky.service': { refuseManualStop: true },
    'free.service': { startLimitIntervalUs: 0, stopPropagatesTo: ['limited.service'] },
    'limited.service': {},
  });
  const ctx = context(t, systemd, 'session-3.scope', 10_000);
  const error = await t.throwsAsync(linuxServiceRestart.plan('dep-2', params({ services: 'bus-helper,base,sticky' }), ctx), { instanceOf: FaultdError });
  t.is(error.code, 'FAULTD_ERR_INPUT_INVALID');
  t.is(
    error.message,
    'services: stopping bus-helper.service also stops dbus.service (through glue.service), which Requires=, BindsTo= or is PartOf= it, and dbus.service is never stopped by faultd (the system bus: faultd reaches systemd through it); ' +
      'stopping base.service also stops pinned.service, which Requires=, BindsTo= or is PartOf= it, and pinned.service has RefuseManualStart=yes: faultd could not start it again; ' +
      'stopping base.service also stops multi-user.target, which Requires=, BindsTo= or is PartOf= it: faultd does not start targets again (a start would also start every unit the target wants, those stopped on purpose included); ' +
      'sticky.service has RefuseManualStop=yes: systemd refuses to stop it',
  );
  const limited = await t.throwsAsync(linuxServiceRestart.plan('dep-2b', params({ services: 'free', interval: '1s' }), ctx), { instanceOf: FaultdError });
  t.regex(limited.message, /^interval: 1s would start limited\.service 10 times within its StartLimitIntervalSec=10s, reaching StartLimitBurst=5: .* \(limited\.service is taken down with free\.service\)$/);
  t.deepEqual(systemd.events, []);
});

test('dependents: more than 64 running ones refuse the plan; a record written before dependents were recorded still reverts', async (t) => {
  const many = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`w${i}.service`, {}]));
  const systemd = new FakeSystemd({ 'hub.service': { stopPropagatesTo: Object.keys(many) }, ...many });
  const ctx = context(t, systemd);
  await t.throwsAsync(linuxServiceRestart.plan('dep-3', params({ services: 'hub' }), ctx), { message: 'services: stopping hub.service would also stop more than 64 running units (Requires=, BindsTo=, PartOf= on it)' });
  const old = { faultId: 'f0', sequence: 'serial', selfHealing: false, units: [{ unit: 'w1.service', activeState: 'active', subState: 'running', mainPid: 1, nRestarts: 0, restart: 'no', timeoutStartUs: 90_000_000 }] };
  const outcome = await linuxServiceRestart.revert(old, ctx);
  t.is(outcome.outcome, 'already-absent', 'parsed without dependents: only the unit is checked');
  t.is(outcome.detail, `w1.service already active (main pid ${systemd.units.get('w1.service')?.mainPid}, 0 automatic restarts)`);
});

test('self-healing: a BindsTo= unit that systemd stops when the main process dies is started again once the unit is back', async (t) => {
  const systemd = new FakeSystemd({ 'svc.service': { restart: 'always', stopPropagatesTo: ['bound.service'], boundBy: ['bound.service'] }, 'bound.service': {} });
  const ctx = context(t, systemd, 'faultd.service', 1000);
  const plan = await linuxServiceRestart.plan('dep-4', params({ services: 'svc', selfHealingServices: true, interval: '1s' }), ctx);
  t.regex(plan.changes[1] ?? '', /^a unit that BindsTo= a killed one is stopped with it: bound\.service may go down too/);
  await plan.apply(() => Promise.resolve(), new AbortController().signal);
  t.is(systemd.count('svc.service', 'kill'), 1);
  t.is(systemd.count('bound.service', 'inactive'), 1, 'the kill took bound down (BindsTo=)');
  t.is(systemd.units.get('bound.service')?.activeState, 'active', 'started again once svc was back');
  t.is(systemd.count('bound.service', 'start'), 1);
  t.is((await linuxServiceRestart.revert(plan.revert, ctx)).outcome, 'already-absent');
});

test('dependents: a unit started during the fault that depends on a restarted one is followed before the next stop: recorded, started again each cycle and at revert', async (t) => {
  const systemd = new FakeSystemd({ 'db.service': {} });
  const ctx = context(t, systemd, 'faultd.service', 3000);
  const plan = await linuxServiceRestart.plan('late-1', params({ services: 'db', interval: '1s' }), ctx);
  const records: { dependents: { unit: string; via: string; depth: number }[] }[] = [];
  await plan.apply((r) => {
    records.push(r as (typeof records)[number]);
    return Promise.resolve();
  }, new AbortController().signal);
  t.teardown(() => linuxServiceRestart.revert(plan.revert, ctx).then(() => undefined));
  t.deepEqual(records.at(-1)?.dependents, [], 'none at plan');
  // Started while db is down in cycle 1: a unit that Requires= db.
  systemd.add('late.service', {});
  systemd.facts.set('db.service', { ...FAKE_PLAN_FACTS, timeoutStopUs: 90_000_000, stopPropagatesTo: ['late.service'] });
  t.true(await waitUntil(() => systemd.count('late.service', 'inactive') === 1, 5000), `cycle 2 stopped db and late with it: ${JSON.stringify(systemd.events)}`);
  t.deepEqual(records.at(-1)?.dependents.map((d) => [d.unit, d.via, d.depth]), [['late.service', 'db.service', 1]], 'recorded before the stop that took it down');
  t.true(await waitUntil(() => systemd.count('late.service', 'start') === 1, 5000), 'cycle 3 started it again after db');
  t.true(await waitUntil(() => systemd.count('late.service', 'inactive') === 2, 5000), 'and took it down again with db');
  const outcome = await linuxServiceRestart.revert(records.at(-1) as typeof plan.revert, ctx);
  t.is(outcome.outcome, 'reverted');
  t.regex(outcome.detail, /started db\.service .*; started late\.service/);
  t.is(systemd.units.get('late.service')?.activeState, 'active');
  t.is(systemd.units.get('db.service')?.activeState, 'active');
});

test('dependents: a target found before a later cycle ends the fault with why, the units left up', async (t) => {
  const systemd = new FakeSystemd({ 'db.service': {}, 'late.target': {} });
  const ctx = context(t, systemd, 'faultd.service', 3000);
  const plan = await linuxServiceRestart.plan('late-2', params({ services: 'db', interval: '1s' }), ctx);
  const active = await plan.apply(() => Promise.resolve(), new AbortController().signal);
  t.teardown(() => linuxServiceRestart.revert(plan.revert, ctx).then(() => undefined));
  systemd.facts.set('db.service', { ...FAKE_PLAN_FACTS, timeoutStopUs: 90_000_000, stopPropagatesTo: ['late.target'] });
  const why = await active.ended;
  t.regex(why, /^not stopped again: stopping db\.service also stops late\.target, .*faultd does not start targets again/);
  t.is(systemd.units.get('db.service')?.activeState, 'active', 'cycle 2 started db and stopped nothing');
  t.is(systemd.units.get('late.target')?.activeState, 'active');
  t.is(systemd.count('db.service', 'stop'), 1, 'only cycle 1 stopped it');
});
