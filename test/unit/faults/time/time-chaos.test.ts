// SPDX-License-Identifier: Apache-2.0
// linux-time-chaos without root: a fake clock at the addon boundary (test/helpers/fake-clock.ts)
// and a made-up /proc with an NTP daemon whose state the fake kill writes. The plan and its
// revert record, the order of apply (ledger first, then SIGSTOP, then the step), the revert
// and its idempotence, a revert from the intent alone, a failed step, and the params.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import test, { type ExecutionContext } from 'ava';

import { linuxTimeChaos } from '../../../../src/faults/linux-time-chaos.js';
import { serviceOfProcess } from '../../../../src/faults/time/ntp-daemons.js';
import { RevertError, type FaultContext } from '../../../../src/faults/types.js';
import { FAKE_CONTEXT, FAKE_NATIVE } from '../../../helpers/fake.js';
import { FAKE_PLAN_FACTS } from '../../../helpers/fake-systemd.js';
import { FakeClock } from '../../../helpers/fake-clock.js';
import { FAKE_VALIDATION } from '../../../helpers/host.js';

const MS = 1_000_000n;
const DAEMON = { pid: 4242, startTime: 777 };

function statLine(pid: number, comm: string, state: string, startTime: number): string {
  return `${pid} (${comm}) ${state} 1 ${Array(17).fill('0').join(' ')} ${startTime} 0 0\n`;
}

/** A /proc with one chronyd; `kills` records each signal the fake killProcess sends. */
function setUp(t: ExecutionContext, options: { daemon?: boolean } = {}): { ctx: FaultContext; clock: FakeClock; kills: string[]; stateOfDaemon: () => string } {
  const procRoot = mkdtempSync(path.join(tmpdir(), 'faultd-time-proc-'));
  t.teardown(() => rmSync(procRoot, { recursive: true, force: true }));
  const dir = path.join(procRoot, String(DAEMON.pid));
  const write = (state: string) => writeFileSync(path.join(dir, 'stat'), statLine(DAEMON.pid, 'chronyd', state, DAEMON.startTime));
  if (options.daemon ?? true) {
    mkdirSync(dir);
    write('S');
    writeFileSync(path.join(dir, 'cmdline'), '/usr/sbin/chronyd\0-F\0-1\0');
  }
  const clock = new FakeClock();
  const kills: string[] = [];
  const native = {
    ...FAKE_NATIVE,
    clockRead: clock.clockRead,
    clockStep: clock.clockStep,
    ntpState: clock.ntpState,
    killProcess: (pid: number, startTime: number, signal: number) => {
      kills.push(`${pid}:${startTime}:${signal}`);
      if (pid !== DAEMON.pid || startTime !== DAEMON.startTime) return 'absent' as const;
      write(signal === 19 ? 'T' : 'S');
      return 'signalled' as const;
    },
  };
  const ctx: FaultContext = { ...FAKE_CONTEXT, native, procRoot };
  const stateOfDaemon = () => readFileSync(path.join(dir, 'stat'), 'utf8').split(' ')[2] ?? '?';
  return { ctx, clock, kills, stateOfDaemon };
}

const params = (raw: Record<string, unknown>) => {
  const result = linuxTimeChaos.validateParams(raw, FAKE_VALIDATION);
  if (!result.ok) throw new Error(JSON.stringify(result.issues));
  return result.params;
};

/** Applies `planned`, keeping the last record it wrote to the ledger (the revert record). */
async function applyRecording(planned: Awaited<ReturnType<typeof linuxTimeChaos.plan>>) {
  let recorded: Record<string, unknown> = planned.revert;
  const active = await planned.apply(async (revert) => {
    recorded = revert;
    await Promise.resolve();
  }, new AbortController().signal);
  return { active, recorded };
}

test('the plan reads the anchor and NTP state, names the daemon it will stop, and changes nothing', async (t) => {
  const { ctx, clock, kills } = setUp(t);
  const planned = await linuxTimeChaos.plan('f1', params({ offset: '-1h30m' }), ctx);
  t.is(planned.target, 'CLOCK_REALTIME');
  t.regex(planned.changes.join('\n'), /SIGSTOP NTP daemon 4242 \(\/usr\/sbin\/chronyd -F -1\)/);
  t.regex(planned.changes.join('\n'), /step CLOCK_REALTIME by -1h30m/);
  t.like(planned.revert, { bootId: FAKE_VALIDATION.host.bootId, offsetNs: String(-5_400_000n * MS), disableNTP: true, kernelNtp: { status: 0x2001, clockState: 0 } });
  t.deepEqual(clock.steps, []);
  t.deepEqual(kills, []);
});

