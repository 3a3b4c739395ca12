// SPDX-License-Identifier: Apache-2.0
// linux-time-chaos across a boot of faultd's host, in the nspawn container of the system suite
// (container.ts, given CAP_SYS_TIME): the container is stopped hard mid-fault and booted again.
// Its boot id changes but the kernel, and its clock, go on: the skew is still there, and the
// remnant revert of the next start (ExecStartPre) must restore it from the ledger's anchor.
// The clock is the host's: the test's own guard (test/helpers/clock.ts) restores it at teardown.
import { copyFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import test from 'ava';

import { assertBackOnTimeline, clockOffsetNs, guardClock, nsToMs } from '../helpers/clock.js';
import { Container, ensureRootfs, systemSuiteMissing } from './container.js';
import { bootRig, journal, runStarted, waitFor } from './rig.js';

const missing = systemSuiteMissing();
const systemTest = missing ? test.skip : test.serial;
if (missing) test.skip(`system suite skipped: ${missing}`, () => undefined);

const HOUR_NS = 3_600_000_000_000n;

systemTest('linux-time-chaos +1h, then a hard stop of the host mid-fault: at the next boot the revert tells the same kernel from a reboot and restores the clock from the anchor within 1 ms', async (t) => {
  const anchor = await guardClock(t);
  const booted = await bootRig((line) => t.log(line));
  t.teardown(() => booted.destroy());
  const { c, hub } = booted;
  const run = await hub.queueRun('container', {
    apiVersion: 'faultd/v1',
    kind: 'Experiment',
    metadata: { name: 'clock-across-boot' },
    spec: { steps: [{ faults: [{ kind: 'linux-time-chaos', name: 'clock', duration: '60s', params: { offset: '+1h' } }] }] },
  });
  await runStarted(hub, run.id);
  await waitFor('the clock stepped +1h', () => clockOffsetNs(anchor) > HOUR_NS - 1_000_000_000n, 20_000);
  t.log(`during the fault the clock is ${nsToMs(clockOffsetNs(anchor))} ms ahead`);
  await c.hardStop();
  t.true(clockOffsetNs(anchor) > HOUR_NS - 1_000_000_000n, 'the skew outlives the container');
  await c.boot();
  await waitFor('the result', async () => (await hub.run(run.id))?.state === 'finished', 30_000);
  const left = assertBackOnTimeline(t, anchor, "after the boot's remnant revert", HOUR_NS);
  t.log(`after the boot's remnant revert the clock is ${left} ms from the test's anchor + elapsed`);
  const result = (await hub.run(run.id))?.result;
  t.is(result?.verdict, 'interrupted');
  const clock = result?.faults.find((f) => f.faultId === 'clock');
  t.regex(clock?.revert ?? '', /the same kernel runs .*clock stepped by -(3599999|3600000)\.\d{3} ms/, JSON.stringify(result?.faults));
  t.true(journal(c).some((l) => /reverting remnant of an earlier boot/.test(l)), 'the revert saw a record of another boot');
});

systemTest('disableNTP with an NTP daemon in a unit with a 2 min watchdog: 30s is refused naming duration (the watchdog may be a quarter of its period from expiry when the daemon stops); 20s plans', async (t) => {
  const c = Container.create(ensureRootfs((line) => t.log(line)));
  t.teardown(() => c.destroy());
  // A stand-in NTP daemon: a copy of sleep named chronyd, in a unit with a 2 min watchdog: at most 25 s (a quarter, less 5 s).
  copyFileSync(path.join(c.root, 'usr/bin/sleep'), path.join(c.root, 'usr/local/sbin/chronyd'));
  writeFileSync(path.join(c.root, 'etc/systemd/system/fake-chrony.service'), '[Service]\nExecStart=/usr/local/sbin/chronyd infinity\nWatchdogSec=2min\n');
  await c.boot();
  t.is(c.exec(['systemctl', 'start', 'fake-chrony.service']).code, 0);
  const experiment = (duration: string) => {
    const doc = { apiVersion: 'faultd/v1', kind: 'Experiment', metadata: { name: 'ntp' }, spec: { steps: [{ faults: [{ kind: 'linux-time-chaos', name: 'clock', duration, params: { offset: '+1h' } }] }] } };
    writeFileSync(path.join(c.root, 'root', `ntp-${duration}.json`), JSON.stringify(doc));
    return `/root/ntp-${duration}.json`;
  };
  const refused = c.faultd(['run', '--dry-run', experiment('30s')]);
  t.is(refused.code, 2, refused.stdout + refused.stderr);
  t.regex(refused.stdout + refused.stderr, /duration: must be at most 25s while chronyd \(pid \d+\) of fake-chrony\.service is stopped \(disableNTP\): the unit has WatchdogSec=2m/);
  const planned = c.faultd(['run', '--dry-run', experiment('20s')]);
  t.is(planned.code, 0, planned.stdout + planned.stderr);
  t.regex(planned.stdout, /SIGSTOP NTP daemon \d+ \(\/usr\/local\/sbin\/chronyd infinity\)/);
});
