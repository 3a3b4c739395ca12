// SPDX-License-Identifier: Apache-2.0
// linux-pid-exhaustion's planning arithmetic (percentage of free, reserve, the three bounds),
// the host reads it is planned from (an injected /proc and cgroupfs), and its param errors.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import test from 'ava';

import { FaultdError } from '../../../src/errors.js';
import { linuxPidExhaustion, planPidCount, readPidBudget, type PidBudget } from '../../../src/faults/linux-pid-exhaustion.js';
import { ownPidsLimits, pidCgroupDirs, type CgroupLayout } from '../../../src/host/cgroup.js';
import { FAKE_CONTEXT } from '../../helpers/fake.js';

const HOST: PidBudget = { pidMax: 32768, threadsMax: 192726, tasksInUse: 768, cgroupLimits: [] };

test('percentage of the free pids under pid_max, rounded down', (t) => {
  t.deepEqual(planPidCount(HOST, 50, 1024), { free: 32000, bound: 'pid_max 32768 − 768 tasks on the host', tasks: 16000 });
  t.is(planPidCount(HOST, 33, 1024).tasks, 10560);
  t.is(planPidCount({ ...HOST, tasksInUse: 769 }, 50, 1024).tasks, 15999, '31999 / 2 rounds down');
});

test('threads-max bounds when it is below pid_max', (t) => {
  const plan = planPidCount({ ...HOST, pidMax: 4_194_304, threadsMax: 10_768 }, 50, 1024);
  t.is(plan.free, 10_000);
  t.is(plan.tasks, 5000);
  t.regex(plan.bound, /^threads-max 10768/);
});

test('the tightest limited pids.max above faultd bounds, counted by its own pids.current', (t) => {
  const cgroupLimits = [
    { dir: '/sys/fs/cgroup/pids/a/b', max: 5000, current: 12 },
    { dir: '/sys/fs/cgroup/pids/a', max: 2000, current: 500 },
  ];
  const plan = planPidCount({ ...HOST, cgroupLimits }, 50, 256);
  t.is(plan.free, 1500);
  t.is(plan.tasks, 750);
  t.is(plan.bound, 'pids.max 2000 − pids.current 500 of /sys/fs/cgroup/pids/a');
});

test('the reserve always stays free: percentage 100 holds free − reserve', (t) => {
  t.is(planPidCount(HOST, 100, 1024).tasks, 32000 - 1024);
  t.is(planPidCount(HOST, 99, 1024).tasks, 32000 - 1024, '99 % would leave only 320 free');
  t.is(planPidCount(HOST, 90, 1024).tasks, 28800, '90 % leaves 3200 free, more than the reserve');
  const tight = { ...HOST, cgroupLimits: [{ dir: '/c', max: 300, current: 0 }] };
  t.is(planPidCount(tight, 100, 256).tasks, 44);
});

test('when the reserve leaves nothing to hold, the plan is refused naming reserve and the range', (t) => {
  const tight = { ...HOST, cgroupLimits: [{ dir: '/c', max: 600, current: 11 }] };
  const error = t.throws(() => planPidCount(tight, 50, 1024), { instanceOf: FaultdError });
  t.is(error.code, 'FAULTD_ERR_INPUT_INVALID');
  t.is(error.message, 'params.reserve: only 589 pids are free (pids.max 600 − pids.current 11 of /c); keeping reserve 1024 free leaves none to hold (reserve must be 256–588 here)');
  t.throws(() => planPidCount({ ...HOST, cgroupLimits: [{ dir: '/c', max: 200, current: 0 }] }, 50, 256), {
    message: /only 200 pids are free .*fewer than the smallest reserve 256 \+ 1 are free/,
  });
  t.throws(() => planPidCount({ ...HOST, cgroupLimits: [{ dir: '/c', max: 10, current: 20 }] }, 50, 256), { message: /only 0 pids are free/ }, 'over the limit already');
  t.is(planPidCount({ ...HOST, cgroupLimits: [{ dir: '/c', max: 258, current: 0 }] }, 1, 256).tasks, 2, 'the smallest fit: 1 % of 258, 256 stay free');
  t.throws(() => planPidCount({ ...HOST, cgroupLimits: [{ dir: '/c', max: 257, current: 0 }] }, 100, 257), { message: /only 257 pids are free/ });
});

