// SPDX-License-Identifier: Apache-2.0
// linux-disk-fill on a size-limited tmpfs the test mounts (never the real root filesystem):
// exact Use%, the keepFree reserve, kill -9 then revert --remnants, and a revert made
// impossible with chattr +i (the log and `faultd status` say what is left and how to fix it).
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import type { ExecutionContext } from 'ava';

import { filesystemKey, filesystemLockDir, filesystemLockFile } from '../../src/faults/filesystem.js';
import { filesystemUsage, usePercent } from '../../src/faults/linux-disk-fill.js';
import { experimentYaml, finish, runCli, runWorkspace, startCli, waitForLine, workspace, type CliChild, type Workspace } from '../helpers/cli.js';
import { privilegedTest as test } from '../helpers/privileged.js';

const FS_BYTES = 64 * 1024 * 1024;

/** A 64 MiB tmpfs in the workspace, unmounted (and un-immutabled) at teardown. */
function mountFs(t: ExecutionContext, ws: Workspace): string {
  const dir = path.join(ws.dir, 'fs');
  mkdirSync(dir);
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${FS_BYTES}`, 'faultd-test', dir]);
  t.teardown(() => {
    for (const name of readdirSync(dir)) execFileSync('chattr', ['-i', path.join(dir, name)], { stdio: 'ignore' });
    execFileSync('umount', [dir]);
  });
  return dir;
}

function setup(t: ExecutionContext, params: Record<string, unknown>, duration = '60s') {
  const { ws, run } = runWorkspace(t);
  const fs = mountFs(t, ws);
  const file = ws.file('exp.json', experimentYaml([[{ kind: 'linux-disk-fill', name: 'fill', duration, params: { path: fs, ...params } }]]));
  const start = (): CliChild => run(file);
  return { ws, fs, start };
}

const fillFiles = (dir: string) => readdirSync(dir).filter((n) => n.startsWith('.faultd-fill-'));

test('fillPercentage 50 makes df show 50 % used; the end of the fault deletes the file', async (t) => {
  const { fs, start } = setup(t, { fillPercentage: 50, keepFree: '4Mi' }, '2s');
  const child = start();
  await waitForLine(child, /fill file written/);
  const during = usePercent(filesystemUsage(fs));
  t.log(`asked 50 %, df shows ${during.toFixed(3)} %`);
  t.true(Math.abs(during - 50) < 0.1, `${during} %`);
  t.is(fillFiles(fs).length, 1);
  const result = await finish(child);
  t.is(result.code, 0, result.stdout);
  t.deepEqual(fillFiles(fs), []);
  t.true(usePercent(filesystemUsage(fs)) < 1);
});

test('a fill past keepFree is refused before anything is written, naming the field and what fits', async (t) => {
  const { ws, fs, start } = setup(t, { fillPercentage: 99, keepFree: '8Mi' });
  const result = await finish(start());
  t.not(result.code, 0);
  t.regex(result.stdout + result.stderr, /fillPercentage 99: would leave less than keepFree 8\.00 MiB free .* it can take at most 56\.00 MiB \(87\.5 %\)/);
  t.deepEqual(fillFiles(fs), []);
  const bad = ws.file('bad.json', experimentYaml([[{ kind: 'linux-disk-fill', duration: '1s', params: { path: fs, fillPercentage: 50, size: '1Mi' } }]]));
  const refused = await runCli(['run', bad], ws.stateDir);
  t.is(refused.code, 2);
  t.regex(refused.stdout + refused.stderr, /fillPercentage: give exactly one of fillPercentage \(1–100\) or size/);
});

test('kill -9 mid-fill: the file stays (as after a reboot) until revert --remnants deletes it', async (t) => {
  const { ws, fs, start } = setup(t, { size: '16Mi', keepFree: '4Mi' });
  const child = start();
  await waitForLine(child, /fill file written/);
  t.true(Math.abs(filesystemUsage(fs).usedBytes - 16 * 1024 * 1024) < 64 * 1024);
  child.kill('SIGKILL');
  await finish(child);
  t.is(fillFiles(fs).length, 1, 'a fill file survives its process');
  const revert = await runCli(['revert', '--remnants'], ws.stateDir);
  t.is(revert.code, 0, revert.stdout);
  t.regex(revert.stdout, /deleted .*\.faultd-fill-[0-9a-f]{8} \(16\.00 MiB\)/);
  t.deepEqual(fillFiles(fs), []);
  t.is((await runCli(['revert', '--remnants'], ws.stateDir)).stdout.trim(), 'No remnants: the ledger shows nothing applied.', 'idempotent');
});

test('an immutable fill file: the revert fails, the log and status name the file and the fix, and a later revert finishes', async (t) => {
  const { ws, fs, start } = setup(t, { size: '8Mi', keepFree: '4Mi' }, '2s');
  const child = start();
  await waitForLine(child, /fill file written/);
  const [name] = fillFiles(fs);
  const file = path.join(fs, name ?? '');
  execFileSync('chattr', ['+i', file]);
  const result = await finish(child);
  t.is(result.code, 4, result.stdout);
  t.true(result.stdout.includes(`chattr -i ${file} && rm -f ${file}`), result.stdout);
  const failure = result.stdout.split('\n').find((l) => l.includes('REVERT FAILED')) ?? '';
  t.like(JSON.parse(failure || '{}'), { code: 'EPERM', errno: -1, syscall: 'unlink', leftover: `${file} (8.00 MiB) still takes space on its filesystem` }, 'the log line has the error code, errno and syscall');
  const status = await runCli(['status'], ws.stateDir);
  t.regex(status.stdout, /REVERT-FAILED/);
  t.true(status.stdout.includes(`${file} (8.00 MiB) still takes space`), status.stdout);
  execFileSync('chattr', ['-i', file]);
  t.is((await runCli(['revert', '--remnants'], ws.stateDir)).code, 0);
  t.false(existsSync(file));
  t.regex((await runCli(['status'], ws.stateDir)).stdout, /Clean/);
});

test('a revert while the filled filesystem is not mounted fails and says so; once it is mounted again, revert --remnants deletes the file', async (t) => {
  const { ws, fs } = setup(t, { size: '8Mi', keepFree: '4Mi' });
  // The fill goes through a bind mount of the tmpfs, which the test takes away and brings back.
  const place = path.join(ws.dir, 'place');
  mkdirSync(place);
  execFileSync('mount', ['--bind', fs, place]);
  t.teardown(() => void spawnSync('umount', [place]));
  const file = ws.file('bind.json', experimentYaml([[{ kind: 'linux-disk-fill', name: 'fill', duration: '60s', params: { path: place, size: '8Mi', keepFree: '4Mi' } }]]));
  const child = startCli(['--log-format', 'json', 'run', file], ws.stateDir);
  t.teardown(() => child.kill('SIGKILL'));
  await waitForLine(child, /fill file written/);
  child.kill('SIGKILL');
  await finish(child);
  execFileSync('umount', [place]);
  const early = await runCli(['revert', '--remnants'], ws.stateDir);
  t.is(early.code, 4, early.stdout);
  t.true(early.stdout.includes(`${place} is not on tmpfs faultd-test on ${place} any more but on `), early.stdout);
  t.true(early.stdout.includes(`make ${place} hold tmpfs faultd-test on ${place} again (mount it, or unmount what hides it), then faultd revert --remnants`), early.stdout);
  t.is(fillFiles(fs).length, 1, 'the fill file is still there, and still counted as applied');
  execFileSync('mount', ['--bind', fs, place]);
  const later = await runCli(['revert', '--remnants'], ws.stateDir);
  t.is(later.code, 0, later.stdout);
  t.deepEqual(fillFiles(fs), []);
});

test('a file in the fill file\'s place that is not it (moved, then replaced) is left untouched, and the fix finds the real one', async (t) => {
  const { ws, fs, start } = setup(t, { size: '8Mi', keepFree: '4Mi' });
  const child = start();
  await waitForLine(child, /fill file written/);
  child.kill('SIGKILL');
  await finish(child);
  const [name] = fillFiles(fs);
  const fill = path.join(fs, name ?? '');
  renameSync(fill, path.join(fs, 'moved-away'));
  writeFileSync(fill, 'somebody else\'s file');
  const refused = await runCli(['revert', '--remnants'], ws.stateDir);
  t.is(refused.code, 4, refused.stdout);
  t.regex(refused.stdout, /is not the fill file faultd wrote \(inode \d+, not \d+\): it was moved or replaced, so it is left untouched/);
  t.is(readFileSync(fill, 'utf8'), 'somebody else\'s file');
  const fix = /find \S+ -xdev -inum \d+ -delete/.exec(refused.stdout)?.[0] ?? '';
  execFileSync('sh', ['-c', fix]);
  t.false(existsSync(path.join(fs, 'moved-away')), 'the manual fix found the moved fill file by its inode');
  rmSync(fill);
  t.is((await runCli(['revert', '--remnants'], ws.stateDir)).code, 0);
});

test('a fill whose directory was deleted is gone; one whose directory moved is found and deleted; one hidden by a mount waits for it; a tmpfs a reboot emptied is gone', async (t) => {
  const ws = workspace();
  t.teardown(() => ws.remove());
  const mountPoint = path.join(ws.dir, 'volatile');
  mkdirSync(mountPoint);
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${FS_BYTES}`, 'faultd-volatile', mountPoint]);
  t.teardown(() => void spawnSync('umount', [mountPoint]));
  t.teardown(async () => {
    await runCli(['revert', '--remnants', '--force'], ws.stateDir);
  });
  const fill = async (dir: string) => {
    mkdirSync(dir);
    const child = startCli(['--log-format', 'json', 'run', ws.file(`${path.basename(dir)}.json`, experimentYaml([[{ kind: 'linux-disk-fill', name: path.basename(dir), duration: '60s', params: { path: dir, size: '4Mi', keepFree: '4Mi' } }]]))], ws.stateDir);
    await waitForLine(child, /fill file written/);
    child.kill('SIGKILL');
    await finish(child);
  };
  await fill(path.join(mountPoint, 'deleted'));
  rmSync(path.join(mountPoint, 'deleted'), { recursive: true });
  const deleted = await runCli(['revert', '--remnants'], ws.stateDir);
  t.is(deleted.code, 0, deleted.stdout);
  t.regex(deleted.stdout, /deleted is gone \(or was made anew\), and no file with the fill's inode is left on /);
  // A directory that moved took the fill file along: it is found by name and inode, and deleted.
  await fill(path.join(mountPoint, 'moved'));
  renameSync(path.join(mountPoint, 'moved'), path.join(mountPoint, 'elsewhere'));
  const moved = await runCli(['revert', '--remnants'], ws.stateDir);
  t.is(moved.code, 0, moved.stdout);
  t.deepEqual(fillFiles(path.join(mountPoint, 'elsewhere')), [], 'found where its directory went, and deleted');
  // A mount on top hides the directory: not "gone", a failed revert until the hider goes.
  await fill(path.join(mountPoint, 'hidden'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'faultd-hider', path.join(mountPoint, 'hidden')]);
  const hidden = await runCli(['revert', '--remnants'], ws.stateDir);
  t.is(hidden.code, 4, hidden.stdout);
  t.true(hidden.stdout.includes('but on tmpfs faultd-hider on'), hidden.stdout);
  execFileSync('umount', [path.join(mountPoint, 'hidden')]);
  t.is((await runCli(['revert', '--remnants'], ws.stateDir)).code, 0);
  t.deepEqual(fillFiles(path.join(mountPoint, 'hidden')), []);
  await fill(path.join(mountPoint, 'rebooted'));
  // As after a reboot: the ledger names another boot, and the tmpfs is not there any more.
  const ledger = path.join(ws.stateDir, 'ledger.jsonl');
  const bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  writeFileSync(ledger, readFileSync(ledger, 'utf8').replaceAll(bootId, '00000000-0000-4000-8000-0000000000bb'));
  execFileSync('umount', [mountPoint]);
  const rebooted = await runCli(['revert', '--remnants'], ws.stateDir);
  t.is(rebooted.code, 0, rebooted.stdout);
  t.regex(rebooted.stdout, /was on tmpfs, which a reboot empties/);
});

