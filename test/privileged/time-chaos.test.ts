// SPDX-License-Identifier: Apache-2.0
// linux-time-chaos on the real CLOCK_REALTIME (time namespaces do not virtualise it), measured
// by another process (Python's clock_gettime_ns, test/helpers/clock.ts) against a BOOTTIME
// reference taken by the test: the offset in place equals the one asked, and the revert, also
// by `revert --remnants` after a kill -9, leaves the clock within 1 ms of anchor + elapsed time.
// Every test guards the clock (its own anchor, restored at teardown) and keeps it skewed for a
// few seconds only. A copy of sleep named `chronyd` stands in for an NTP daemon.
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import type { ExecutionContext } from 'ava';

import { experimentYaml, finish, runCli, runWorkspace, waitForLine, type Workspace } from '../helpers/cli.js';
import { assertBackOnTimeline, clockOffsetNs, guardClock, nsToMs, stepClockNs, type ClockPair } from '../helpers/clock.js';
import { privilegedTest as test } from '../helpers/privileged.js';

/** How close the measured offset must be to the asked one (ms): a read in another process. */
const MEASURE_TOLERANCE_MS = 5;

function experiment(ws: Workspace, params: Record<string, unknown>, duration = '3s'): string {
  return ws.file(`time-${Math.random().toString(36).slice(2)}.json`, experimentYaml([[{ kind: 'linux-time-chaos', duration, params }]]));
}

/** A copy of sleep named `chronyd`, continued and killed at teardown. */
function fakeChronyd(t: ExecutionContext, ws: Workspace): ChildProcess {
  const bin = path.join(ws.dir, 'chronyd');
  copyFileSync('/bin/sleep', bin);
  const child = spawn(bin, ['300'], { stdio: 'ignore' });
  t.teardown(() => {
    child.kill('SIGCONT');
    child.kill('SIGKILL');
  });
  return child;
}

const stateOf = (pid: number): string => {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0] ?? '?';
};

function assertOffset(t: ExecutionContext, anchor: ClockPair, askedMs: number, what: string): number {
  const measured = nsToMs(clockOffsetNs(anchor));
  t.true(Math.abs(measured - askedMs) <= MEASURE_TOLERANCE_MS, `${what}: measured ${measured} ms, asked ${askedMs} ms`);
  return measured;
}

const MS = 1_000_000n;

for (const [offset, askedMs, spelling] of [['-1h30m', -5_400_000, 'OFFSET'], ['+10m', 600_000, 'offset']] as const) {
  test(`offset ${offset} (${spelling}): another process measures the asked offset; the revert restores anchor + elapsed within 1 ms`, async (t) => {
    const anchor = await guardClock(t);
    const { ws, run } = runWorkspace(t);
    const child = run(experiment(ws, { [spelling]: offset }));
    const done = finish(child);
    await waitForLine(child, /"fault applied"/);
    const measured = assertOffset(t, anchor, askedMs, 'during the fault');
    const result = await done;
    t.is(result.code, 0, result.stdout + result.stderr);
    const residual = assertBackOnTimeline(t, anchor, 'after the run', BigInt(askedMs) * MS);
    t.regex(result.stdout, /clock stepped by -?\d+\.\d{3} ms to anchor \+ elapsed time, residual -?0\.\d{3} ms/);
    t.log(`asked ${askedMs} ms, measured ${measured} ms, residual after revert ${residual} ms`);
  });
}

