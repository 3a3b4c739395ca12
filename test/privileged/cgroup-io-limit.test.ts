// SPDX-License-Identifier: Apache-2.0
// linux-cgroup-limit's io limits (v1 blkio here) on loop devices over images in a tmpfs the test
// mounts, and a blkio cgroup the test makes around a `dd oflag=direct` it starts: the rate the
// kernel lets through (sectors written in /sys/block/<loop>/stat) under ioWriteBps 4Mi, the
// device's rule as the kernel reads it back, the exact previous content of every throttle file
// after the revert (a rule of another device and a previous rule of the same device included),
// also after a kill -9 of faultd and `revert --remnants`; and bad input that exits 2 and writes
// nothing. (This kernel has no partition table parsers, so a partition resolving to its disk is
// covered by the unit test on a made-up sysfs.)
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import type { ExecutionContext } from 'ava';

import { deviceRule } from '../../src/host/cgroup-io-limits.js';
import { createCgroups, detectCgroupLayout, moveIntoCgroups, removeCgroup } from '../../src/host/cgroup.js';
import { deviceWriteRate, directWriter, loopDevices } from '../helpers/block-devices.js';
import { experimentYaml, finish, runCli, startCli, waitForLine, workspace, type Workspace } from '../helpers/cli.js';
import { privilegedTest as test } from '../helpers/privileged.js';

const MiB = 1024 * 1024;
const FILES = ['read_bps', 'write_bps', 'read_iops', 'write_iops'].map((f) => `blkio.throttle.${f}_device`);

const read = (file: string): string => readFileSync(file, 'utf8');

/** A new blkio cgroup under ours with `rules` (file → lines) written first; its dir and every throttle file's text. */
function blkioCgroup(t: ExecutionContext, rules: Record<string, string[]> = {}) {
  const layout = detectCgroupLayout();
  const mount = layout.mounts.get('blkio');
  if (!mount) throw new Error('no v1 blkio hierarchy here: this test needs one');
  const dir = path.join(mount, layout.ownPaths.get('blkio') ?? '/', `faultd-test-io-${process.pid}-${Math.floor(Math.random() * 1e6)}`);
  const { skipped } = createCgroups([dir]);
  if (skipped.length) throw new Error(`cannot make the test cgroup: ${skipped.join('; ')}`);
  t.teardown(async () => {
    await removeCgroup(dir, 3000);
  });
  for (const [file, lines] of Object.entries(rules)) for (const line of lines) writeFileSync(path.join(dir, file), `${line}\n`);
  const files = () => Object.fromEntries(FILES.map((f) => [f, read(path.join(dir, f))]));
  return { dir, files };
}

/** `faultd run` of one linux-cgroup-limit fault; SIGKILLed at teardown if it still runs (a failed assertion ends the test early). */
function start(t: ExecutionContext, ws: Workspace, params: Record<string, unknown>, duration = '8s') {
  const file = ws.file(`io-${Math.random().toString(36).slice(2)}.json`, experimentYaml([[{ kind: 'linux-cgroup-limit', name: 'io', duration, params }]]));
  const child = startCli(['--log-format', 'json', 'run', file], ws.stateDir);
  t.teardown(() => child.kill('SIGKILL'));
  return child;
}

function setUp(t: ExecutionContext, devices: number) {
  const ws = workspace();
  t.teardown(async () => {
    await runCli(['revert', '--remnants', '--force'], ws.stateDir);
    ws.remove();
  });
  return { ws, loops: loopDevices(t, ws, devices) };
}

