// SPDX-License-Identifier: Apache-2.0
// linux-cgroup-limit on cgroups the test makes (children of its own, in the cpu, memory and pids
// hierarchies) around a busy loop it starts: the limit files as the kernel reads them, the
// loop's CPU share under the quota, the exact previous values after the revert, also after a
// kill -9 of faultd and `revert --remnants`; and the refusals.
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import type { ExecutionContext } from 'ava';

import { createCgroups, detectCgroupLayout, moveIntoCgroups, removeCgroup } from '../../src/host/cgroup.js';
import { experimentYaml, finish, runCli, startCli, waitForLine, workspace, type Workspace } from '../helpers/cli.js';
import { privilegedTest as test } from '../helpers/privileged.js';
import { runTimeNs } from '../helpers/processes.js';

const CONTROLLERS = ['cpu', 'memory', 'pids'] as const;
const FILES = { cpu: 'cpu.cfs_quota_us', memory: 'memory.limit_in_bytes', pids: 'pids.max' } as const;

const read = (file: string): string => readFileSync(file, 'utf8').trim();

/** A busy loop in new cgroups (one per controller); its pid, the cgroup dirs, and the files' values now. */
function setUp(t: ExecutionContext) {
  const layout = detectCgroupLayout();
  const name = `faultd-test-limit-${process.pid}-${Math.floor(Math.random() * 1e6)}`;
  const dirs = Object.fromEntries(CONTROLLERS.map((c) => [c, path.join(layout.mounts.get(c) ?? '/missing', layout.ownPaths.get(c) ?? '/', name)])) as Record<(typeof CONTROLLERS)[number], string>;
  const { skipped } = createCgroups(Object.values(dirs));
  if (skipped.length) throw new Error(`cannot make test cgroups: ${skipped.join('; ')}`);
  const loop = spawn('sh', ['-c', 'while :; do :; done'], { stdio: 'ignore' });
  const pid = loop.pid ?? 0;
  moveIntoCgroups(Object.values(dirs), pid);
  const ws = workspace();
  t.teardown(async () => {
    loop.kill('SIGKILL');
    await runCli(['revert', '--remnants', '--force'], ws.stateDir);
    for (const dir of Object.values(dirs)) await removeCgroup(dir, 3000);
    ws.remove();
  });
  const values = () => Object.fromEntries(CONTROLLERS.map((c) => [c, read(path.join(dirs[c], FILES[c]))]));
  return { ws, pid, dirs, before: values(), values, period: Number(read(path.join(dirs.cpu, 'cpu.cfs_period_us'))) };
}

function start(ws: Workspace, params: Record<string, unknown>, duration = '3s') {
  const file = ws.file(`limit-${Math.random().toString(36).slice(2)}.json`, experimentYaml([[{ kind: 'linux-cgroup-limit', name: 'limit', duration, params }]]));
  return startCli(['--log-format', 'json', 'run', file], ws.stateDir);
}

/** The share of one CPU `pid` got over `ms`. */
async function cpuShare(pid: number, ms: number): Promise<number> {
  const [ns0, t0] = [runTimeNs(pid), process.hrtime.bigint()];
  await new Promise((resolve) => setTimeout(resolve, ms));
  return (runTimeNs(pid) - ns0) / Number(process.hrtime.bigint() - t0);
}

test('cpu 0.2, memory 64Mi, pids 50 on the processes\' cgroups: the kernel reads them back, the loop gets 20 % of a CPU; the previous values come back exactly', async (t) => {
  const { ws, pid, before, values, period } = setUp(t);
  const child = start(ws, { processIDs: pid, cpu: 0.2, memory: '64Mi', pids: 50 });
  await waitForLine(child, /cgroup limits set/, 10_000);
  t.deepEqual(values(), { cpu: String(0.2 * period), memory: String(64 * 2 ** 20), pids: '50' });
  const share = await cpuShare(pid, 1000);
  t.log(`quota 0.2 cores: the loop got ${(share * 100).toFixed(1)} % of a CPU`);
  t.true(Math.abs(share - 0.2) < 0.05, `${share}`);
  const result = await finish(child);
  t.is(result.code, 0, result.stdout + result.stderr);
  t.deepEqual(values(), before, 'restored exactly');
  t.true((await cpuShare(pid, 500)) > 0.5, 'the loop runs free again');
});