test('kill -9 of faultd mid-fault: revert --remnants restores the clock within 1 ms and continues the stopped NTP daemon; a second one changes nothing', async (t) => {
  const anchor = await guardClock(t);
  const { ws, run } = runWorkspace(t);
  const chronyd = fakeChronyd(t, ws);
  const child = run(experiment(ws, { offset: '-45m' }, '60s'));
  await waitForLine(child, /"fault applied"/);
  assertOffset(t, anchor, -2_700_000, 'during the fault');
  t.is(stateOf(chronyd.pid ?? 0), 'T', 'the NTP daemon is stopped');
  child.kill('SIGKILL');
  await finish(child);
  assertOffset(t, anchor, -2_700_000, 'after the kill -9 the skew is still there');
  const first = await runCli(['revert', '--remnants'], ws.stateDir);
  t.is(first.code, 0, first.stdout + first.stderr);
  assertBackOnTimeline(t, anchor, 'after revert --remnants', -2_700_000n * MS);
  t.not(stateOf(chronyd.pid ?? 0), 'T', 'the NTP daemon is continued');
  t.regex(first.stdout + first.stderr, /continued NTP daemon \d+/);
  const second = await runCli(['revert', '--remnants'], ws.stateDir);
  t.is(second.code, 0, second.stdout + second.stderr);
  assertBackOnTimeline(t, anchor, 'after the second revert --remnants', -2_700_000n * MS);
});

test('with disableNTP (the default) an NTP daemon is stopped for the duration and continued at revert', async (t) => {
  const anchor = await guardClock(t);
  const { ws, run } = runWorkspace(t);
  const chronyd = fakeChronyd(t, ws);
  const child = run(experiment(ws, { offset: '+5m' }, '2s'));
  const done = finish(child);
  await waitForLine(child, /"fault applied"/);
  t.is(stateOf(chronyd.pid ?? 0), 'T');
  const result = await done;
  t.is(result.code, 0, result.stdout + result.stderr);
  t.is(stateOf(chronyd.pid ?? 0), 'S', 'continued (sleeping again)');
  assertBackOnTimeline(t, anchor, 'after the run', 300_000n * MS);
  const kept = run(experiment(ws, { offset: '+5m', DISABLE_NTP: 'false' }, '1s'));
  const keptDone = finish(kept);
  await waitForLine(kept, /"fault applied"/);
  t.is(stateOf(chronyd.pid ?? 0), 'S', 'disableNTP false: left running');
  t.is((await keptDone).code, 0);
  assertBackOnTimeline(t, anchor, 'after the second run', 300_000n * MS);
});

test('bad input exits 2 naming the field and the range, and does not touch the clock', async (t) => {
  const anchor = await guardClock(t);
  const { ws, run } = runWorkspace(t);
  for (const [params, message] of [
    [{ offset: 'abc' }, /params\.offset: must be a signed offset like .* in 1s–168h \(7 days\) either way/],
    [{ offset: '+200h' }, /params\.offset: must be in 1s–168h \(7 days\) either way/],
    [{ offset: '+1h', disableNTP: 'maybe' }, /params\.disableNTP: must be true or false/],
    [{}, /params\.offset: is required/],
  ] as const) {
    const result = await finish(run(experiment(ws, params)));
    t.is(result.code, 2, JSON.stringify(params));
    t.regex(result.stdout + result.stderr, message);
  }
  t.true(Math.abs(nsToMs(clockOffsetNs(anchor))) < 0.1, 'untouched, not stepped and back');
});

test('--dry-run shows the plan (anchor, step, NTP daemons, revert) and changes nothing', async (t) => {
  const anchor = await guardClock(t);
  const { ws, run } = runWorkspace(t);
  const chronyd = fakeChronyd(t, ws);
  const result = await finish(run(experiment(ws, { offset: '-13h12m' }), '--dry-run'));
  t.is(result.code, 0, result.stdout + result.stderr);
  t.regex(result.stdout, new RegExp(`SIGSTOP NTP daemon ${chronyd.pid ?? 0} `));
  t.regex(result.stdout, /step CLOCK_REALTIME by -13h12m \(clock_adjtime ADJ_SETOFFSET, atomic\)/);
  t.regex(result.stdout, /step CLOCK_REALTIME back to anchor realtime \+ elapsed CLOCK_BOOTTIME/);
  t.is(stateOf(chronyd.pid ?? 0), 'S');
  t.true(Math.abs(nsToMs(clockOffsetNs(anchor))) < 0.1, 'the clock is untouched');
});

