// SPDX-License-Identifier: Apache-2.0
// linux-pid-exhaustion end to end as root, measured on the kernel: faultd runs inside a pids
// cgroup the test limits (so the shared host's pids are never at stake), and the test counts
// the tasks of the fault's cgroup (`tasks`, `pids.current`, the stressor's Threads), forks
// inside the limited cgroup while the fault holds its share, and checks that revert (also
// after kill -9 of faultd) leaves no task and no cgroup.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import type { ExecutionContext } from 'ava';

import { detectCgroupLayout, pidCgroupDirs } from '../../src/host/cgroup.js';
import { Ledger } from '../../src/ledger/ledger.js';
import { loadNative } from '../../src/native/load.js';
import { STRESSOR_BIN, experimentYaml, finish, runCli, runWorkspace, startCliInCgroup, waitForLine, workspace, type CliChild } from '../helpers/cli.js';
import { stressorsMatching, waitUntil } from '../helpers/processes.js';
import { privilegedTest as test } from '../helpers/privileged.js';

/** pids.max of the cgroup faultd runs in: far below the host's 32768, so the test is cheap. */
const LIMIT = 1500;

const layout = detectCgroupLayout();

interface PidRecord {
  tag: string;
  pid: number;
  startTime: number;
  cgroups: string[];
  tasks: number;
}

/** A fresh pids cgroup below the test's own, with pids.max = `limit`; removed at teardown. */
function limitedCgroup(t: ExecutionContext, limit: number): string {
  const mount = layout.mounts.get('pids');
  const own = layout.ownPaths.get('pids');
  if (!mount || own === undefined) throw new Error('no v1 pids hierarchy');
  const dir = path.join(mount, own, `faultd-test-pids-${process.pid}-${Math.random().toString(36).slice(2, 8)}`);
  mkdirSync(dir);
  writeFileSync(path.join(dir, 'pids.max'), `${limit}\n`);
  t.teardown(async () => {
    await waitUntil(() => readNumber(dir, 'pids.current') === 0, 3000);
    for (const child of readdirSync(dir, { withFileTypes: true })) if (child.isDirectory()) rmdirSync(path.join(dir, child.name));
    rmdirSync(dir);
  });
  return dir;
}

function readNumber(dir: string, file: string): number {
  try {
    return Number(readFileSync(path.join(dir, file), 'utf8').trim());
  } catch {
    return 0;
  }
}

function lines(file: string): number {
  try {
    return readFileSync(file, 'utf8').split('\n').filter(Boolean).length;
  } catch {
    return 0;
  }
}