test('a memory limit that is not a whole number of pages: the kernel reads back whole pages of the size getconf reports, and faultd\'s read-back agrees', async (t) => {
  const { ws, pid, before, values } = setUp(t);
  const page = Number(execFileSync('getconf', ['PAGESIZE'], { encoding: 'utf8' }).trim());
  const asked = 64 * 2 ** 20 + 1000;
  const child = start(ws, { processIDs: pid, memory: asked });
  await waitForLine(child, /cgroup limits set/, 10_000);
  t.is(values()['memory'], String(Math.floor(asked / page) * page));
  const result = await finish(child);
  t.is(result.code, 0, result.stdout + result.stderr);
  t.deepEqual(values(), before, 'restored exactly');
});

test('v1 cpu quota under the kernel\'s 1 ms minimum (the group\'s own period of 10 ms): the kernel refuses 500 µs (EINVAL), and faultd refuses cpu 0.05 at plan (exit 1, as other plan-time refusals) naming cpu and 0.1 cores, writing nothing', async (t) => {
  const { ws, pid, dirs, values } = setUp(t);
  const periodFile = path.join(dirs.cpu, 'cpu.cfs_period_us');
  const oldPeriod = read(periodFile);
  writeFileSync(periodFile, '10000');
  t.teardown(() => writeFileSync(periodFile, oldPeriod));
  t.throws(() => writeFileSync(path.join(dirs.cpu, 'cpu.cfs_quota_us'), '500'), { code: 'EINVAL' }, 'the kernel\'s own minimum');
  const before = values();
  const result = await finish(start(ws, { processIDs: pid, cpu: 0.05 }));
  t.is(result.code, 1, result.stdout + result.stderr);
  t.regex(result.stdout + result.stderr, /params\.cpu: 0\.05 cores of the cgroup's period of 10000 µs is a quota of 500 µs, below the kernel's minimum of 1000 µs \(1 ms\): give at least 0\.1 cores for this cgroup/);
  t.deepEqual(values(), before, 'nothing written');
  const fits = start(ws, { processIDs: pid, cpu: 0.1 });
  await waitForLine(fits, /cgroup limits set/, 10_000);
  t.is(values()['cpu'], '1000');
  t.is((await finish(fits)).code, 0);
  t.deepEqual(values(), before);
});

test('kill -9 of faultd mid-fault leaves the limit; revert --remnants restores the previous value', async (t) => {
  const { ws, pid, before, values } = setUp(t);
  const child = start(ws, { processIDs: String(pid), pids: 7 }, '60s');
  await waitForLine(child, /cgroup limits set/, 10_000);
  child.kill('SIGKILL');
  await finish(child);
  t.is(values()['pids'], '7');
  const revert = await runCli(['revert', '--remnants'], ws.stateDir);
  t.is(revert.code, 0, revert.stdout + revert.stderr);
  t.deepEqual(values(), before);
});

test('refused: a cgroup that holds faultd, no limit, unit and processes together; nothing is written', async (t) => {
  const { ws, pid, before, values } = setUp(t);
  const own = spawn('sleep', ['30'], { stdio: 'ignore' });
  t.teardown(() => own.kill('SIGKILL'));
  const memoryOwn = detectCgroupLayout().ownPaths.get('memory') ?? '/';
  const refusedOwn = await finish(start(ws, { processIDs: own.pid ?? 0, memory: '64Mi' }));
  t.not(refusedOwn.code, 0);
  t.regex(refusedOwn.stdout + refusedOwn.stderr, memoryOwn === '/' ? /root cgroup/ : /holds faultd itself/);
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ processIDs: pid }, /cpu: give at least one limit: cpu, memory, pids, or ioDevice with ioReadBps, ioWriteBps, ioReadIops or ioWriteIops/],
    [{ unit: 'nginx.service', processIDs: pid, pids: 5 }, /unit: give unit, or one of processIDs/],
    [{ processIDs: pid, cpu: 0 }, /cpu: must be in 0\.01–1024/],
    [{ processIDs: pid, memory: '1Zi' }, /memory: must be a size/],
    [{ unit: 'not a unit', pids: 5 }, /unit: must be a systemd unit name/],
  ];
  for (const [params, message] of cases) {
    const result = await finish(start(ws, params));
    t.is(result.code, 2, JSON.stringify(params));
    t.regex(result.stdout + result.stderr, message);
  }
  t.deepEqual(values(), before);
});