test('ioWriteBps 4Mi on a loop device: a direct writer in the cgroup gets 4 MiB/s; the rule reads back; every throttle file comes back exactly, another device\'s rule and the device\'s previous read rule untouched', async (t) => {
  const { ws, loops } = setUp(t, 2);
  const [a, b] = loops;
  if (!a || !b) throw new Error('two loop devices');
  const { dir, files } = blkioCgroup(t, {
    'blkio.throttle.write_bps_device': [`${b.device} 1048576`],
    'blkio.throttle.read_bps_device': [`${a.device} 209715200`],
  });
  const before = files();
  const pid = directWriter(t, a.node, dir);
  const free = await deviceWriteRate(a.name, 500);
  t.log(`unlimited: ${(free / MiB).toFixed(1)} MiB/s`);
  t.true(free > 16 * MiB, `the writer goes faster than the limit without it (${free / MiB} MiB/s)`);
  const child = start(t, ws, { processIDs: pid, ioDevice: a.node, ioWriteBps: '4Mi' });
  await waitForLine(child, /cgroup limits set/, 10_000);
  const during = files();
  t.is(deviceRule(during['blkio.throttle.write_bps_device'] ?? '', a.device), String(4 * MiB));
  t.is(deviceRule(during['blkio.throttle.write_bps_device'] ?? '', b.device), '1048576', 'the other device\'s rule is left as it was');
  t.deepEqual({ ...during, 'blkio.throttle.write_bps_device': '' }, { ...before, 'blkio.throttle.write_bps_device': '' }, 'only write_bps_device changed');
  await sleep(1000);
  const windows: number[] = [];
  for (let i = 0; i < 4; i += 1) windows.push((await deviceWriteRate(a.name, 1000)) / MiB);
  const mean = windows.reduce((x, y) => x + y, 0) / windows.length;
  t.log(`ioWriteBps 4 MiB/s: /sys/block/${a.name}/stat written per 1 s: ${windows.map((w) => w.toFixed(3)).join(' ')} (mean ${mean.toFixed(3)})`);
  t.true(Math.abs(mean - 4) < 0.4, `mean ${mean} MiB/s`);
  const result = await finish(child);
  t.is(result.code, 0, result.stdout + result.stderr);
  t.deepEqual(files(), before, 'every throttle file holds exactly its previous text');
  t.true((await deviceWriteRate(a.name, 500)) > 16 * MiB, 'the writer runs free again');
});

test('kill -9 of faultd leaves the io rules (device given as MAJ:MIN); revert --remnants restores the previous text; idempotent', async (t) => {
  const { ws, loops } = setUp(t, 1);
  const [a] = loops;
  if (!a) throw new Error('one loop device');
  const { dir, files } = blkioCgroup(t, { 'blkio.throttle.write_iops_device': [`${a.device} 100000`] });
  const before = files();
  const sleeper = spawn('sleep', ['60'], { stdio: 'ignore' });
  t.teardown(() => sleeper.kill('SIGKILL'));
  moveIntoCgroups([dir], sleeper.pid ?? 0);
  const child = start(t, ws, { processIDs: sleeper.pid ?? 0, ioDevice: a.device, ioWriteIops: 50, ioReadBps: '1Mi' }, '60s');
  await waitForLine(child, /cgroup limits set/, 10_000);
  child.kill('SIGKILL');
  await finish(child);
  const during = files();
  t.is(deviceRule(during['blkio.throttle.write_iops_device'] ?? '', a.device), '50', 'the previous rule of the device, replaced');
  t.is(deviceRule(during['blkio.throttle.read_bps_device'] ?? '', a.device), String(MiB));
  const revert = await runCli(['revert', '--remnants'], ws.stateDir);
  t.is(revert.code, 0, revert.stdout + revert.stderr);
  t.deepEqual(files(), before);
  t.is((await runCli(['revert', '--remnants'], ws.stateDir)).stdout.trim(), 'No remnants: the ledger shows nothing applied.');
});

test('bad io input exits 2 naming the field and its range, and writes nothing', async (t) => {
  const { ws, loops } = setUp(t, 1);
  const [a] = loops;
  if (!a) throw new Error('one loop device');
  const { dir, files } = blkioCgroup(t);
  const before = files();
  const sleeper = spawn('sleep', ['60'], { stdio: 'ignore' });
  t.teardown(() => sleeper.kill('SIGKILL'));
  moveIntoCgroups([dir], sleeper.pid ?? 0);
  const pid = sleeper.pid ?? 0;
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ processIDs: pid, ioDevice: '/dev/null', ioWriteBps: '4Mi' }, /params\.ioDevice: must be a block device node or MAJ:MIN; \/dev\/null is a character device, not a block device/],
    [{ processIDs: pid, ioDevice: '7:99999', ioWriteBps: '4Mi' }, /params\.ioDevice: must be a block device node or MAJ:MIN; no block device 7:99999 on this host/],
    [{ processIDs: pid, ioDevice: a.node, ioWriteBps: '1Ki' }, /ioWriteBps: must be in 4Ki–1Ti bytes\/s/],
    [{ processIDs: pid, ioDevice: a.node, ioReadIops: 2_000_000 }, /ioReadIops: must be in 2–1000000/],
    [{ processIDs: pid, ioWriteIops: 5 }, /ioDevice: ioWriteIops need\(s\) ioDevice/],
    [{ processIDs: pid, ioDevice: a.node }, /ioDevice: give at least one of ioReadBps, ioWriteBps, ioReadIops, ioWriteIops with it/],
  ];
  for (const [params, message] of cases) {
    const result = await finish(start(t, ws, params));
    t.is(result.code, 2, JSON.stringify(params));
    t.regex(result.stdout + result.stderr, message);
  }
  t.deepEqual(files(), before);
});