/** linux-fs-fill in the Harness spelling on the test's tmpfs; the runner's child and its teardown. */
function fsFill(t: ExecutionContext, params: (fs: string) => Record<string, unknown>, duration = '60s') {
  const { ws, run } = runWorkspace(t);
  const fs = mountFs(t, ws);
  const file = ws.file('fs-fill.json', experimentYaml([[{ kind: 'linux-fs-fill', name: 'fs', duration, params: params(fs) }]]));
  return { ws, fs, child: run(file) };
}

test('linux-fs-fill: FILL_STORAGE 16M (Harness spelling) takes 16 MiB as df counts; the end of the fault deletes the file', async (t) => {
  const { fs, child } = fsFill(t, (dir) => ({ FILL_PATH: dir, FILL_STORAGE: '16M', keepFree: '4Mi' }), '2s');
  const before = filesystemUsage(fs).usedBytes;
  await waitForLine(child, /fill file written/);
  const taken = filesystemUsage(fs).usedBytes - before;
  t.log(`asked 16 MiB, df shows ${(taken / 2 ** 20).toFixed(3)} MiB more used`);
  t.is(taken, 16 * 2 ** 20);
  const result = await finish(child);
  t.is(result.code, 0, result.stdout);
  t.deepEqual(fillFiles(fs), []);
  t.is(filesystemUsage(fs).usedBytes, before);
});