function threadsOf(pid: number): number {
  return Number(/^Threads:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
}

/** Forks `n` processes from a shell placed in `dir`; true when all of them ran. */
function forkIn(dir: string, n: number): boolean {
  const script = `echo $$ > "${dir}/cgroup.procs" || exit 9; i=0; while [ $i -lt ${n} ]; do /bin/true & i=$((i+1)); done; wait; echo forked`;
  const result = spawnSync('/bin/sh', ['-c', script], { encoding: 'utf8' });
  return result.status === 0 && result.stdout.trim() === 'forked';
}

function setup(t: ExecutionContext, params: Record<string, unknown>, limit = LIMIT) {
  const limited = limitedCgroup(t, limit);
  const { ws, run } = runWorkspace(t, (args, stateDir) => startCliInCgroup(limited, args, stateDir));
  const file = ws.file('exp.json', experimentYaml([[{ kind: 'linux-pid-exhaustion', name: 'pids', duration: '60s', params }]]));
  const start = (...extra: string[]): CliChild => run(file, ...extra);
  return { ws, limited, file, start };
}

async function appliedRecord(stateDir: string): Promise<PidRecord> {
  const ledger = new Ledger(stateDir, loadNative());
  for (let i = 0; i < 250; i += 1) {
    const entry = [...(await ledger.entries()).values()].find((e) => e.state === 'applied');
    if (entry) return entry.revert as unknown as PidRecord;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error('no applied fault in the ledger');
}

/** `N tasks (P% of F free pids, …)` from the plan's target. */
function plannedFrom(line: string): { tasks: number; percentage: number; free: number } {
  const match = /(\d+) tasks \((\d+)% of (\d+) free pids/.exec(line);
  if (!match) throw new Error(`no plan in ${line}`);
  return { tasks: Number(match[1]), percentage: Number(match[2]), free: Number(match[3]) };
}

function pidsDir(record: PidRecord): string {
  const dir = record.cgroups.find((d) => d.startsWith(layout.mounts.get('pids') ?? '/nonexistent'));
  if (!dir) throw new Error(`no pids cgroup in ${record.cgroups.join(', ')}`);
  return dir;
}

test('the fault holds exactly the planned tasks in its cgroup, forks still work, and revert leaves 0 tasks and no cgroup', async (t) => {
  const { ws, limited, start } = setup(t, { percentage: 50, reserve: 256 });
  const baseline = readNumber(limited, 'pids.current');
  t.is(baseline, 0);
  const child = start();
  const line = await waitForLine(child, /fault applied/);
  const plan = plannedFrom(line);
  const record = await appliedRecord(ws.stateDir);
  t.is(record.tasks, plan.tasks, 'the ledger holds the planned count');
  t.true(plan.free < LIMIT && plan.free > LIMIT - 100, `free ${plan.free} is pids.max ${LIMIT} minus faultd's own tasks`);
  t.is(plan.tasks, Math.min(Math.floor(plan.free / 2), plan.free - 256), '50 % of free, rounded down');
  const dir = pidsDir(record);
  t.true(await waitUntil(() => lines(path.join(dir, 'tasks')) === plan.tasks, 2000));
  t.is(lines(path.join(dir, 'tasks')), plan.tasks, 'tasks in the fault cgroup = plan (±0)');
  t.is(readNumber(dir, 'pids.current'), plan.tasks, 'pids.current = plan');
  t.is(readNumber(dir, 'pids.max'), plan.tasks, 'the fault cgroup is capped at the plan');
  t.is(threadsOf(record.pid), plan.tasks, 'the stressor holds them as threads');
  t.true(forkIn(limited, 20), 'fork() inside the limited cgroup still works');
  t.true(LIMIT - readNumber(limited, 'pids.current') >= 256, 'at least the reserve stays free');
  child.kill('SIGINT');
  const result = await finish(child);
  t.is(result.code, 3, result.stdout + result.stderr);
  t.regex(result.stdout, new RegExp(`killed ${plan.tasks} task\\(s\\) \\(cgroup\\.kill`));
  for (const d of record.cgroups) t.false(existsSync(d), `${d} removed`);
  t.deepEqual(stressorsMatching(record.tag), []);
  t.true(await waitUntil(() => readNumber(limited, 'pids.current') === 0, 2000), 'no task left in the limited cgroup');
  t.regex((await runCli(['status'], ws.stateDir)).stdout, /Clean/);
});

test('percentage 100 holds everything but the reserve, and the reserve still forks', async (t) => {
  const { ws, limited, start } = setup(t, { percentage: 100, reserve: 300 });
  const child = start();
  const plan = plannedFrom(await waitForLine(child, /fault applied/));
  const record = await appliedRecord(ws.stateDir);
  t.is(plan.tasks, plan.free - 300);
  t.true(await waitUntil(() => lines(path.join(pidsDir(record), 'tasks')) === plan.tasks, 2000));
  t.is(lines(path.join(pidsDir(record), 'tasks')), plan.tasks);
  const free = LIMIT - readNumber(limited, 'pids.current');
  t.true(free >= 256 && free <= 300, `free pids in the limited cgroup: ${free}`);
  t.true(forkIn(limited, 100), 'a hundred forks succeed in the reserve');
  child.kill('SIGINT');
  t.is((await finish(child)).code, 3);
  for (const d of record.cgroups) t.false(existsSync(d), `${d} removed`);
});

test('kill -9 of faultd mid-fault, then revert --remnants leaves no task and no cgroup', async (t) => {
  const { ws, limited, start } = setup(t, { percentage: 40 });
  const child = start();
  const plan = plannedFrom(await waitForLine(child, /fault applied/));
  const record = await appliedRecord(ws.stateDir);
  t.true(await waitUntil(() => lines(path.join(pidsDir(record), 'tasks')) === plan.tasks, 2000));
  child.kill('SIGKILL');
  await finish(child);
  t.regex((await runCli(['status'], ws.stateDir)).stdout, /APPLIED/);
  const revert = await runCli(['revert', '--remnants'], ws.stateDir);
  t.is(revert.code, 0, revert.stdout + revert.stderr);
  t.regex(revert.stdout, /1 remnant\(s\)/);
  for (const d of record.cgroups) t.false(existsSync(d), `${d} removed`);
  t.deepEqual(stressorsMatching(record.tag), []);
  t.true(await waitUntil(() => readNumber(limited, 'pids.current') === 0, 2000));
  t.regex((await runCli(['status'], ws.stateDir)).stdout, /Clean/);
  const again = await runCli(['revert', '--remnants'], ws.stateDir);
  t.is(again.code, 0);
  t.regex(again.stdout, /No remnants/, 'idempotent');
});

for (const { name, v1Only, how } of [
  { name: 'with cgroup.kill (the unified hierarchy), a remnant revert kills every live task at once', v1Only: false, how: 'cgroup\\.kill' },
  { name: 'without cgroup.kill (v1 only), a remnant revert freezes, kills and verifies through the freezer', v1Only: true, how: 'freezer' },
]) {
  test(name, async (t) => {
    const ws = workspace();
    t.teardown(() => ws.remove());
    const tag = `pids-${v1Only ? 'v1' : 'kill'}-${process.pid}`;
    // With v1Only, the v1 hierarchies only, as on a pure-v1 host.
    const mounts = v1Only ? new Map([...layout.mounts].filter(([k]) => k !== 'unified')) : layout.mounts;
    const cgroups = pidCgroupDirs({ ...layout, mode: v1Only ? 'v1' : layout.mode, mounts }, tag);
    t.is(cgroups.length, v1Only ? 2 : 3);
    for (const dir of cgroups) {
      mkdirSync(dir);
      t.teardown(() => existsSync(dir) && rmdirSync(dir));
    }
    // Not a child of any faultd (PDEATHSIG cannot help): only the revert can end its tasks.
    const stressor = spawn(STRESSOR_BIN, ['pids', '--tasks=200', `--tag=${tag}`], { stdio: ['ignore', 'pipe', 'ignore'] });
    t.teardown(() => stressor.kill('SIGKILL'));
    await new Promise((resolve) => stressor.once('spawn', resolve));
    const pid = stressor.pid ?? 0;
    // Without --wait-go it starts its threads at once; writing cgroup.procs moves all of them.
    for (const dir of cgroups) writeFileSync(`${dir}/cgroup.procs`, `${pid}\n`);
    const counted = cgroups[0] ?? '';
    t.true(await waitUntil(() => lines(path.join(counted, 'tasks')) === 200, 3000), 'the 200 tasks are in the fault cgroup');
    const ledger = new Ledger(ws.stateDir, loadNative());
    await ledger.open();
    const bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    const revert = { tag, bootId, cgroups, tasks: 200 };
    await ledger.append({ event: 'intent', faultId: tag, runId: 'r', kind: 'linux-pid-exhaustion', target: 't', bootId, owner: { pid: 999_999, startTime: 1 }, revert });
    await ledger.append({ event: 'applied', faultId: tag, revert: { ...revert, pid, startTime: loadNative().processStartTime(pid) ?? 0 } });
    await ledger.close();
    const result = await runCli(['revert', '--remnants'], ws.stateDir);
    t.is(result.code, 0, result.stdout + result.stderr);
    t.regex(result.stdout, new RegExp(`killed 200 task\\(s\\) \\(${how} `));
    t.true(await waitUntil(() => stressor.signalCode !== null || stressor.exitCode !== null, 2000));
    t.is(stressor.signalCode, 'SIGKILL', 'killed through the cgroup, not by SIGTERM');
    for (const dir of cgroups) t.false(existsSync(dir), `${dir} removed`);
  });
}

test('bad input exits 2, names the field and range, and changes nothing', async (t) => {
  const { ws, limited, file } = setup(t, { percentage: 150 });
  const bad = await finish(startCliInCgroup(limited, ['run', file], ws.stateDir));
  t.is(bad.code, 2);
  t.regex(bad.stderr, /spec\.steps\[0\]\.faults\[0\]\.params\.percentage: must be in 1–100 \(got 150\)/);
  t.false(existsSync(ws.stateDir), 'no state dir, no ledger');
  const low = ws.file('low.json', experimentYaml([[{ kind: 'linux-pid-exhaustion', params: { reserve: 10 } }]]));
  const lowResult = await runCli(['run', low], ws.stateDir);
  t.is(lowResult.code, 2);
  t.regex(lowResult.stderr, /params\.reserve: must be in 256–4194304 \(got 10\)/);
});

test('a reserve larger than the free pids is refused at plan time, naming reserve; nothing is created', async (t) => {
  const { ws, limited, start } = setup(t, { percentage: 50, reserve: 1024 }, 600);
  const child = start();
  const result = await finish(child);
  t.is(result.code, 1, result.stdout + result.stderr);
  t.regex(result.stdout, /params\.reserve: only \d+ pids are free \(pids\.max 600 − pids\.current \d+ of [^)]+\); keeping reserve 1024 free leaves none to hold \(reserve must be 256–\d+ here\)/);
  t.deepEqual(readdirSync(limited, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name), [], 'no fault cgroup');
  t.regex((await runCli(['status'], ws.stateDir)).stdout, /Clean/);
});
