// SPDX-License-Identifier: Apache-2.0
// Finding a unit's cgroup from a made-up /proc, the limit files per cgroup version, and the io
// plan (the device's rule snapshotted into the intent) on a tmpdir cgroupfs.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import test from 'ava';

import { validateExperiment } from '../../../src/experiment/schema.js';
import { linuxCgroupLimit, unitCgroups } from '../../../src/faults/linux-cgroup-limit.js';
import { REGISTRY } from '../../../src/faults/registry.js';
import type { FaultContext } from '../../../src/faults/types.js';
import { LimitOutOfRange, limitWrite } from '../../../src/host/cgroup-limits.js';
import { FAKE_CONTEXT, FAKE_NATIVE } from '../../helpers/fake.js';
import { FAKE_VALIDATION } from '../../helpers/host.js';

function fakeProc(t: { teardown(fn: () => void): void }, processes: Record<number, string>): string {
  const root = mkdtempSync(path.join(tmpdir(), 'faultd-proc-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  for (const [pid, cgroup] of Object.entries(processes)) {
    mkdirSync(path.join(root, pid));
    writeFileSync(path.join(root, pid, 'stat'), `${pid} (x) S 1 ${pid} ${pid} 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 ${Number(pid) * 10} 0 0`);
    writeFileSync(path.join(root, pid, 'cmdline'), 'x\0');
    writeFileSync(path.join(root, pid, 'cgroup'), cgroup);
  }
  return root;
}

test('a unit\'s cgroup is found through its processes, up to the unit itself (not its sub-cgroups)', (t) => {
  const procRoot = fakeProc(t, {
    10: '4:memory:/system.slice/nginx.service\n1:cpu:/system.slice/nginx.service\n0::/system.slice/nginx.service\n',
    11: '4:memory:/system.slice/nginx.service/worker\n1:cpu:/system.slice/nginx.service/worker\n0::/system.slice/nginx.service/worker\n',
    12: '4:memory:/system.slice/nginx-exporter.service\n0::/system.slice/nginx-exporter.service\n',
  });
  const found = unitCgroups('nginx.service', { procRoot });
  t.is(found.length, 1, 'one cgroup, however many processes');
  t.deepEqual(Object.fromEntries(found[0] ?? []), { memory: '/system.slice/nginx.service', cpu: '/system.slice/nginx.service', '': '/system.slice/nginx.service' });
  t.deepEqual(unitCgroups('redis.service', { procRoot }), []);
});

test('limit files: v2 cpu.max with its own period, memory rounded down to pages as the kernel reads it back, pids', (t) => {
  t.deepEqual(limitWrite('cpu', 0.5, 2, '/cg', 4096), { kind: 'cpu', file: '/cg/cpu.max', value: '50000 100000', expected: '50000 100000' });
  t.deepEqual(limitWrite('memory', 10_000, 2, '/cg', 4096), { kind: 'memory', file: '/cg/memory.max', value: '10000', expected: '8192' });
  t.deepEqual(limitWrite('memory', 8192, 1, '/cg', 4096), { kind: 'memory', file: '/cg/memory.limit_in_bytes', value: '8192', expected: '8192' });
  t.deepEqual(limitWrite('pids', 50, 1, '/cg', 4096), { kind: 'pids', file: '/cg/pids.max', value: '50', expected: '50' });
});

test('memory is read back in pages of the size the addon reports: 64 KiB pages (arm64, ppc64le) round 100000 down to 65536', (t) => {
  t.deepEqual(limitWrite('memory', 100_000, 2, '/cg', 65_536), { kind: 'memory', file: '/cg/memory.max', value: '100000', expected: '65536' });
  t.deepEqual(limitWrite('memory', 100_000, 1, '/cg', 16_384), { kind: 'memory', file: '/cg/memory.limit_in_bytes', value: '100000', expected: '98304' });
});

/** A whole disk of this host (loop and ram disks count), for plans that resolve ioDevice through the real /sys. */
function someDisk(): string | undefined {
  return readdirSync('/sys/dev/block').find((d) => !existsSync(path.join('/sys/dev/block', d, 'partition')));
}

/** A v2-only layout on a tmpdir: faultd in /faultd.service, the target (pid 10) in /app.service with an io.max holding another device's rule. */
function v2Host(t: { teardown(fn: () => void): void }) {
  const root = mkdtempSync(path.join(tmpdir(), 'faultd-cgfs-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  mkdirSync(path.join(root, 'app.service'));
  writeFileSync(path.join(root, 'app.service/cgroup.controllers'), 'cpu io memory pids\n');
  writeFileSync(path.join(root, 'app.service/io.max'), '8:0 rbps=1000 wbps=max riops=max wiops=max\n');
  const procRoot = fakeProc(t, { 10: '0::/app.service\n' });
  const ctx: FaultContext = { ...FAKE_CONTEXT, procRoot, cgroups: { mode: 'v2', mounts: new Map([['unified', root]]), ownPaths: new Map([['', '/faultd.service']]) } };
  return { root, ctx };
}

test('the plan snapshots the device\'s io rule into the intent and writes only that device (v2)', async (t) => {
  const disk = someDisk();
  if (!disk) {
    t.log('no block device in /sys/dev/block here');
    t.pass();
    return;
  }
  const { root, ctx } = v2Host(t);
  const params = linuxCgroupLimit.validateParams({ processIDs: '10', ioDevice: disk, ioWriteBps: '4Mi', ioReadIops: 100 }, ctx);
  if (!params.ok) {
    t.fail(JSON.stringify(params.issues));
    return;
  }
  const planned = await linuxCgroupLimit.plan('f1', params.params, ctx);
  const file = path.join(root, 'app.service/io.max');
  t.deepEqual(planned.revert, { bootId: ctx.host.bootId, changes: [{ kind: 'io', file, device: disk, previous: '', value: `${disk} wbps=4194304 riops=100`, expected: 'rbps=max wbps=4194304 riops=100 wiops=max', restore: `${disk} rbps=max wbps=max riops=max wiops=max` }] });
  t.is(planned.changes.length, 1);
  t.true(planned.changes[0]?.startsWith(`write "${disk} wbps=4194304 riops=100" to ${file} (now no rule): io of ${disk} (`), planned.changes[0]);
});

test('io input: limits without ioDevice, ioDevice without limits, bounds, and a device that is not a block device', (t) => {
  const { ctx } = v2Host(t);
  const issues = (raw: Record<string, unknown>) => {
    const result = linuxCgroupLimit.validateParams(raw, ctx);
    return result.ok ? [] : result.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  };
  t.deepEqual(issues({ processIDs: '10', ioWriteBps: '4Mi' }), ['ioDevice: ioWriteBps need(s) ioDevice: the block device to limit, as "/dev/sdb" or "8:16"']);
  t.deepEqual(issues({ processIDs: '10', ioDevice: '7:0' }), ['ioDevice: give at least one of ioReadBps, ioWriteBps, ioReadIops, ioWriteIops with it']);
  t.deepEqual(issues({ processIDs: '10', ioDevice: '7:0', ioWriteBps: '1Ki' }), ['ioWriteBps: must be in 4Ki–1Ti bytes/s']);
  t.deepEqual(issues({ processIDs: '10', ioDevice: '7:0', ioReadIops: 0 }), ['ioReadIops: must be in 2–1000000']);
  t.deepEqual(issues({ processIDs: '10', ioDevice: 'sdb', ioReadIops: 5 }), ['ioDevice: must be a block device path like "/dev/sdb" or MAJ:MIN like "8:16"']);
  t.deepEqual(issues({ processIDs: '10', ioDevice: '/dev/null', ioWriteIops: 5 }), ['ioDevice: must be a block device node or MAJ:MIN; /dev/null is a character device, not a block device']);
});

/** A pids limit of 50 planned on the v2 layout's app.service, whose pids.max reads "max". */
async function pidsLimitPlanned(t: { teardown(fn: () => void): void }) {
  const { root, ctx } = v2Host(t);
  const file = path.join(root, 'app.service/pids.max');
  writeFileSync(file, 'max\n');
  const params = linuxCgroupLimit.validateParams({ processIDs: '10', pids: 50 }, ctx);
  if (!params.ok) throw new Error(JSON.stringify(params.issues));
  return { ctx, file, planned: await linuxCgroupLimit.plan('f1', params.params, ctx) };
}

test('the plan expects the memory limit back in the kernel\'s pages (the addon\'s pageSize, 64 KiB here), not in 4 KiB pages', async (t) => {
  const { root, ctx } = v2Host(t);
  writeFileSync(path.join(root, 'app.service/memory.max'), 'max\n');
  const bigPages: FaultContext = { ...ctx, native: { ...FAKE_NATIVE, pageSize: () => 65_536 } };
  const params = linuxCgroupLimit.validateParams({ processIDs: '10', memory: 100_000 }, bigPages);
  if (!params.ok) throw new Error(JSON.stringify(params.issues));
  const planned = await linuxCgroupLimit.plan('f1', params.params, bigPages);
  t.deepEqual(planned.revert, { bootId: ctx.host.bootId, changes: [{ kind: 'memory', file: path.join(root, 'app.service/memory.max'), previous: 'max', value: '100000', expected: '65536' }] });
});

test('after a reboot the revert writes nothing: the limits died with their boot, and this boot\'s cgroup of the unit is left as systemd made it', async (t) => {
  const { ctx, file, planned } = await pidsLimitPlanned(t);
  t.is((planned.revert as { bootId?: string }).bootId, ctx.host.bootId, 'the boot is in the intent');
  // The new boot's cgroup holds what the unit's own settings say (here 200), not the old "max".
  writeFileSync(file, '200\n');
  const nextBoot: FaultContext = { ...ctx, host: { ...ctx.host, bootId: 'another-boot' } };
  const outcome = await linuxCgroupLimit.revert(planned.revert, nextBoot);
  t.is(outcome.outcome, 'already-absent');
  t.regex(outcome.detail ?? '', /died with it/);
  t.is(readFileSync(file, 'utf8'), '200\n', 'untouched');
  // In the same boot the previous value is written back.
  writeFileSync(file, '50\n');
  t.is((await linuxCgroupLimit.revert(planned.revert, ctx)).outcome, 'reverted');
  t.is(readFileSync(file, 'utf8').trim(), 'max');
});

test('a limit changed since faultd wrote it is left as it is at revert; a value already back is not written again', async (t) => {
  const { ctx, file, planned } = await pidsLimitPlanned(t);
  writeFileSync(file, '75\n'); // an operator raised it meanwhile
  const outcome = await linuxCgroupLimit.revert(planned.revert, ctx);
  t.is(outcome.outcome, 'already-absent');
  t.regex(outcome.detail ?? '', /changed since by someone else, left as it is: .*reads "75", not the "50" faultd set/);
  t.is(readFileSync(file, 'utf8'), '75\n', 'not overwritten');
  writeFileSync(file, 'max\n');
  const again = await linuxCgroupLimit.revert(planned.revert, ctx);
  t.is(again.outcome, 'reverted');
  t.is(readFileSync(file, 'utf8'), 'max\n', 'not written again');
});

test('a unit without a cgroup of its own in a v1 controller is refused, not its parent slice limited; a user manager\'s unit of the same name is another unit', async (t) => {
  const procRoot = fakeProc(t, {
    // memory accounting off: the unit's process sits in the slice in the memory hierarchy.
    10: '4:memory:/system.slice\n3:pids:/system.slice/app.service\n1:name=systemd:/system.slice/app.service\n0::/system.slice/app.service\n',
    20: '4:memory:/user.slice/user-1000.slice/user@1000.service/app.slice/app.service\n1:name=systemd:/user.slice/user-1000.slice/user@1000.service/app.slice/app.service\n0::/user.slice/user-1000.slice/user@1000.service/app.slice/app.service\n',
  });
  const found = unitCgroups('app.service', { procRoot });
  t.deepEqual(found.map((m) => Object.fromEntries(m)), [{ pids: '/system.slice/app.service', 'name=systemd': '/system.slice/app.service', '': '/system.slice/app.service' }]);
  const v1 = mkdtempSync(path.join(tmpdir(), 'faultd-cgv1-'));
  t.teardown(() => rmSync(v1, { recursive: true, force: true }));
  for (const c of ['memory', 'pids']) mkdirSync(path.join(v1, c, 'system.slice/app.service'), { recursive: true });
  writeFileSync(path.join(v1, 'memory/system.slice/memory.limit_in_bytes'), '9223372036854771712\n');
  writeFileSync(path.join(v1, 'pids/system.slice/app.service/pids.max'), 'max\n');
  const ctx: FaultContext = { ...FAKE_CONTEXT, procRoot, cgroups: { mode: 'v1', mounts: new Map([['memory', path.join(v1, 'memory')], ['pids', path.join(v1, 'pids')]]), ownPaths: new Map([['memory', '/faultd.service'], ['pids', '/faultd.service']]) } };
  const params = linuxCgroupLimit.validateParams({ unit: 'app.service', memory: '64Mi' }, ctx);
  if (!params.ok) {
    t.fail(JSON.stringify(params.issues));
    return;
  }
  await t.throwsAsync(async () => linuxCgroupLimit.plan('f1', params.params, ctx), { message: /memory: unit app.service has no memory cgroup of its own .*MemoryAccounting=yes/ });
  t.is(readFileSync(path.join(v1, 'memory/system.slice/memory.limit_in_bytes'), 'utf8'), '9223372036854771712\n', 'the slice is untouched');
  const pids = linuxCgroupLimit.validateParams({ unit: 'app.service', pids: 20 }, ctx);
  if (!pids.ok) {
    t.fail(JSON.stringify(pids.issues));
    return;
  }
  const planned = await linuxCgroupLimit.plan('f2', pids.params, ctx);
  t.deepEqual(planned.changes, [`write "20" to ${path.join(v1, 'pids/system.slice/app.service/pids.max')} (now max): pids 20 tasks`]);
});

test('two cgroup limits in one step are refused: the later one would record the earlier one\'s value as the one to put back', (t) => {
  const result = validateExperiment(
    {
      apiVersion: 'faultd/v1',
      kind: 'Experiment',
      metadata: { name: 'x' },
      spec: { steps: [{ faults: [
        { kind: 'linux-cgroup-limit', name: 'a', params: { unit: 'nginx.service', memory: '64Mi' } },
        { kind: 'linux-cgroup-limit', name: 'b', rampTime: '5s', params: { unit: 'nginx.service', memory: '32Mi' } },
      ] }] },
    },
    REGISTRY,
    FAKE_VALIDATION,
  );
  t.false(result.ok);
  t.regex(result.ok ? '' : result.problems.map((p) => p.message).join('\n'), /faults "a" and "b" both change cgroup limits; put them in separate steps/);
});

test('v1: a cpu quota under the kernel\'s 1 ms minimum (a group with a 10 ms period of its own) is refused at plan naming cpu and the least that fits, not raised to 1 ms', async (t) => {
  const v1 = mkdtempSync(path.join(tmpdir(), 'faultd-cgv1-'));
  t.teardown(() => rmSync(v1, { recursive: true, force: true }));
  const group = path.join(v1, 'cpu/app.service');
  mkdirSync(group, { recursive: true });
  writeFileSync(path.join(group, 'cpu.cfs_period_us'), '10000\n');
  writeFileSync(path.join(group, 'cpu.cfs_quota_us'), '-1\n');
  t.throws(() => limitWrite('cpu', 0.05, 1, group, 4096), { instanceOf: LimitOutOfRange, message: "0.05 cores of the cgroup's period of 10000 µs is a quota of 500 µs, below the kernel's minimum of 1000 µs (1 ms): give at least 0.1 cores for this cgroup" });
  t.deepEqual(limitWrite('cpu', 0.1, 1, group, 4096), { kind: 'cpu', file: path.join(group, 'cpu.cfs_quota_us'), value: '1000', expected: '1000' });
  const procRoot = fakeProc(t, { 10: '3:cpu,cpuacct:/app.service\n0::/app.service\n' });
  const ctx: FaultContext = { ...FAKE_CONTEXT, procRoot, cgroups: { mode: 'v1', mounts: new Map([['cpu', path.join(v1, 'cpu')]]), ownPaths: new Map([['cpu', '/faultd.service']]) } };
  const params = linuxCgroupLimit.validateParams({ processIDs: '10', cpu: 0.05 }, ctx);
  if (!params.ok) throw new Error(JSON.stringify(params.issues));
  await t.throwsAsync(linuxCgroupLimit.plan('f1', params.params, ctx), { code: 'FAULTD_ERR_INPUT_INVALID', message: /^params\.cpu: 0\.05 cores .* below the kernel's minimum of 1000 µs \(1 ms\): give at least 0\.1 cores for this cgroup; nothing was written$/ });
  t.is(readFileSync(path.join(group, 'cpu.cfs_quota_us'), 'utf8'), '-1\n');
});
