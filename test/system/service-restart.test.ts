// SPDX-License-Identifier: Apache-2.0
// linux-service-restart against a real systemd (PID 1 of an nspawn container, container.ts):
// `faultd run` inside restarts test units over D-Bus, and systemd itself is the oracle (the
// unit's MainPID, NRestarts and the journal's start lines), read from outside with systemctl.
// Then a kill -9 of faultd while the unit is stopped (revert --remnants starts it), a unit that
// cannot start any more (a failed revert naming `systemctl start`), bad input (exit 2, nothing
// stopped), and a reboot mid-fault with faultd installed as a service (its boot-time revert
// starts a unit that is not enabled).
import { spawn } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import test, { type ExecutionContext } from 'ava';

import { Container, ensureRootfs, FAULTD, systemSuiteMissing } from './container.js';
import { bootRig, journal, runStarted, waitFor } from './rig.js';

const missing = systemSuiteMissing();
const systemTest = missing ? test.skip : test.serial;
if (missing) test.skip(`service-restart system tests skipped: ${missing}`, () => undefined);

const PLAIN = 'svc-plain.service';
const HEAL = 'svc-heal.service';
const ENABLED = 'svc-enabled.service';
/** Where each test unit counts its starts, one line per start (starts()). */
const STARTS_DIR = '/var/lib/svc-starts';

/** `service` (a unit file's text) with an ExecStartPre= that counts the unit's starts before its main process runs. */
function counted(service: string): string {
  return service.replace('[Service]\n', `[Service]\nExecStartPre=/bin/sh -c 'echo started >> ${STARTS_DIR}/%n'\n`);
}

const UNITS: Record<string, string> = {
  [PLAIN]: '[Service]\nExecStart=/bin/sleep infinity\nRestart=no\n',
  [HEAL]: '[Service]\nExecStart=/bin/sleep infinity\nRestart=always\nRestartSec=100ms\n',
};

/** Units a stop of svc-plain takes down: each way systemd propagates a stop, and one through another. */
const DEPENDENTS: Record<string, string> = {
  'svc-dep-requires.service': `[Unit]\nRequires=${PLAIN}\nAfter=${PLAIN}\n[Service]\nExecStart=/bin/sleep infinity\n`,
  'svc-dep-binds.service': `[Unit]\nBindsTo=${PLAIN}\nAfter=${PLAIN}\n[Service]\nExecStart=/bin/sleep infinity\n`,
  'svc-dep-partof.service': `[Unit]\nPartOf=${PLAIN}\n[Service]\nExecStart=/bin/sleep infinity\n`,
  'svc-dep-second.service': '[Unit]\nRequires=svc-dep-requires.service\nAfter=svc-dep-requires.service\n[Service]\nExecStart=/bin/sleep infinity\n',
};

/** Writes the test units (not enabled) into the container's /etc and starts them once it runs. */
function installUnits(c: Container): void {
  mkdirSync(path.join(c.root, STARTS_DIR), { recursive: true });
  for (const [name, text] of Object.entries(UNITS)) writeFileSync(path.join(c.root, 'etc/systemd/system', name), counted(text));
}

function startUnits(c: Container): void {
  const started = c.exec(['systemctl', 'start', PLAIN, HEAL]);
  if (started.code !== 0) throw new Error(`systemctl start failed: ${started.stderr}`);
}

/** A booted container with the test units running, destroyed with the test. */
async function container(t: ExecutionContext): Promise<Container> {
  const c = Container.create(ensureRootfs((line) => t.log(line)));
  t.teardown(() => c.destroy());
  installUnits(c);
  await c.boot();
  startUnits(c);
  return c;
}

function show(c: Container, unit: string, property: string): string {
  return c.exec(['systemctl', 'show', '-p', property, '--value', unit]).stdout.trim();
}

/**
 * How many times systemd started `unit`: the lines its ExecStartPre= (counted()) appended. Not
 * the journal's "Started" lines: journald takes them in asynchronously, so a count read just
 * after `systemctl start` returned could miss the last one.
 */
function starts(c: Container, unit: string): number {
  const read = c.exec(['cat', `${STARTS_DIR}/${unit}`]);
  return read.code === 0 ? read.stdout.split('\n').filter((l) => l === 'started').length : 0;
}

/** Writes `/root/<name>.json` with one linux-service-restart fault. */
function experimentFile(c: Container, name: string, fault: Record<string, unknown>): string {
  const doc = { apiVersion: 'faultd/v1', kind: 'Experiment', metadata: { name }, spec: { steps: [{ faults: [{ kind: 'linux-service-restart', name: 'svc', ...fault }] }] } };
  writeFileSync(path.join(c.root, 'root', `${name}.json`), JSON.stringify(doc));
  return `/root/${name}.json`;
}

