// SPDX-License-Identifier: Apache-2.0
// The .deb in debootstrapped Debian containers booted with systemd as PID 1 (the system suite's
// container.ts, in its package mode: no Node and no checkout inside, so whatever runs is the
// package's own runtime). On each suite whose glibc the package's binaries accept (bookworm,
// trixie): get-faultd.sh installs it, faultd.service stays disabled, `faultd run` of a CPU
// experiment loads a core with the packaged stressor and leaves nothing; `faultd install` against
// the hub in the container enables the agent; a kill -9 mid-run is reverted; an upgrade waits for
// the run in progress and then restarts the agent; dpkg -r in a run stops it, which reverts it;
// dpkg -P removes the state and configuration. Debian 11 (glibc 2.31) is below what the native
// binaries need today: dpkg must refuse the package there, and the runtime alone must run.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import type { ExecutionContext } from 'ava';

import { HubService } from '../../src/hub/service.js';
import { SqliteHubStore } from '../../src/hub/sqlite-store.js';
import { Container, ensureRootfs, HUB_DIR, REPO, sleep, systemSuiteMissing } from '../system/container.js';
import { experiment, journal, leftovers, mainPid, runStarted, waitFor } from '../system/rig.js';
import { DEB, OUT, packageTest, VERSION } from './packages.js';

const missing = systemSuiteMissing();
const containerTest = missing ? packageTest.skip : packageTest;
const PACKAGED = '/usr/bin/faultd';
const DEB_INSIDE = `/packages/${path.basename(DEB)}`;
const HUB_CA = `${HUB_DIR}/tls/ca.pem`;

const CPU_EXPERIMENT = `apiVersion: faultd/v1
kind: Experiment
metadata:
  name: packaged-cpu
spec:
  steps:
    - faults:
        - kind: linux-cpu-stress
          name: cpu
          duration: 5s
          params: { load: 50, workers: 1 }
`;

function shortRun(name: string, seconds: number) {
  return { apiVersion: 'faultd/v1', kind: 'Experiment', metadata: { name }, spec: { steps: [{ faults: [{ kind: 'linux-cpu-stress', name: 'cpu', duration: `${seconds}s`, params: { load: 20, workers: 1 } }] }] } };
}

/** A booted container of `suite` in package mode, /packages bound in, torn down with the test. */
async function boot(t: ExecutionContext, suite: string): Promise<Container> {
  const c = Container.create(ensureRootfs((line) => t.log(line), suite), { faultd: 'package', bindsRo: [[OUT, '/packages']] });
  t.teardown(() => c.destroy());
  t.log(`${suite} booted in ${await c.boot()} ms`);
  t.not(c.exec(['sh', '-c', 'command -v node || test -e /usr/bin/node']).code, 0, 'no Node in the container');
  return c;
}

function out(c: Container, args: readonly string[]): string {
  return c.exec(args).stdout.trim();
}

/** utime+stime of a process in clock ticks. */
function cpuTicks(c: Container, pid: string): number {
  const fields = out(c, ['cat', `/proc/${pid}/stat`]).replace(/^.*\) /, '').split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

/** Nothing of a fault left, read from the kernel (for after the package is gone, when faultd status is too). */
function kernelLeftovers(c: Container): string {
  return out(c, ['sh', '-c', 'pgrep -x faultd-stressor >/dev/null && echo stressor; nft list tables | grep -q faultd && echo nft; tc qdisc show dev fd0 | grep -Eq "tbf|htb|netem|prio" && echo qdisc; true']);
}

