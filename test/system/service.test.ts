// SPDX-License-Identifier: Apache-2.0
// faultd as a systemd service inside a real systemd (nspawn, see container.ts): installed with
// `faultd install`, talking to a hub in the same container. Kill torture (kill -9 of the agent at
// a random moment of a run with CPU, memory and two network faults: a tbf qdisc and an nf_tables
// partition), a graceful reboot and a hard stop mid-run, and a revert made impossible. The
// number of kills is FAULTD_SYSTEM_KILLS (3 in `npm test`, 20 in `npm run test:system`).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import test, { type ExecutionContext } from 'ava';

import { systemSuiteMissing } from './container.js';
import { percentile } from '../../bench/stats.js';
import { bootRig, experiment, journal, killRound, leftovers, mainPid, runStarted, waitFor, type Rig } from './rig.js';

const KILLS = Number(process.env['FAULTD_SYSTEM_KILLS'] ?? 3);
const missing = systemSuiteMissing();
const systemTest = missing ? test.skip : test.serial;
if (missing) test.skip(`system suite skipped: ${missing}`, () => undefined);

/** A rig torn down with the test. */
async function rig(t: ExecutionContext): Promise<Rig> {
  const booted = await bootRig((line) => t.log(line));
  t.teardown(() => booted.destroy());
  return booted;
}

systemTest(`kill torture: ${KILLS} × kill -9 of the agent mid-run; each time the host is clean within 10 s and the hub gets an interrupted result`, async (t) => {
  const booted = await rig(t);
  const { c } = booted;
  const times: number[] = [];
  for (let i = 0; i < KILLS; i += 1) {
    const round = await killRound(booted, `torture-${i}`);
    times.push(round.cleanMs);
    t.is(round.verdict, 'interrupted', round.reason);
    t.regex(round.reason, /stopped abruptly/);
  }
  t.log(`SIGKILL → clean host over ${KILLS} kills: p50 ${percentile(times, 0.5)} ms, p99 ${percentile(times, 0.99)} ms, max ${Math.max(...times)} ms`);
  t.true(Math.max(...times) <= 10_000);
  const restarts = Number(c.exec(['systemctl', 'show', '-p', 'NRestarts', '--value', 'faultd.service']).stdout.trim());
  t.is(restarts, KILLS, 'systemd restarted the agent after each kill');
});

systemTest('systemctl reboot mid-run: after the boot, remnants are reverted before the agent starts and the hub sees interrupted by reboot', async (t) => {
  const { c, hub } = await rig(t);
  const run = await hub.queueRun('container', experiment('reboot'));
  await runStarted(hub, run.id);
  await waitFor('faults applied', () => c.exec(['pgrep', '-x', 'faultd-stressor']).code === 0, 10_000);
  c.exec(['systemctl', 'reboot']);
  t.is(await c.exited(), 133, 'nspawn reports a reboot');
  await c.boot();
  await waitFor('the result', async () => (await hub.run(run.id))?.state === 'finished', 30_000);
  const result = (await hub.run(run.id))?.result;
  t.is(result?.verdict, 'interrupted');
  t.regex(result?.reason ?? '', /^interrupted by reboot/);
  t.is(leftovers(c), '');
  const lines = journal(c);
  const reverted = lines.findIndex((l) => /^No remnants|remnant\(s\)/.test(l));
  const started = lines.findIndex((l) => /agent started/.test(l));
  t.true(reverted >= 0 && started > reverted, `revert --remnants (line ${reverted}) before the agent (line ${started}):\n${lines.join('\n')}`);
});

systemTest('a hard stop mid-run (every process killed at once): the next boot reverts the fill file and the hub sees interrupted by reboot with it', async (t) => {
  const { c, hub } = await rig(t);
  const fill = { kind: 'linux-disk-fill', name: 'fill', duration: '60s', params: { path: '/mnt/fill', size: '16Mi', keepFree: '4Mi' } };
  const run = await hub.queueRun('container', experiment('hard-stop', [fill]));
  await waitFor('the fill file', () => readdirSync(c.fillDir).some((n) => n.startsWith('.faultd-fill-')), 20_000);
  await c.hardStop();
  t.true(readdirSync(c.fillDir).some((n) => n.startsWith('.faultd-fill-')), 'the fill file outlives the container');
  await c.boot();
  await waitFor('the result', async () => (await hub.run(run.id))?.state === 'finished', 30_000);
  const result = (await hub.run(run.id))?.result;
  t.is(result?.verdict, 'interrupted');
  t.regex(result?.reason ?? '', /^interrupted by reboot/);
  const filled = result?.faults.find((f) => f.faultId === 'fill');
  t.regex(filled?.revert ?? '', /deleted \/mnt\/fill\/\.faultd-fill-/, JSON.stringify(result?.faults));
  t.is(leftovers(c), '');
  const lines = journal(c);
  t.true(lines.some((l) => /reverting remnant of an earlier boot/.test(l)), 'the revert knows the records are from another boot');
  const reverted = lines.findIndex((l) => /remnant\(s\)/.test(l));
  const started = lines.findIndex((l) => /agent started/.test(l));
  t.true(reverted >= 0 && started > reverted, lines.join('\n'));
});