test('apply records the daemon before it stops it, then a fresh anchor before the step; revert undoes both, a second revert nothing', async (t) => {
  const { ctx, clock, kills, stateOfDaemon } = setUp(t);
  const planned = await linuxTimeChaos.plan('f1', params({ offset: '+10m' }), ctx);
  clock.advance(40);
  let recorded: Record<string, unknown> | undefined;
  const records: { kills: number; steps: number; anchor: unknown }[] = [];
  await planned.apply(async (revert) => {
    recorded = revert;
    records.push({ kills: kills.length, steps: clock.steps.length, anchor: revert['anchor'] });
    await Promise.resolve();
  }, new AbortController().signal);
  t.deepEqual(records.map((r) => [r.kills, r.steps]), [[0, 0], [1, 0]], 'the daemon recorded before its SIGSTOP; the fresh anchor after it and before the step');
  t.deepEqual(records[0]?.anchor, planned.revert['anchor'], 'the first record carries the plan\'s anchor');
  t.notDeepEqual(records[1]?.anchor, planned.revert['anchor'], 'the second a fresh one');
  t.like(recorded, { stoppedDaemons: [{ pid: DAEMON.pid, startTime: DAEMON.startTime, comm: 'chronyd' }] });
  t.is(stateOfDaemon(), 'T');
  t.deepEqual(clock.steps, [600_000n * MS]);
  clock.advance(2000);
  const outcome = await linuxTimeChaos.revert(recorded ?? {}, ctx);
  t.is(outcome.outcome, 'reverted');
  t.regex(outcome.detail, /clock stepped by -600000\.000 ms to anchor \+ elapsed time, residual 0\.000 ms; continued NTP daemon 4242/);
  t.is(stateOfDaemon(), 'S');
  const anchor = (recorded as { anchor: { realtimeNs: string; boottimeNs: string } }).anchor;
  t.is(clock.realtimeNs - BigInt(anchor.realtimeNs), clock.boottimeNs - BigInt(anchor.boottimeNs), 'realtime = anchor + elapsed');
  const killsBefore = kills.length;
  const again = await linuxTimeChaos.revert(recorded ?? {}, ctx);
  t.is(again.outcome, 'already-absent');
  t.regex(again.detail, /nothing stepped/);
  t.is(kills.length, killsBefore, 'no signal the second time');
  t.is(clock.steps.length, 2);
});