/** A ledger holding one linux-time-chaos intent of another boot, its anchor `anchorAgoMs` in the past (negative: in the future). */
function earlierBootLedger(ws: Workspace, anchorAgoMs: number): void {
  mkdirSync(ws.stateDir, { recursive: true });
  const realtimeNs = (BigInt(Date.now() - anchorAgoMs) * 1_000_000n).toString();
  const intent = {
    v: 1, ts: new Date().toISOString(), faultId: 'r-earlier-boot-clock', event: 'intent', runId: 'r-earlier', kind: 'linux-time-chaos', target: 'CLOCK_REALTIME',
    bootId: '11111111-2222-3333-4444-555555555555', owner: { pid: 4_000_000, startTime: 1 },
    revert: { bootId: '11111111-2222-3333-4444-555555555555', offsetNs: '-5400000000000', anchor: { realtimeNs, monotonicNs: '1000', boottimeNs: '1000', bracketNs: 90 }, kernelNtp: { status: 64, clockState: 5 }, disableNTP: true, stoppedDaemons: [] },
  };
  writeFileSync(path.join(ws.stateDir, 'ledger.jsonl'), `${JSON.stringify(intent)}\n`);
}

test('after a reboot (the intent is from another boot), revert --remnants says what decided, steps nothing, and fails with the fix when the clock is behind the anchor', async (t) => {
  const anchor = await guardClock(t);
  const { ws } = runWorkspace(t);
  earlierBootLedger(ws, 60_000);
  const reverted = await runCli(['revert', '--remnants'], ws.stateDir);
  t.is(reverted.code, 0, reverted.stdout + reverted.stderr);
  // This testbed has no RTC and no NTP daemon: the platform set the clock at boot.
  t.regex(reverted.stdout + reverted.stderr, /boot changed since the fault \(its boot 11111111\).*no RTC, so the skew could not outlive the boot/);
  t.true(Math.abs(nsToMs(clockOffsetNs(anchor))) < 0.1, 'nothing stepped');
  const behind = workspaceWithLedger(t, -3_600_000);
  const failed = await runCli(['revert', '--remnants'], behind.stateDir);
  t.is(failed.code, 4, failed.stdout + failed.stderr);
  t.regex(failed.stdout + failed.stderr, /3[56]\d{5} ms before the fault began: it is behind true time/);
  t.regex(failed.stdout + failed.stderr, /timedatectl set-ntp true/);
  t.true(Math.abs(nsToMs(clockOffsetNs(anchor))) < 0.1, 'still nothing stepped');
});

function workspaceWithLedger(t: ExecutionContext, anchorAgoMs: number): Workspace {
  const { ws } = runWorkspace(t);
  earlierBootLedger(ws, anchorAgoMs);
  return ws;
}

test('the test clock guard sees every clock set, sized, and tells the expected ones from someone else\'s', async (t) => {
  const anchor = await guardClock(t);
  stepClockNs(2_000_000_000n);
  stepClockNs(-2_000_000_000n);
  stepClockNs(7_000_000n); // someone else's
  await new Promise((resolve) => setTimeout(resolve, 100));
  t.deepEqual(anchor.steps().map((s) => Math.round(nsToMs(s.byNs))), [2000, -2000, 7]);
  t.deepEqual(anchor.foreignSteps(2_000_000_000n).map((s) => Math.round(nsToMs(s.byNs))), [7]);
  const logs: string[] = [];
  const asserted: boolean[] = [];
  assertBackOnTimeline({ true: (v) => asserted.push(v), log: (...v: unknown[]) => logs.push(v.join(' ')) }, anchor, 'with a foreign set', 2_000_000_000n);
  t.deepEqual(asserted, [], 'not asserted');
  t.regex(logs[0] ?? "", /with a foreign set: CLOCK_REALTIME (7|6\.99\d)(\.\d+)? ms from anchor \+ elapsed time, not asserted: someone else set the clock meanwhile \(by (7|6\.99\d)(\.\d+)? ms\)/);
  stepClockNs(-7_000_000n);
});