test('linux-fs-fill: kill -9 mid-fault, then revert --remnants deletes the fill file', async (t) => {
  const { ws, fs, child } = fsFill(t, (dir) => ({ fillPath: dir, fillStorage: '8M', keepFree: '4Mi' }));
  await waitForLine(child, /fill file written/);
  t.is(fillFiles(fs).length, 1);
  child.kill('SIGKILL');
  await finish(child);
  t.is(fillFiles(fs).length, 1, 'the file outlives faultd');
  const revert = await runCli(['revert', '--remnants'], ws.stateDir);
  t.is(revert.code, 0, revert.stdout + revert.stderr);
  t.deepEqual(fillFiles(fs), []);
});

test('linux-fs-fill: bad input names the field and writes nothing', async (t) => {
  const ws = workspace();
  t.teardown(() => ws.remove());
  const fs = mountFs(t, ws);
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ fillPath: fs }, /fillStorage: is required/],
    [{ fillPath: fs, fillStorage: '10X' }, /fillStorage: must be a size like "512Mi", "2G", "100M" or bytes, in 1 B–1 PiB/],
    [{ fillPath: path.join(fs, 'missing'), fillStorage: '1M' }, /fillPath: must be an existing directory; it does not exist/],
    [{ fillPath: fs, fillStorage: '1M', size: '1M' }, /size/],
  ];
  for (const [params, message] of cases) {
    const file = ws.file('bad.json', experimentYaml([[{ kind: 'linux-fs-fill', duration: '1s', params }]]));
    const result = await runCli(['run', file], ws.stateDir);
    t.is(result.code, 2, JSON.stringify(params));
    t.regex(result.stdout + result.stderr, message);
  }
  const file = ws.file('big.json', experimentYaml([[{ kind: 'linux-fs-fill', duration: '1s', params: { fillPath: fs, fillStorage: '62M', keepFree: '8Mi' } }]]));
  const tooBig = await runCli(['run', file], ws.stateDir);
  t.not(tooBig.code, 0);
  t.regex(tooBig.stdout + tooBig.stderr, /fillStorage 62\.00 MiB: would leave less than keepFree 8\.00 MiB free/);
  t.deepEqual(fillFiles(fs), []);
});