/** `faultd run <file>` inside, in the background; its exit and output when it ends. */
function runInBackground(c: Container, file: string): { done: Promise<{ code: number | null; out: string }> } {
  const child = spawn('nsenter', ['-t', String(c.leader), '-a', 'env', '-i', 'PATH=/usr/sbin:/usr/bin:/sbin:/bin', '/usr/bin/node', FAULTD, 'run', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
  return { done: new Promise((resolve) => child.on('exit', (code) => resolve({ code, out }))) };
}

systemTest("3 cycles of 1 s: systemd stopped and started the unit 3 times (the last by the revert), active at the end; self-healing: NRestarts +2, the unit's Restart= brought it back after each kill", async (t) => {
  const c = await container(t);
  const pidBefore = show(c, PLAIN, 'MainPID');
  const startsBefore = starts(c, PLAIN);
  const dry = c.faultd(['run', '--dry-run', experimentFile(c, 'dry', { duration: '3s', params: { SERVICES: 'svc-plain', INTERVAL: '1s' } })]);
  t.is(dry.code, 0, dry.stdout + dry.stderr);
  t.regex(dry.stdout, /3 cycle\(s\) of 1s, parallel: stop svc-plain\.service \(active \(running\), main pid \d+\)/);
  t.is(show(c, PLAIN, 'MainPID'), pidBefore, 'the dry run changed nothing');

  const run = c.faultd(['run', experimentFile(c, 'cycles', { duration: '3s', params: { SERVICES: 'svc-plain', INTERVAL: '1s' } })]);
  t.is(run.code, 0, run.stdout + run.stderr);
  t.regex(run.stdout, /reverted \(started svc-plain\.service \(active after \d+ ms\)\)/);
  t.is(show(c, PLAIN, 'ActiveState'), 'active');
  t.not(show(c, PLAIN, 'MainPID'), pidBefore);
  t.is(starts(c, PLAIN) - startsBefore, 3, 'started at 1 s, 2 s and by the revert');
  t.log(run.stdout.split('\n').filter((l) => /svc/.test(l)).join('\n'));

  const restartsBefore = Number(show(c, HEAL, 'NRestarts'));
  const heal = c.faultd(['run', experimentFile(c, 'heal', { duration: '2s', params: { services: 'svc-heal', selfHealingServices: true, interval: '1s' } })]);
  t.is(heal.code, 0, heal.stdout + heal.stderr);
  t.is(Number(show(c, HEAL, 'NRestarts')) - restartsBefore, 2, 'two kills, each brought back by Restart=always');
  t.is(show(c, HEAL, 'ActiveState'), 'active');
  t.regex(heal.stdout, /svc-heal\.service already active/);
});

systemTest('dependents: the units that Requires=, BindsTo= or are PartOf= a service (and one through another) are named by the plan and running again after each cycle and the revert; one with RefuseManualStart= refuses the fault', async (t) => {
  const c = await container(t);
  for (const [name, text] of Object.entries(DEPENDENTS)) writeFileSync(path.join(c.root, 'etc/systemd/system', name), counted(text));
  c.exec(['systemctl', 'daemon-reload']);
  const names = Object.keys(DEPENDENTS);
  t.is(c.exec(['systemctl', 'start', ...names]).code, 0);
  const before = Object.fromEntries(names.map((n) => [n, starts(c, n)]));
  const file = experimentFile(c, 'deps', { duration: '2s', params: { services: PLAIN, interval: '1s' } });
  const dry = c.faultd(['run', '--dry-run', file]);
  t.is(dry.code, 0, dry.stdout + dry.stderr);
  for (const n of names) t.true(dry.stdout.includes(n), `the plan names ${n}: ${dry.stdout}`);
  const run = c.faultd(['run', file]);
  t.is(run.code, 0, run.stdout + run.stderr);
  for (const n of names) {
    t.is(show(c, n, 'ActiveState'), 'active', `${n} is running again`);
    t.is(starts(c, n) - (before[n] ?? 0), 2, `${n} started again in cycle 2 and by the revert`);
  }
  t.log(run.stdout.split('\n').filter((l) => /reverted/.test(l)).join('\n'));

  writeFileSync(path.join(c.root, 'etc/systemd/system', 'svc-dep-pinned.service'), `[Unit]\nRequires=${PLAIN}\nAfter=${PLAIN}\nRefuseManualStart=yes\n[Service]\nExecStart=/bin/sleep infinity\n`);
  c.exec(['systemctl', 'daemon-reload']);
  // RefuseManualStart= refuses `systemctl start`, not a start pulled in by a dependency.
  writeFileSync(path.join(c.root, 'etc/systemd/system', 'svc-dep-puller.service'), '[Unit]\nWants=svc-dep-pinned.service\n[Service]\nExecStart=/bin/sleep infinity\n');
  c.exec(['systemctl', 'daemon-reload']);
  t.is(c.exec(['systemctl', 'start', 'svc-dep-puller.service']).code, 0);
  t.is(show(c, 'svc-dep-pinned.service', 'ActiveState'), 'active');
  const pid = show(c, PLAIN, 'MainPID');
  const refused = c.faultd(['run', file]);
  t.is(refused.code, 1, `a run fails the fault: ${refused.stdout}${refused.stderr}`);
  t.is(c.faultd(['run', '--dry-run', file]).code, 2, 'a dry run refuses the input');
  t.regex(refused.stdout + refused.stderr, /stopping svc-plain\.service also stops svc-dep-pinned\.service, which Requires=, BindsTo= or is PartOf= it, and svc-dep-pinned\.service has RefuseManualStart=yes: faultd could not start it again/);
  t.is(show(c, PLAIN, 'MainPID'), pid, 'nothing was stopped');
});

systemTest('kill -9 of faultd while the unit is stopped: revert --remnants starts it and checks it; a unit that cannot start any more fails the revert naming systemctl start', async (t) => {
  const c = await container(t);
  const first = runInBackground(c, experimentFile(c, 'killed', { duration: '60s', params: { services: PLAIN, interval: '60s' } }));
  await waitFor('the unit stopped', () => show(c, PLAIN, 'ActiveState') === 'inactive', 15_000);
  t.is(c.exec(['pkill', '-9', '-f', `${FAULTD} run`]).code, 0);
  const { code } = await first.done;
  t.not(code, 0);
  await new Promise((r) => setTimeout(r, 300));
  t.is(show(c, PLAIN, 'ActiveState'), 'inactive', 'nothing started it while faultd was dead');
  const reverted = c.faultd(['revert', '--remnants']);
  t.is(reverted.code, 0, reverted.stdout + reverted.stderr);
  t.regex(reverted.stdout, /started svc-plain\.service \(active after \d+ ms\)/);
  t.is(show(c, PLAIN, 'ActiveState'), 'active');
  t.is(c.faultd(['revert', '--remnants']).code, 0, 'idempotent');

  const second = runInBackground(c, experimentFile(c, 'broken', { duration: '60s', params: { services: PLAIN, interval: '60s' } }));
  await waitFor('the unit stopped', () => show(c, PLAIN, 'ActiveState') === 'inactive', 15_000);
  c.exec(['pkill', '-9', '-f', `${FAULTD} run`]);
  await second.done;
  const dropIn = path.join(c.root, 'etc/systemd/system', `${PLAIN}.d`);
  mkdirSync(dropIn, { recursive: true });
  writeFileSync(path.join(dropIn, 'broken.conf'), '[Service]\nExecStart=\nExecStart=/bin/false\n');
  c.exec(['systemctl', 'daemon-reload']);
  const failed = c.faultd(['revert', '--remnants']);
  t.is(failed.code, 4, failed.stdout + failed.stderr);
  t.true(`${failed.stdout}${failed.stderr}`.includes(`systemctl start ${PLAIN}`), failed.stdout + failed.stderr);
  const status = c.faultd(['status']);
  t.regex(status.stdout, /REVERT-FAILED/);
  t.true(status.stdout.includes(`systemctl start ${PLAIN}`), status.stdout);
  rmSync(dropIn, { recursive: true, force: true });
  c.exec(['systemctl', 'daemon-reload']);
  const fixed = c.faultd(['revert', '--remnants']);
  t.is(fixed.code, 0, fixed.stdout + fixed.stderr);
  t.is(show(c, PLAIN, 'ActiveState'), 'active');
});

systemTest('bad input changes nothing: an unknown unit, an inactive unit and faultd.service are refused by name (exit 2); interval > duration fails validate', async (t) => {
  const c = await container(t);
  c.exec(['systemctl', 'stop', HEAL]);
  const pid = show(c, PLAIN, 'MainPID');
  const refused = c.faultd(['run', experimentFile(c, 'bad', { duration: '5s', params: { services: `${PLAIN},no-such-unit,svc-heal,faultd`, interval: '1s' } })]);
  const text = refused.stdout + refused.stderr;
  t.not(refused.code, 0, text);
  t.regex(text, /no-such-unit\.service: no such unit \(LoadState=not-found\)/);
  t.regex(text, /svc-heal\.service is inactive \(dead\), not active/);
  t.regex(text, /faultd\.service is never restarted by faultd/);
  const dry = c.faultd(['run', '--dry-run', '/root/bad.json']);
  t.is(dry.code, 2, dry.stdout + dry.stderr);
  t.is(show(c, PLAIN, 'MainPID'), pid, 'svc-plain was never stopped');
  const validate = c.faultd(['validate', experimentFile(c, 'long', { duration: '5s', params: { services: PLAIN, interval: '10s' } })]);
  t.is(validate.code, 2);
  t.regex(validate.stdout + validate.stderr, /params\.interval: must not exceed the fault's duration \(5s\)/);
  const doctor = c.faultd(['doctor']);
  t.regex(doctor.stdout, /OK +linux-service-restart\n +systemd 252[^\n]* reachable over D-Bus at unix:path=\/run\/dbus\/system_bus_socket/);
});

systemTest('faultd as a service: a reboot mid-fault leaves an enabled unit to its boot; after a hard stop mid-fault the boot-time revert starts a unit that is not enabled', async (t) => {
  const rig = await bootRig((line) => t.log(line));
  t.teardown(() => rig.destroy());
  const { c, hub } = rig;
  installUnits(c);
  writeFileSync(path.join(c.root, 'etc/systemd/system', ENABLED), '[Service]\nExecStart=/bin/sleep infinity\n[Install]\nWantedBy=multi-user.target\n');
  c.exec(['systemctl', 'daemon-reload']);
  c.exec(['systemctl', 'enable', '--now', ENABLED]);
  startUnits(c);
  t.is(show(c, PLAIN, 'UnitFileState'), 'static', 'nothing but faultd would start svc-plain at boot');
  const queue = async (unit: string, name: string) => {
    const fault = { kind: 'linux-service-restart', name: 'svc', duration: '60s', params: { services: unit, interval: '60s' } };
    return await hub.queueRun('container', { apiVersion: 'faultd/v1', kind: 'Experiment', metadata: { name }, spec: { steps: [{ faults: [fault] }] } });
  };

  const rebooted = await queue(ENABLED, 'svc-reboot');
  await runStarted(hub, rebooted.id);
  await waitFor('the unit stopped', () => show(c, ENABLED, 'ActiveState') === 'inactive', 15_000);
  c.exec(['systemctl', 'reboot']);
  t.is(await c.exited(), 133);
  await c.boot();
  await waitFor('the result', async () => (await hub.run(rebooted.id))?.state === 'finished', 30_000);
  const result = (await hub.run(rebooted.id))?.result;
  t.is(result?.verdict, 'interrupted', `${JSON.stringify(result)}\n${journal(c).slice(-40).join('\n')}`);
  t.regex(result?.faults.find((f) => f.faultId === 'svc')?.revert ?? '', /the host is shutting down \(SystemState=stopping\): not started now; svc-enabled\.service come\(s\) back at boot if enabled/);
  t.is(show(c, ENABLED, 'ActiveState'), 'active', 'the boot started the enabled unit');

  startUnits(c);
  const cut = await queue(PLAIN, 'svc-hard-stop');
  await runStarted(hub, cut.id);
  await waitFor('the unit stopped', () => show(c, PLAIN, 'ActiveState') === 'inactive', 15_000);
  await c.hardStop();
  await c.boot();
  await waitFor('svc-plain active again', () => show(c, PLAIN, 'ActiveState') === 'active', 20_000);
  await waitFor('the result', async () => (await hub.run(cut.id))?.state === 'finished', 30_000);
  const after = (await hub.run(cut.id))?.result;
  t.is(after?.verdict, 'interrupted', JSON.stringify(after));
  t.regex(after?.faults.find((f) => f.faultId === 'svc')?.revert ?? '', /started svc-plain\.service \(active after \d+ ms\)/, JSON.stringify(after?.faults));
  const lines = journal(c);
  t.true(lines.some((l) => /reverting remnant of an earlier boot .*kind=linux-service-restart/.test(l)), lines.join('\n'));
});

systemTest('a wedged systemd (PID 1 stopped) answers no D-Bus call: faultd gives up after its 10 s call timeout, not sd-bus\'s 25 s, and says systemd is unreachable', async (t) => {
  const c = await container(t);
  process.kill(c.leader, 'SIGSTOP');
  t.teardown(() => {
    try {
      process.kill(c.leader, 'SIGCONT');
    } catch {
      // the container is gone already
    }
  });
  const started = performance.now();
  const doctor = c.faultd(['doctor']);
  const seconds = (performance.now() - started) / 1000;
  process.kill(c.leader, 'SIGCONT');
  t.regex(doctor.stdout, /linux-service-restart\n +systemd not reachable over D-Bus: [^\n]*(timed out|ETIMEDOUT)/i, doctor.stdout);
  t.true(seconds >= 9 && seconds < 20, `doctor took ${seconds.toFixed(1)} s`);
  t.log(`doctor with systemd stopped: ${seconds.toFixed(1)} s`);
});