async function fullLifecycle(t: ExecutionContext, suite: string): Promise<void> {
  const c = await boot(t, suite);

  // Install with the one-line installer: the service stays disabled.
  const got = c.exec(['sh', '/packages/get-faultd.sh', '--from', '/packages']);
  t.is(got.code, 0, `${got.stdout}${got.stderr}`);
  t.regex(got.stdout, /SHA-256 OK/);
  t.is(out(c, ['systemctl', 'is-enabled', 'faultd.service']), 'disabled');
  t.is(out(c, ['systemctl', 'is-active', 'faultd.service']), 'inactive');
  t.is(out(c, ['systemctl', 'is-enabled', 'faultd-remnants.service']), 'enabled');
  t.is(out(c, ['stat', '-c', '%a', '/var/lib/faultd']), '700');
  t.is(out(c, [PACKAGED, '--version']), VERSION);
  const verified = c.exec(['systemd-analyze', 'verify', '/lib/systemd/system/faultd.service', '/lib/systemd/system/faultd-remnants.service']);
  t.is(verified.code, 0, `systemd-analyze verify of the packaged units: ${verified.stdout}${verified.stderr}`);

  // faultd run with the packaged runtime and stressor: the stressor burns CPU, then nothing is left.
  writeFileSync(path.join(c.root, 'root/cpu.yaml'), CPU_EXPERIMENT);
  c.exec(['sh', '-c', `(${PACKAGED} run /root/cpu.yaml >/root/run.out 2>&1; echo $? >/root/run.rc) </dev/null >/dev/null 2>&1 &`]);
  const stressor = await waitFor('the stressor', () => out(c, ['pgrep', '-x', 'faultd-stressor']) || undefined, 15_000);
  t.is(out(c, ['readlink', `/proc/${stressor}/exe`]), '/usr/lib/faultd/app/build/Release/faultd-stressor');
  const runner = out(c, ['pgrep', '-f', 'faultd.js run /root/cpu.yaml']).split('\n')[0] ?? '';
  t.is(out(c, ['readlink', `/proc/${runner}/exe`]), '/usr/lib/faultd/node', 'faultd run runs on the packaged runtime');
  const before = cpuTicks(c, stressor);
  await sleep(1000);
  const ticks = cpuTicks(c, stressor) - before;
  t.log(`stressor CPU over 1 s at load 50: ${ticks} ticks`);
  t.true(ticks >= 20, `the stressor loads a core (${ticks} ticks in 1 s)`);
  const rc = await waitFor('faultd run ended', () => out(c, ['cat', '/root/run.rc']) || undefined, 30_000, 200);
  t.is(rc, '0', out(c, ['cat', '/root/run.out']));
  t.is(kernelLeftovers(c), '');
  t.regex(out(c, [PACKAGED, 'status']), /^Clean/m);

  // The agent through faultd install, against the hub in the container (run by the packaged faultd).
  execFileSync(process.execPath, [path.join(REPO, 'bin/faultd.js'), 'hub', '--hub-dir', path.join(c.root, HUB_DIR), 'init']);
  const store = new SqliteHubStore(path.join(c.root, HUB_DIR, 'hub.db'));
  t.teardown(() => store.close());
  const hub = new HubService(store);
  const { id, accessKey } = await hub.createInfra('packaged');
  writeFileSync(path.join(c.root, 'root/access-key'), `${accessKey}\n`, { mode: 0o600 });
  t.is(c.exec(['systemctl', 'start', 'faultd-hub.service']).code, 0);
  const installed = c.exec([PACKAGED, 'install', '--hub-url', 'https://127.0.0.1:8443', '--infra-id', id, '--access-key-file', '/root/access-key', '--ca-file', HUB_CA]);
  t.is(installed.code, 0, `${installed.stdout}${installed.stderr}`);
  t.is(out(c, ['systemctl', 'is-enabled', 'faultd.service']), 'enabled');
  t.is(out(c, ['systemctl', 'is-active', 'faultd.service']), 'active');
  t.is(out(c, ['readlink', `/proc/${mainPid(c)}/exe`]), '/usr/lib/faultd/node', 'the agent runs on the packaged runtime');

  // kill -9 mid-run: systemd and ExecStopPost revert, the hub gets "interrupted".
  const killed = await hub.queueRun('packaged', experiment('packaged-kill'));
  await runStarted(hub, killed.id);
  await waitFor('faults applied', () => c.exec(['pgrep', '-x', 'faultd-stressor']).code === 0, 15_000);
  const agent = mainPid(c);
  c.exec(['kill', '-9', String(agent)]);
  let left = '';
  await waitFor('clean after the kill', () => (left = leftovers(c, PACKAGED)) === '', 10_000, 100).catch((error: unknown) => {
    throw new Error(`${String(error)}; still left: ${left}\n${journal(c).slice(-40).join('\n')}`);
  });
  await waitFor('the interrupted result', async () => (await hub.run(killed.id))?.state === 'finished', 20_000);
  t.is((await hub.run(killed.id))?.result?.verdict, 'interrupted');
  await waitFor('the agent is back', () => mainPid(c) !== agent && mainPid(c) > 0, 15_000);

  // Upgrade during a run: the restart waits for the run to end; the run completes.
  await waitFor('the agent is idle', () => !out(c, ['systemctl', 'show', '-p', 'StatusText', '--value', 'faultd.service']).startsWith('running'), 15_000);
  const during = await hub.queueRun('packaged', shortRun('packaged-upgrade', 15));
  await runStarted(hub, during.id);
  const beforeUpgrade = mainPid(c);
  const upgraded = c.exec(['dpkg', '-i', DEB_INSIDE]);
  t.is(upgraded.code, 0, `${upgraded.stdout}${upgraded.stderr}`);
  t.regex(upgraded.stdout, /restarting faultd\.service once the run ends/);
  t.regex(upgraded.stdout, /faultd\.service restarted on the upgraded files \(active\)/);
  await waitFor('the run result', async () => (await hub.run(during.id))?.state === 'finished', 15_000);
  t.is((await hub.run(during.id))?.result?.verdict, 'completed', JSON.stringify((await hub.run(during.id))?.result));
  t.not(mainPid(c), beforeUpgrade, 'the agent was restarted onto the new files');
  t.is(out(c, ['systemctl', 'is-enabled', 'faultd.service']), 'enabled', 'the upgrade keeps it enabled');

  // Removal mid-run: the stop aborts and reverts; the configuration and state stay until purge.
  const removedRun = await hub.queueRun('packaged', experiment('packaged-remove'));
  await runStarted(hub, removedRun.id);
  await waitFor('faults applied', () => c.exec(['pgrep', '-x', 'faultd-stressor']).code === 0, 15_000);
  const removed = c.exec(['dpkg', '-r', 'faultd']);
  t.is(removed.code, 0, `${removed.stdout}${removed.stderr}`);
  t.is(kernelLeftovers(c), '', 'dpkg -r stopped the agent, which reverted the run');
  t.is(out(c, ['systemctl', 'is-active', 'faultd.service']), 'inactive');
  t.not(out(c, ['systemctl', 'is-enabled', 'faultd.service']), 'enabled');
  await waitFor('the aborted result', async () => (await hub.run(removedRun.id))?.state === 'finished', 10_000);
  t.is((await hub.run(removedRun.id))?.result?.verdict, 'aborted', 'the stop aborted the run and sent its result');
  for (const gone of ['/usr/bin/faultd', '/usr/lib/faultd']) t.not(c.exec(['test', '-e', gone]).code, 0, `${gone} removed`);
  for (const kept of ['/var/lib/faultd/ledger.jsonl', '/etc/faultd/config.yaml']) t.is(c.exec(['test', '-e', kept]).code, 0, `${kept} kept by dpkg -r`);
  t.regex(readFileSync(path.join(c.root, 'etc/faultd/config.yaml'), 'utf8'), /url: https:\/\/127\.0\.0\.1:8443/);

  const purged = c.exec(['dpkg', '-P', 'faultd']);
  t.is(purged.code, 0, `${purged.stdout}${purged.stderr}`);
  for (const gone of ['/var/lib/faultd', '/etc/faultd', '/etc/systemd/system/faultd.service']) t.not(c.exec(['test', '-e', gone]).code, 0, `${gone} removed by dpkg -P`);
  t.not(c.exec(['systemctl', 'cat', 'faultd.service']).code, 0, 'systemd no longer knows faultd.service');
}