systemTest('a revert made impossible (chattr +i on the fill file): the log and faultd status say what is left and how to fix it; the service keeps running', async (t) => {
  const { c, hub } = await rig(t);
  const fill = { kind: 'linux-disk-fill', name: 'fill', duration: '60s', params: { path: '/mnt/fill', size: '8Mi', keepFree: '4Mi' } };
  const run = await hub.queueRun('container', { ...experiment('revert-fails'), spec: { steps: [{ faults: [fill] }] } });
  const name = await waitFor('the fill file', () => readdirSync(c.fillDir).find((n) => n.startsWith('.faultd-fill-')), 20_000);
  const inside = `/mnt/fill/${name}`;
  execFileSync('chattr', ['+i', path.join(c.fillDir, name)]);
  t.teardown(() => void spawnSync('chattr', ['-i', path.join(c.fillDir, name)]));
  await hub.requestAbort(run.id);
  await waitFor('the result', async () => (await hub.run(run.id))?.state === 'finished', 15_000);
  t.is((await hub.run(run.id))?.result?.verdict, 'revert-failed');
  const logs = (await hub.runLogs(run.id, 0)).map((e) => `${e.message} ${JSON.stringify(e.fields ?? {})}`).join('\n');
  t.true(logs.includes(`chattr -i ${inside} && rm -f ${inside}`), logs);
  const status = c.faultd(['--state-dir', '/var/lib/faultd', 'status']);
  t.regex(status.stdout, /REVERT-FAILED/);
  t.true(status.stdout.includes(`chattr -i ${inside} && rm -f ${inside}`), status.stdout);
  t.is(c.exec(['systemctl', 'is-active', 'faultd.service']).stdout.trim(), 'active', 'the service keeps running');
  execFileSync('chattr', ['-i', path.join(c.fillDir, name)]);
  t.is(c.faultd(['--state-dir', '/var/lib/faultd', 'revert', '--remnants']).code, 0);
  t.is(leftovers(c), '');
});

systemTest('faultd uninstall mid-run: the agent reverts and reports, the unit and /etc/faultd go; a second uninstall changes nothing', async (t) => {
  const { c, hub } = await rig(t);
  const run = await hub.queueRun('container', experiment('uninstall'));
  await runStarted(hub, run.id);
  await waitFor('faults applied', () => c.exec(['pgrep', '-x', 'faultd-stressor']).code === 0, 10_000);
  const removed = c.faultd(['uninstall']);
  t.is(removed.code, 0, removed.stdout + removed.stderr);
  t.regex(removed.stdout, /stopped and disabled faultd\.service/);
  t.is(leftovers(c), '');
  t.like((await hub.run(run.id))?.result, { verdict: 'aborted', reason: 'the agent is stopping' });
  t.not(c.exec(['systemctl', 'is-active', 'faultd.service']).stdout.trim(), 'active');
  t.false(existsSync(path.join(c.root, 'etc/systemd/system/faultd.service')));
  t.false(existsSync(path.join(c.root, 'etc/faultd')));
  const again = c.faultd(['uninstall']);
  t.is(again.code, 0);
  t.regex(again.stdout, /nothing installed by faultd install/);
});

systemTest('a frozen agent (SIGSTOP) misses the watchdog: systemd kills and restarts it, the faults are reverted, the hub gets interrupted', async (t) => {
  const { c, hub } = await rig(t);
  // A short watchdog for the test; the shipped unit has WatchdogSec=30s, TimeoutAbortSec=10s.
  mkdirSync(path.join(c.root, 'etc/systemd/system/faultd.service.d'), { recursive: true });
  writeFileSync(path.join(c.root, 'etc/systemd/system/faultd.service.d/watchdog.conf'), '[Service]\nWatchdogSec=2s\nTimeoutAbortSec=1s\n');
  c.exec(['systemctl', 'daemon-reload']);
  c.exec(['systemctl', 'restart', 'faultd.service']);
  const run = await hub.queueRun('container', experiment('watchdog'));
  await runStarted(hub, run.id);
  await waitFor('faults applied', () => c.exec(['pgrep', '-x', 'faultd-stressor']).code === 0, 10_000);
  const pid = mainPid(c);
  c.exec(['kill', '-STOP', String(pid)]);
  const frozen = Date.now();
  await waitFor('a new agent', () => mainPid(c) !== pid && mainPid(c) > 0, 15_000);
  t.log(`frozen agent replaced after ${Date.now() - frozen} ms (WatchdogSec=2s)`);
  t.regex(c.exec(['journalctl', '-u', 'faultd.service', '--no-pager']).stdout, /Watchdog timeout/);
  await waitFor('clean', () => leftovers(c) === '', 10_000);
  await waitFor('the result', async () => (await hub.run(run.id))?.state === 'finished', 15_000);
  t.is((await hub.run(run.id))?.result?.verdict, 'interrupted');
});