/** A fake /proc and v1 pids hierarchy: faultd in `/svc/faultd`, below `/svc` limited to 2000 with 40 in use. */
function fakeHost(t: import('ava').ExecutionContext): { proc: string; mount: string; cgroups: CgroupLayout } {
  const root = mkdtempSync(path.join(tmpdir(), 'faultd-pids-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const proc = path.join(root, 'proc');
  mkdirSync(path.join(proc, 'sys/kernel'), { recursive: true });
  writeFileSync(path.join(proc, 'sys/kernel/pid_max'), '32768\n');
  writeFileSync(path.join(proc, 'sys/kernel/threads-max'), '192726\n');
  writeFileSync(path.join(proc, 'loadavg'), '0.50 0.40 0.30 2/153 4242\n');
  const mount = path.join(root, 'pids');
  const own = path.join(mount, 'svc/faultd');
  mkdirSync(own, { recursive: true });
  writeFileSync(path.join(mount, 'svc/pids.max'), '2000\n');
  writeFileSync(path.join(mount, 'svc/pids.current'), '40\n');
  writeFileSync(path.join(own, 'pids.max'), 'max\n');
  writeFileSync(path.join(own, 'pids.current'), '12\n');
  const cgroups: CgroupLayout = { mode: 'hybrid', mounts: new Map([['pids', mount], ['freezer', '/f'], ['unified', '/u']]), ownPaths: new Map([['pids', '/svc/faultd'], ['freezer', '/x'], ['', '/']]) };
  return { proc, mount, cgroups };
}

test('the budget is read from pid_max, threads-max, loadavg and the pids.max files up to the root', (t) => {
  const { proc, mount, cgroups } = fakeHost(t);
  t.deepEqual(ownPidsLimits(cgroups), [{ dir: path.join(mount, 'svc'), max: 2000, current: 40 }], 'unlimited levels are skipped');
  const budget = readPidBudget({ procRoot: proc, cgroups });
  t.deepEqual(budget, { pidMax: 32768, threadsMax: 192726, tasksInUse: 153, cgroupLimits: [{ dir: path.join(mount, 'svc'), max: 2000, current: 40 }] });
  t.deepEqual(pidCgroupDirs(cgroups, 'f1'), [path.join(mount, 'svc/faultd/faultd-f1'), '/f/x/faultd-f1', '/u/faultd-f1']);
  t.deepEqual(pidCgroupDirs({ ...cgroups, mode: 'v2' }, 'f1'), ['/u/faultd-f1'], 'v2: the unified hierarchy only');
});

test('the plan (what --dry-run shows) names the count, the bound, the cap and the revert; reverting what is gone is already-absent', async (t) => {
  const { proc, mount, cgroups } = fakeHost(t);
  const ctx = { ...FAKE_CONTEXT, host: { ...FAKE_CONTEXT.host, isRoot: true }, procRoot: proc, cgroups };
  const planned = await linuxPidExhaustion.plan('f1', { percentage: 50, reserve: 256 }, ctx);
  const pidsDir = path.join(mount, 'svc/faultd/faultd-f1');
  t.is(planned.target, '980 tasks (50% of 1960 free pids, 980 stay free)');
  t.deepEqual(planned.revert, { tag: 'f1', bootId: FAKE_CONTEXT.host.bootId, cgroups: [pidsDir, '/f/x/faultd-f1', '/u/faultd-f1'], tasks: 980 });
  t.regex(planned.changes[0] ?? '', /^start process: faultd-stressor pids --tasks=980 --tag=f1 --wait-go --parent-pid=\d+ .*the stressor and 979 threads/);
  t.is(planned.changes[1], `free pids: 1960 (pids.max 2000 − pids.current 40 of ${path.join(mount, 'svc')}); hold 980, keep at least 256 free`);
  t.is(planned.changes[2], `create cgroup ${pidsDir} with pids.max 980 and move the stressor into it`);
  t.is(planned.changes[4], 'create cgroup /u/faultd-f1 and move the stressor into it');
  t.is(planned.revertSteps[0], 'kill every task of the cgroup at once (cgroup.kill on v2, freeze + SIGKILL + thaw on v1)');
  t.is(planned.revertSteps.at(-1), `verify 0 tasks are left in ${pidsDir}`);
  const outcome = await linuxPidExhaustion.revert({ ...planned.revert }, ctx);
  t.is(outcome.outcome, 'already-absent', 'nothing was applied: nothing to kill, no cgroup to remove');
});

test('params: defaults, Harness spellings as strings, and errors naming the field and range', (t) => {
  const ok = linuxPidExhaustion.validateParams({}, FAKE_CONTEXT);
  t.deepEqual(ok, { ok: true, params: { percentage: 50, reserve: 1024 } });
  t.deepEqual(linuxPidExhaustion.validateParams({ percentage: '75', reserve: '512' }, FAKE_CONTEXT), { ok: true, params: { percentage: 75, reserve: 512 } });
  const cases: [Record<string, unknown>, string, string][] = [
    [{ percentage: 0 }, 'percentage', 'must be in 1–100'],
    [{ percentage: 101 }, 'percentage', 'must be in 1–100'],
    [{ percentage: 12.5 }, 'percentage', 'must be a whole number in 1–100'],
    [{ percentage: 'half' }, 'percentage', 'must be a number in 1–100'],
    [{ reserve: 255 }, 'reserve', 'must be in 256–4194304'],
    [{ reserve: 5_000_000 }, 'reserve', 'must be in 256–4194304'],
  ];
  for (const [raw, field, message] of cases) {
    const result = linuxPidExhaustion.validateParams(raw, FAKE_CONTEXT);
    if (result.ok) {
      t.fail(`${JSON.stringify(raw)} accepted`);
      continue;
    }
    t.deepEqual(result.issues[0]?.path, [field], JSON.stringify(raw));
    t.is(result.issues[0]?.message, message, JSON.stringify(raw));
  }
  const unknown = linuxPidExhaustion.validateParams({ workers: 2 }, FAKE_CONTEXT);
  t.false(unknown.ok, 'unknown params are refused');
  t.deepEqual(linuxPidExhaustion.paramDocs(FAKE_CONTEXT).map((d) => `${d.name} ${d.default ?? ''} ${d.bounds}`), ['percentage 50% 1–100 %', 'reserve 1024 256–4194304']);
});