/** MemAvailable now, in bytes. */
const memAvailable = (): number => Number(/^MemAvailable:\s+(\d+) kB/m.exec(readFileSync('/proc/meminfo', 'utf8'))?.[1] ?? 0) * 1024;

test('a tmpfs fill is RAM: one past --max-memory-fraction of MemAvailable is refused (exit 2) naming the field and the limit, and a step whose memory stress and tmpfs fill together pass it is refused; nothing is written', async (t) => {
  const ws = workspace();
  t.teardown(() => ws.remove());
  // 5 % of MemAvailable (about 1 GiB here) is the budget; the tmpfs is big enough for twice it, and nothing is written.
  const budget = Math.floor(memAvailable() * 0.05);
  const dir = path.join(ws.dir, 'big');
  mkdirSync(dir);
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${4 * budget}`, 'faultd-ram', dir]);
  t.teardown(() => void spawnSync('umount', [dir]));
  const over = ws.file('over.json', experimentYaml([[{ kind: 'linux-fs-fill', name: 'fs', duration: '5s', params: { FILL_PATH: dir, FILL_STORAGE: String(2 * budget) } }]]));
  const refused = await runCli(['--max-memory-fraction', '0.05', 'run', over], ws.stateDir);
  t.is(refused.code, 2, refused.stdout + refused.stderr);
  t.regex(refused.stdout + refused.stderr, new RegExp(`fillStorage: .* on the tmpfs of ${dir} is held in RAM, which the memory budget bounds: at most .* \\(--max-memory-fraction 5 % of MemAvailable`));
  t.deepEqual(fillFiles(dir), []);
  const percent = ws.file('percent.json', experimentYaml([[{ kind: 'linux-disk-fill', name: 'fill', duration: '5s', params: { path: dir, fillPercentage: 60, keepFree: '1Mi' } }]]));
  const byPercent = await runCli(['--max-memory-fraction', '0.05', 'validate', percent], ws.stateDir);
  t.is(byPercent.code, 2, byPercent.stdout + byPercent.stderr);
  t.regex(byPercent.stdout + byPercent.stderr, /fillPercentage: .* on the tmpfs of .* is held in RAM/);
  // linux-disk-io-stress's working files on a tmpfs are RAM too.
  const io = ws.file('io.json', experimentYaml([[{ kind: 'linux-disk-io-stress', name: 'io', duration: '5s', params: { volumeMountPath: dir, fileSystemUtilisationBytes: String(2 * budget), keepFree: '1Mi' } }]]));
  const ioRefused = await runCli(['--max-memory-fraction', '0.05', 'validate', io], ws.stateDir);
  t.is(ioRefused.code, 2, ioRefused.stdout + ioRefused.stderr);
  t.regex(ioRefused.stdout + ioRefused.stderr, /fileSystemUtilisationBytes: .* on the tmpfs of .* is held in RAM, which the memory budget bounds/);
  // Each fits alone; together they do not.
  const half = String(Math.floor(budget * 0.5));
  const alone = ws.file('alone.json', experimentYaml([[{ kind: 'linux-fs-fill', name: 'fs', duration: '5s', params: { fillPath: dir, fillStorage: String(Math.floor(budget * 0.7)) } }]]));
  t.is((await runCli(['--max-memory-fraction', '0.05', 'validate', alone], ws.stateDir)).code, 0);
  const step = ws.file('step.json', experimentYaml([[
    { kind: 'linux-fs-fill', name: 'fs', duration: '5s', params: { fillPath: dir, fillStorage: String(Math.floor(budget * 0.7)) } },
    { kind: 'linux-memory-stress', name: 'mem', duration: '5s', params: { memory: half } },
  ]]));
  const together = await runCli(['--max-memory-fraction', '0.05', 'run', step], ws.stateDir);
  t.is(together.code, 2, together.stdout + together.stderr);
  t.regex(together.stdout + together.stderr, /its faults together hold .* of RAM \(memory stress, and fills of tmpfs or ramfs\), more than .* \(--max-memory-fraction 5 % of MemAvailable\)/);
  t.deepEqual(fillFiles(dir), []);
});

test('btrfs: a fill of a subvolume and a fill of its pool are one filesystem (one superblock in mountinfo, though st_dev differs): refused in one step', async (t) => {
  if (spawnSync('mkfs.btrfs', ['--version']).status !== 0) {
    t.log('no mkfs.btrfs (apt-get install btrfs-progs)');
    t.pass();
    return;
  }
  const ws = workspace();
  t.teardown(() => ws.remove());
  const holder = path.join(ws.dir, 'img');
  mkdirSync(holder);
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=300M', 'faultd-btrfs-img', holder]);
  t.teardown(() => void spawnSync('umount', [holder]));
  const image = path.join(holder, 'pool.img');
  execFileSync('truncate', ['-s', '256M', image]);
  execFileSync('mkfs.btrfs', ['-q', image], { stdio: 'ignore' });
  const loop = execFileSync('losetup', ['--find', '--show', image], { encoding: 'utf8' }).trim();
  t.teardown(() => void spawnSync('losetup', ['-d', loop]));
  const [pool, sub] = [path.join(ws.dir, 'pool'), path.join(ws.dir, 'sub')];
  mkdirSync(pool);
  mkdirSync(sub);
  execFileSync('mount', [loop, pool]);
  t.teardown(() => void spawnSync('umount', [pool]));
  execFileSync('btrfs', ['-q', 'subvolume', 'create', path.join(pool, 'vol')]);
  execFileSync('mount', ['-o', 'subvol=vol', loop, sub]);
  t.teardown(() => void spawnSync('umount', [sub]));
  t.not(statSync(pool).dev, statSync(sub).dev, 'btrfs shows the subvolume with a st_dev of its own');
  const both = ws.file('both.json', experimentYaml([[
    { kind: 'linux-disk-fill', name: 'pool', duration: '2s', params: { path: pool, size: '8Mi', keepFree: '4Mi' } },
    { kind: 'linux-fs-fill', name: 'sub', duration: '2s', params: { fillPath: sub, fillStorage: '8M', keepFree: '4Mi' } },
  ]]));
  const refused = await runCli(['validate', both], ws.stateDir);
  t.is(refused.code, 2, refused.stdout + refused.stderr);
  t.regex(refused.stdout + refused.stderr, /faults "pool" and "sub" both change disk:sb\d+:\d+; put them in separate steps/);
});

test('two faultd processes filling one tmpfs at once: the fills wait for the filesystem\'s lock, and the second checks keepFree after the first has its bytes (only one fits)', async (t) => {
  const a = runWorkspace(t);
  const b = runWorkspace(t);
  const fs = mountFs(t, a.ws);
  // 64 MiB: one fill of 24 MiB leaves 40 MiB ≥ keepFree 20 MiB; a second would leave 16 MiB.
  const experiment = (ws: Workspace, name: string) => ws.file(`${name}.json`, experimentYaml([[{ kind: 'linux-fs-fill', name, duration: '4s', params: { fillPath: fs, fillStorage: '24M', keepFree: '20Mi' } }]]));
  // The test holds the filesystem's lock first, so both faultd reach their apply and wait on it.
  const lockFile = filesystemLockFile(filesystemKey(fs), filesystemLockDir());
  const holder = spawn('flock', ['-x', lockFile, '-c', 'echo held; sleep 3'], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => holder.kill('SIGKILL'));
  await new Promise<void>((resolve) => holder.stdout.once('data', () => resolve()));
  const first = a.run(experiment(a.ws, 'first'));
  const second = b.run(experiment(b.ws, 'second'));
  await new Promise((resolve) => setTimeout(resolve, 2000));
  t.deepEqual(fillFiles(fs), [], 'nothing written while another holds the lock');
  const [one, two] = await Promise.all([finish(first), finish(second)]);
  const codes = [one.code, two.code].sort();
  t.deepEqual(codes, [0, 1], `${one.stdout}\n${two.stdout}`);
  t.regex(one.code === 0 ? two.stdout + two.stderr : one.stdout + one.stderr, /24\.00 MiB would now leave less than keepFree 20\.00 MiB free on the filesystem of .*; nothing was written/);
  t.deepEqual(fillFiles(fs), [], 'the fill that applied was reverted at its end');
});
