// SPDX-License-Identifier: Apache-2.0
// linux-cgroup-limit's io limits on cgroup v2 (io.max) and through a partition, which this
// machine's kernel cannot show (its v2 has no io controller, and it has no partition table
// parsers): run inside the QEMU guest of test/vm/run.sh, whose Debian kernel has both. The test
// mounts cgroup2 there, makes loop devices with an MBR partition over images in a tmpfs, and
// measures a `dd oflag=direct` in its own cgroup under ioWriteBps given through the partition:
// the rate the kernel lets through, the device's io.max line (other devices' lines and the
// device's other keys untouched), and io.max's exact previous text after the revert and after a
// kill -9 + `revert --remnants`. Loose bounds: TCG emulation slows the guest.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

import type { ExecutionContext } from 'ava';

import { deviceRule } from '../../src/host/cgroup-io-limits.js';
import { moveIntoCgroups, removeCgroup } from '../../src/host/cgroup.js';
import { deviceWriteRate, directWriter, loopDevices, type LoopDevice } from '../helpers/block-devices.js';
import { experimentYaml, finish, runCli, startCli, waitForLine, workspace, type Workspace } from '../helpers/cli.js';
import { privilegedTest as test } from '../helpers/privileged.js';

const MiB = 1024 * 1024;
const CGROUP_ROOT = '/sys/fs/cgroup';

test.before(() => {
  if (!readFileSync('/proc/cmdline', 'utf8').includes('faultd_command=')) throw new Error('test:vm mounts cgroup2 on /sys/fs/cgroup: it runs only in the QEMU guest of test/vm/run.sh');
  execFileSync('modprobe', ['loop']); // no udev in the guest to load it on first use
  if (!readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((l) => l.includes(` ${CGROUP_ROOT} `) && l.includes(' - cgroup2 '))) {
    execFileSync('mount', ['-t', 'cgroup2', 'cgroup2', CGROUP_ROOT]);
  }
  writeFileSync(`${CGROUP_ROOT}/cgroup.subtree_control`, '+io');
});

/** A cgroup under the v2 root with `rules` written to its io.max first; its dir and io.max's text. */
function ioCgroup(t: ExecutionContext, rules: string[] = []) {
  const dir = `${CGROUP_ROOT}/faultd-test-io-${process.pid}-${Math.floor(Math.random() * 1e6)}`;
  mkdirSync(dir);
  t.teardown(async () => {
    await removeCgroup(dir, 3000);
  });
  for (const rule of rules) writeFileSync(`${dir}/io.max`, `${rule}\n`);
  return { dir, ioMax: () => readFileSync(`${dir}/io.max`, 'utf8') };
}

function start(t: ExecutionContext, ws: Workspace, params: Record<string, unknown>, duration: string) {
  const file = ws.file(`io-${Math.random().toString(36).slice(2)}.json`, experimentYaml([[{ kind: 'linux-cgroup-limit', name: 'io', duration, params }]]));
  const child = startCli(['--log-format', 'json', 'run', file], ws.stateDir);
  t.teardown(() => child.kill('SIGKILL'));
  return child;
}

function setUp(t: ExecutionContext, count: number): { ws: Workspace; loops: LoopDevice[] } {
  const ws = workspace();
  t.teardown(async () => {
    await runCli(['revert', '--remnants', '--force'], ws.stateDir);
    ws.remove();
  });
  return { ws, loops: loopDevices(t, ws, count, { partitioned: true }) };
}

async function partitionOf(loop: LoopDevice): Promise<string> {
  const node = `${loop.node}p1`;
  for (let i = 0; i < 100 && !existsSync(node); i += 1) await sleep(20);
  if (!existsSync(node)) throw new Error(`${node} did not appear (no MBR support in this kernel?)`);
  return node;
}

test('v2 io.max through a partition: ioWriteBps 4Mi holds a direct writer at 4 MiB/s on the disk; only that device\'s wbps changes; io.max comes back exactly', async (t) => {
  const { ws, loops } = setUp(t, 2);
  const [a, b] = loops;
  if (!a || !b) throw new Error('two loop devices');
  const partition = await partitionOf(a);
  const { dir, ioMax } = ioCgroup(t, [`${b.device} rbps=1048576`, `${a.device} riops=100000`]);
  const before = ioMax();
  t.is(deviceRule(before, a.device), 'rbps=max wbps=max riops=100000 wiops=max');
  const pid = directWriter(t, a.node, dir);
  const free = await deviceWriteRate(a.name, 1000);
  t.log(`unlimited: ${(free / MiB).toFixed(1)} MiB/s`);
  t.true(free > 12 * MiB, `the writer goes faster than the limit without it (${free / MiB} MiB/s)`);
  const child = start(t, ws, { processIDs: pid, ioDevice: partition, ioWriteBps: '4Mi' }, '12s');
  await waitForLine(child, /cgroup limits set/, 120_000);
  const during = ioMax();
  t.is(deviceRule(during, a.device), `rbps=max wbps=${4 * MiB} riops=100000 wiops=max`, 'the rule is on the partition\'s disk, its riops kept');
  t.is(deviceRule(during, b.device), deviceRule(before, b.device), 'the other device\'s line is left as it was');
  await sleep(1000);
  const windows: number[] = [];
  for (let i = 0; i < 4; i += 1) windows.push((await deviceWriteRate(a.name, 1000)) / MiB);
  const mean = windows.reduce((x, y) => x + y, 0) / windows.length;
  t.log(`v2 wbps 4 MiB/s: /sys/block/${a.name}/stat written per 1 s: ${windows.map((w) => w.toFixed(3)).join(' ')} (mean ${mean.toFixed(3)})`);
  t.true(Math.abs(mean - 4) < 0.6, `mean ${mean} MiB/s`);
  const result = await finish(child);
  t.is(result.code, 0, result.stdout + result.stderr);
  t.is(ioMax(), before, 'io.max reads exactly its previous text');
});

test('v2: kill -9 of faultd leaves the io.max line; revert --remnants removes it (the device had none), idempotent', async (t) => {
  const { ws, loops } = setUp(t, 1);
  const [a] = loops;
  if (!a) throw new Error('one loop device');
  const { dir, ioMax } = ioCgroup(t);
  const before = ioMax();
  const sleeper = spawn('sleep', ['120'], { stdio: 'ignore' });
  t.teardown(() => sleeper.kill('SIGKILL'));
  moveIntoCgroups([dir], sleeper.pid ?? 0);
  const child = start(t, ws, { processIDs: sleeper.pid ?? 0, ioDevice: a.node, ioWriteIops: 50, ioReadBps: '1Mi' }, '120s');
  await waitForLine(child, /cgroup limits set/, 120_000);
  child.kill('SIGKILL');
  await finish(child);
  t.is(deviceRule(ioMax(), a.device), `rbps=${MiB} wbps=max riops=max wiops=50`);
  const revert = await runCli(['revert', '--remnants'], ws.stateDir);
  t.is(revert.code, 0, revert.stdout + revert.stderr);
  t.is(ioMax(), before);
  t.is(deviceRule(ioMax(), a.device), '');
  t.is((await runCli(['revert', '--remnants'], ws.stateDir)).stdout.trim(), 'No remnants: the ledger shows nothing applied.');
});