test('disableNTP false leaves the daemon running; with no daemon the plan says there is none', async (t) => {
  const { ctx, kills, stateOfDaemon } = setUp(t);
  const planned = await linuxTimeChaos.plan('f1', params({ offset: '-5m', disableNTP: 'false' }), ctx);
  t.regex(planned.changes.join('\n'), /disableNTP false: NTP daemons left running \(4242/);
  await planned.apply(() => Promise.resolve(), new AbortController().signal);
  t.deepEqual(kills, []);
  t.is(stateOfDaemon(), 'S');
  const none = setUp(t, { daemon: false });
  const plannedNone = await linuxTimeChaos.plan('f1', params({ offset: '-5m' }), none.ctx);
  t.regex(plannedNone.changes.join('\n'), /no NTP daemon runs now \(chronyd, ntpd, systemd-timesyncd, openntpd\): nothing to stop/);
});

test('a revert from the intent alone (crash before the step) finds the clock in place and changes nothing', async (t) => {
  const { ctx, clock } = setUp(t);
  const planned = await linuxTimeChaos.plan('f1', params({ offset: '+24h' }), ctx);
  clock.advance(5000);
  const outcome = await linuxTimeChaos.revert(planned.revert, ctx);
  t.is(outcome.outcome, 'already-absent');
  t.deepEqual(clock.steps, []);
});

test('a step that fails at revert is a RevertError naming the error and the fix', async (t) => {
  const { ctx, clock } = setUp(t, { daemon: false });
  const planned = await linuxTimeChaos.plan('f1', params({ offset: '-24h' }), ctx);
  const { recorded } = await applyRecording(planned);
  clock.stepFails = Object.assign(new Error('clock_adjtime EPERM'), { code: 'EPERM' });
  const error = await t.throwsAsync(linuxTimeChaos.revert(recorded, ctx), { instanceOf: RevertError });
  t.regex(error?.message ?? '', /cannot step the clock back: clock_adjtime EPERM/);
  t.regex((error).leftover, /CLOCK_REALTIME is -86400000\.000 ms from anchor \+ elapsed time/);
  t.regex((error).manualFix, /faultd revert --remnants/);
});

test('params: offset required and bounded, disableNTP a boolean; each error names the field and range', (t) => {
  const issues = (raw: Record<string, unknown>) => {
    const result = linuxTimeChaos.validateParams(raw, FAKE_VALIDATION);
    return result.ok ? [] : result.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  };
  t.regex(issues({}).join('\n'), /offset: is required: a signed offset like "\+24h"/);
  t.regex(issues({ offset: 'abc' }).join('\n'), /offset: must be a signed offset .* in 1s–168h \(7 days\) either way/);
  t.regex(issues({ offset: '+169h' }).join('\n'), /offset: must be in 1s–168h \(7 days\) either way/);
  t.regex(issues({ offset: '0s' }).join('\n'), /offset: must be in 1s–168h/);
  t.regex(issues({ offset: '+1h', disableNTP: 'maybe' }).join('\n'), /disableNTP: must be true or false/);
  t.deepEqual(issues({ offset: '-168h', disableNTP: true }), []);
  t.deepEqual(linuxTimeChaos.exclusiveTargets(params({ offset: '+1h' })), ['clock:realtime']);
  t.deepEqual(linuxTimeChaos.paramAliases, { OFFSET: 'offset', DISABLE_NTP: 'disableNTP' }, 'Harness upper-case spellings');
});

test('boot id changed but the same kernel runs (a container booted again): the clock is restored from the anchor; after a real reboot it is not', async (t) => {
  const { ctx, clock } = setUp(t, { daemon: false });
  const planned = await linuxTimeChaos.plan('f1', params({ offset: '+1h' }), ctx);
  const { recorded } = await applyRecording(planned);
  clock.advance(3000);
  const containerBoot: FaultContext = { ...ctx, host: { ...ctx.host, bootId: 'bbbbbbbb-0000-0000-0000-000000000000' } };
  const outcome = await linuxTimeChaos.revert(recorded, containerBoot);
  t.is(outcome.outcome, 'reverted');
  t.regex(outcome.detail, /boot id changed .*the same kernel runs .*clock stepped by -3600000\.000 ms/);
  const anchor = (recorded as { anchor: { realtimeNs: string; boottimeNs: string } }).anchor;
  t.is(clock.realtimeNs - BigInt(anchor.realtimeNs), clock.boottimeNs - BigInt(anchor.boottimeNs), 'realtime = anchor + elapsed');
  // A real reboot: BOOTTIME starts again near 0, the clock comes from elsewhere (here still skewed): no step from the old anchor.
  const steps = clock.steps.length;
  clock.clockStep(3_600_000n * MS);
  clock.boottimeNs = 2_000_000_000n;
  const real = await linuxTimeChaos.revert(recorded, containerBoot);
  t.regex(real.detail, /the monotonic anchor is gone with that boot/, 'the other-boot rules decide (here: no RTC)');
  t.is(clock.steps.length, steps + 1, 'no step from the old anchor: only the test\'s own');
});

test('a step back that fails still continues the NTP daemons the fault stopped, so they can set the clock right', async (t) => {
  const { ctx, clock, stateOfDaemon } = setUp(t);
  const planned = await linuxTimeChaos.plan('f1', params({ offset: '+1h' }), ctx);
  const { recorded } = await applyRecording(planned);
  t.is(stateOfDaemon(), 'T');
  clock.stepFails = Object.assign(new Error('clock_adjtime EPERM'), { code: 'EPERM' });
  await t.throwsAsync(linuxTimeChaos.revert(recorded, ctx), { instanceOf: RevertError });
  t.is(stateOfDaemon(), 'S', 'continued');
});

test('a step made by someone else during the fault (an NTP daemon started again) ends the fault early, saying so; the revert stops the check and leaves the clock as the daemon set it', async (t) => {
  const { ctx, clock } = setUp(t);
  const planned = await linuxTimeChaos.plan('f-reset', params({ offset: '+1h' }), ctx);
  const { active, recorded } = await applyRecording(planned);
  let ended: string | undefined;
  void active.ended.then((why) => (ended = why));
  clock.advance(1500);
  await new Promise((resolve) => setTimeout(resolve, 1300));
  t.is(ended, undefined, 'slewing and time passing are not a reset');
  clock.clockStep(-3_590_000n * MS); // a daemon steps it to what it takes for true time
  await new Promise((resolve) => setTimeout(resolve, 1300));
  t.regex(ended ?? '', /the clock was stepped by -3590000\.000 ms during the fault .*the offset no longer holds/);
  const steps = clock.steps.length;
  const outcome = await linuxTimeChaos.revert(recorded, ctx);
  t.is(outcome.outcome, 'reverted');
  t.regex(outcome.detail, /the clock no longer carries the fault's step of 3600000\.000 ms: it reads 10000\.000 ms from anchor \+ elapsed time, so someone else set it during the fault .*left as they set it; continued NTP daemon 4242/);
  t.is(clock.steps.length, steps, 'the revert does not undo what the daemon set');
});

test('the revert stops the running check, so nothing is left polling the clock', async (t) => {
  const { ctx } = setUp(t);
  const planned = await linuxTimeChaos.plan('f-stop', params({ offset: '+10m' }), ctx);
  const { active, recorded } = await applyRecording(planned);
  let ended = false;
  void active.ended.then(() => (ended = true));
  t.is(recorded['faultId'], 'f-stop');
  await linuxTimeChaos.revert(recorded, ctx);
  await new Promise((resolve) => setTimeout(resolve, 1300));
  t.false(ended, 'the restore is not taken for a reset: the check was stopped first');
});

test('disableNTP: a duration that reaches the watchdog of the daemon\'s unit is refused naming duration (systemd would kill the stopped daemon and start it again); shorter passes; no unit or no systemd, no check', async (t) => {
  const { ctx, clock, kills } = setUp(t);
  writeFileSync(path.join(ctx.procRoot, String(DAEMON.pid), 'cgroup'), '0::/system.slice/chrony.service\n');
  const asked: string[] = [];
  const withWatchdog = (watchdogUs: number, reachable = true): FaultContext => ({
    ...ctx,
    native: {
      ...ctx.native,
      systemdUnitPlanFacts: (unit: string) => {
        asked.push(unit);
        if (!reachable) return Promise.reject(Object.assign(new Error('sd_bus_open_system ENOENT'), { code: 'ENOENT' }));
        return Promise.resolve({ ...FAKE_PLAN_FACTS, watchdogUs });
      },
    },
  });
  const threeMinutes = withWatchdog(180_000_000);
  await t.throwsAsync(linuxTimeChaos.plan('f1', params({ offset: '+1h' }), { ...threeMinutes, durationMs: 41_000 }), {
    message: 'duration: must be at most 40s while chronyd (pid 4242) of chrony.service is stopped (disableNTP): the unit has WatchdogSec=3m, the daemon pings its watchdog at ½–¾ of that, so a quarter of it (less 5s for apply and revert) may be all that is left when it stops; then systemd kills it and starts it again, free to set the clock back mid-fault (it is 41s). Shorten the fault, or stop chrony.service yourself and set disableNTP false',
  });
  t.deepEqual(asked, ['chrony.service']);
  await t.notThrowsAsync(linuxTimeChaos.plan('f1', params({ offset: '+1h' }), { ...threeMinutes, durationMs: 40_000 }), 'Harness default 30s fits: the bound is 40s');
  await t.notThrowsAsync(linuxTimeChaos.plan('f1', params({ offset: '+1h', disableNTP: false }), { ...threeMinutes, durationMs: 600_000 }), 'daemons left running: no watchdog to fear');
  await t.notThrowsAsync(linuxTimeChaos.plan('f1', params({ offset: '+1h' }), { ...withWatchdog(0), durationMs: 600_000 }), 'no watchdog');
  await t.notThrowsAsync(linuxTimeChaos.plan('f1', params({ offset: '+1h' }), { ...withWatchdog(180_000_000, false), durationMs: 600_000 }), 'systemd unreachable');
  writeFileSync(path.join(ctx.procRoot, String(DAEMON.pid), 'cgroup'), '0::/user.slice/session-1.scope\n');
  asked.length = 0;
  await t.notThrowsAsync(linuxTimeChaos.plan('f1', params({ offset: '+1h' }), { ...threeMinutes, durationMs: 600_000 }), 'a daemon outside any service');
  t.deepEqual(asked, []);
  t.deepEqual(clock.steps, []);
  t.deepEqual(kills, []);
});

test('the service of a daemon comes from the unified hierarchy, or v1\'s name=systemd line', (t) => {
  const procRoot = mkdtempSync(path.join(tmpdir(), 'faultd-time-cg-'));
  t.teardown(() => rmSync(procRoot, { recursive: true, force: true }));
  const write = (pid: number, text: string) => {
    mkdirSync(path.join(procRoot, String(pid)));
    writeFileSync(path.join(procRoot, String(pid), 'cgroup'), text);
  };
  write(1, '0::/system.slice/systemd-timesyncd.service\n');
  write(2, '12:memory:/system.slice/ntp.service\n1:name=systemd:/system.slice/ntp.service\n0::/\n');
  write(3, '0::/user.slice/user-0.slice/session-2.scope\n');
  t.is(serviceOfProcess(procRoot, 1), 'systemd-timesyncd.service');
  t.is(serviceOfProcess(procRoot, 2), 'ntp.service');
  t.is(serviceOfProcess(procRoot, 3), undefined);
  t.is(serviceOfProcess(procRoot, 4), undefined, 'gone');
});