containerTest('Debian 12 (bookworm): install, disabled until faultd install, faultd run, agent, kill -9, upgrade between runs, remove mid-run, purge', async (t) => {
  await fullLifecycle(t, 'bookworm');
});

containerTest('Debian 13 (trixie): install, disabled until faultd install, faultd run, agent, kill -9, upgrade between runs, remove mid-run, purge', async (t) => {
  await fullLifecycle(t, 'trixie');
});

containerTest('Debian 11 (bullseye, glibc 2.31): dpkg refuses the package (libc6 >= the binaries\' floor); its runtime alone runs, the native addon does not load', async (t) => {
  const c = await boot(t, 'bullseye');
  const glibc = out(c, ['sh', '-c', "ldd --version | head -n 1 | grep -oE '[0-9]+\\.[0-9]+$'"]);
  const required = /libc6 \(>= ([\d.]+)\)/.exec(execFileSync('dpkg-deb', ['-f', DEB, 'Depends'], { encoding: 'utf8' }))?.[1] ?? '';
  t.log(`bullseye glibc ${glibc}; the package requires ${required}`);
  t.true(glibc.localeCompare(required, 'en', { numeric: true }) < 0, 'this test is about a glibc below the requirement');
  const refused = c.exec(['dpkg', '-i', DEB_INSIDE]);
  t.not(refused.code, 0);
  t.regex(`${refused.stdout}${refused.stderr}`, new RegExp(`depends on libc6 \\(>= ${required.replace('.', '\\.')}\\)`));
  t.is(out(c, ['dpkg-query', '-W', '-f', '${Status}', 'faultd']), 'install ok unpacked', 'unpacked, never configured: no script enabled or started anything');
  t.is(out(c, ['systemctl', 'is-enabled', 'faultd.service']).replace(/\n.*/s, ''), 'disabled');
  t.is(c.exec(['dpkg', '-P', 'faultd']).code, 0);

  // What does run there: the Node runtime (glibc 2.28) yes, the native addon (2.34) no.
  c.exec(['mkdir', '-p', '/tmp/x']);
  t.is(c.exec(['dpkg-deb', '-x', DEB_INSIDE, '/tmp/x']).code, 0);
  t.is(out(c, ['/tmp/x/usr/lib/faultd/node', '--version']).slice(0, 4), process.version.slice(0, 4), 'the packaged Node runs on glibc 2.31');
  const loaded = c.exec(['/tmp/x/usr/lib/faultd/node', '-e', "require('/tmp/x/usr/lib/faultd/app/build/Release/faultd_native.node')"]);
  t.not(loaded.code, 0);
  t.regex(loaded.stderr, /GLIBC_2\.3[2-9]' not found/, 'the addon needs a newer glibc');
});
