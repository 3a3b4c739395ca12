// SPDX-License-Identifier: Apache-2.0
// linux-disk-io-stress on filesystems the test creates and removes (never the real root
// filesystem): a loop-mounted ext4 image for the O_DIRECT path, measured on the kernel's side
// (/proc/<pid>/io write_bytes and syscw of the stressor, /sys/block/<loop>/stat of the device, the open
// files' flags in /proc/<pid>/fdinfo), a ramfs for the buffered fallback (this kernel's tmpfs
// has O_DIRECT), kill -9 then revert --remnants (also while the image is unmounted), and bad
// input that changes nothing.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, realpathSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import type { ExecutionContext } from 'ava';

import { experimentYaml, finish, runCli, runWorkspace, STRESSOR_BIN, waitForLine, workspace, type CliChild, type Workspace } from '../helpers/cli.js';
import { privilegedTest as test } from '../helpers/privileged.js';

const MiB = 1024 * 1024;
const O_DIRECT = 0o40000;

/** A 256 MiB ext4 image loop-mounted in the workspace; returns the mount point and the loop device's name. */
function mountExt4(t: ExecutionContext, ws: Workspace): { dir: string; loop: string } {
  const image = path.join(ws.dir, 'ext4.img');
  const dir = path.join(ws.dir, 'ext4');
  mkdirSync(dir);
  execFileSync('truncate', ['-s', '256M', image]);
  execFileSync('mkfs.ext4', ['-q', '-F', image]);
  const device = execFileSync('losetup', ['--find', '--show', image], { encoding: 'utf8' }).trim();
  execFileSync('mount', [device, dir]);
  // Teardowns run last-registered first, so after a failed assertion faultd and its stressor may
  // still hold the files open here: then detach lazily (the loop device goes when released).
  t.teardown(() => {
    if (spawnSync('umount', [dir]).status !== 0) spawnSync('umount', ['-l', dir]);
    spawnSync('losetup', ['-d', device]);
  });
  return { dir, loop: path.basename(device) };
}

function setup(t: ExecutionContext, params: Record<string, unknown>, duration = '60s') {
  const { ws, run } = runWorkspace(t);
  const fs = mountExt4(t, ws);
  const file = ws.file('exp.json', experimentYaml([[{ kind: 'linux-disk-io-stress', name: 'dio', duration, params: { volumeMountPath: fs.dir, keepFree: '16Mi', ...params } }]]));
  const start = (): CliChild => {
    const child = run(file);
    return child;
  };
  return { ws, fs, file, start };
}

const ioFiles = (dir: string) => readdirSync(dir).filter((n) => n.startsWith('.faultd-io-')).sort();

/** The io stressor writing under `dir` (found by its argv, as an operator would). */
function stressorPid(dir: string): number | undefined {
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const argv = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0');
      if (path.basename(argv[0] ?? '') === 'faultd-stressor' && argv[1] === 'io' && argv.some((a) => a.startsWith(`--file-prefix=${dir}/`))) return Number(name);
    } catch {
      // exited meanwhile
    }
  }
  return undefined;
}

/** write_bytes of /proc/<pid>/io: bytes the kernel sent (or will send) to the device for it. */
function writeBytes(pid: number): number {
  return Number(/^write_bytes:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/io`, 'utf8'))?.[1]);
}

function wchar(pid: number): number {
  return Number(/^wchar:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/io`, 'utf8'))?.[1]);
}

/** syscw of /proc/<pid>/io: the write calls the kernel counted for the process (all its threads). */
function syscw(pid: number): number {
  return Number(/^syscw:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/io`, 'utf8'))?.[1]);
}

/** Writes completed by the block device, from /sys/block/<dev>/stat. */
function deviceWrites(loop: string): number {
  return Number(readFileSync(`/sys/block/${loop}/stat`, 'utf8').trim().split(/\s+/)[4]);
}

/** Sectors (512 B) written to the block device, from /sys/block/<dev>/stat. */
function deviceWrittenBytes(loop: string): number {
  return Number(readFileSync(`/sys/block/${loop}/stat`, 'utf8').trim().split(/\s+/)[6]) * 512;
}

/** The open files of `pid` under `dir` and whether each has O_DIRECT (from /proc/<pid>/fdinfo). */
function openFlags(pid: number, dir: string): { file: string; direct: boolean }[] {
  const out: { file: string; direct: boolean }[] = [];
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    let target;
    try {
      target = readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      continue;
    }
    if (!target.startsWith(`${dir}/`)) continue;
    const flags = parseInt(/^flags:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8'))?.[1] ?? '0', 8);
    out.push({ file: target, direct: (flags & O_DIRECT) !== 0 });
  }
  return out.sort((a, b) => a.file.localeCompare(b.file));
}

async function waitFor<T>(get: () => T | undefined, what: string, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = get();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const sd = (xs: readonly number[]) => Math.sqrt(mean(xs.map((x) => (x - mean(xs)) ** 2)));

test('ioRate 8Mi on ext4: O_DIRECT files, the kernel counts 8 MiB/s per 1 s window, the end deletes the files', async (t) => {
  const { fs, start } = setup(t, { fileSystemUtilisationBytes: '16Mi', workers: 2, ioRate: '8Mi' }, '9s');
  const child = start();
  await waitForLine(child, /fault applied/);
  const pid = await waitFor(() => stressorPid(fs.dir), 'the stressor');
  const files = openFlags(pid, fs.dir);
  t.is(files.length, 2);
  t.true(files.every((f) => f.direct), JSON.stringify(files));
  t.deepEqual(ioFiles(fs.dir).map((n) => path.join(fs.dir, n)), files.map((f) => f.file));
  await sleep(1500); // past the first blocks
  const proc: number[] = [];
  const device: number[] = [];
  let last = { at: process.hrtime.bigint(), proc: writeBytes(pid), device: deviceWrittenBytes(fs.loop) };
  for (let i = 0; i < 5; i += 1) {
    await sleep(1000);
    const now = { at: process.hrtime.bigint(), proc: writeBytes(pid), device: deviceWrittenBytes(fs.loop) };
    const seconds = Number(now.at - last.at) / 1e9;
    proc.push((now.proc - last.proc) / seconds / MiB);
    device.push((now.device - last.device) / seconds / MiB);
    last = now;
  }
  t.log(`asked 8 MiB/s; /proc/<pid>/io write_bytes per 1 s: ${proc.map((x) => x.toFixed(3)).join(' ')} (mean ${mean(proc).toFixed(3)}, SD ${sd(proc).toFixed(3)})`);
  t.log(`/sys/block/${fs.loop}/stat written per 1 s: ${device.map((x) => x.toFixed(3)).join(' ')} (mean ${mean(device).toFixed(3)})`);
  t.true(Math.abs(mean(proc) - 8) < 0.2, `mean ${mean(proc)} MiB/s`);
  t.true(proc.every((x) => Math.abs(x - 8) < 0.8), proc.join(' '));
  // The device also sees ext4's journal and metadata: a little more, never less.
  t.true(mean(device) > 7.8 && mean(device) < 9, `device mean ${mean(device)} MiB/s`);
  const result = await finish(child);
  t.is(result.code, 0, result.stdout + result.stderr);
  t.regex(result.stdout, /deleted .*\.faultd-io-[0-9a-f]{8}-0, .*\.faultd-io-[0-9a-f]{8}-1/);
  t.deepEqual(ioFiles(fs.dir), []);
  t.is(stressorPid(fs.dir), undefined);
});

test('iops 200 on ext4 over 2 workers: the kernel counts 200 write calls, 200 × 4 KiB written and 200 device writes per 1 s window', async (t) => {
  const { fs, start } = setup(t, { fileSystemUtilisationBytes: '16Mi', workers: 2, iops: 200 }, '9s');
  const child = start();
  await waitForLine(child, /fault applied/);
  const pid = await waitFor(() => stressorPid(fs.dir), 'the stressor');
  t.true(openFlags(pid, fs.dir).every((f) => f.direct));
  await sleep(1500); // past the first blocks
  const calls: number[] = [];
  const device: number[] = [];
  const blocks: number[] = [];
  let last = { at: process.hrtime.bigint(), calls: syscw(pid), device: deviceWrites(fs.loop), bytes: writeBytes(pid) };
  for (let i = 0; i < 5; i += 1) {
    await sleep(1000);
    const now = { at: process.hrtime.bigint(), calls: syscw(pid), device: deviceWrites(fs.loop), bytes: writeBytes(pid) };
    const seconds = Number(now.at - last.at) / 1e9;
    calls.push((now.calls - last.calls) / seconds);
    device.push((now.device - last.device) / seconds);
    blocks.push((now.bytes - last.bytes) / 4096 / seconds);
    last = now;
  }
  t.log(`asked 200 writes/s; /proc/<pid>/io syscw per 1 s: ${calls.map((x) => x.toFixed(1)).join(' ')} (mean ${mean(calls).toFixed(2)}, SD ${sd(calls).toFixed(2)})`);
  t.log(`/proc/<pid>/io write_bytes / 4 KiB per 1 s: ${blocks.map((x) => x.toFixed(1)).join(' ')} (mean ${mean(blocks).toFixed(2)})`);
  t.log(`/sys/block/${fs.loop}/stat writes completed per 1 s: ${device.map((x) => x.toFixed(1)).join(' ')} (mean ${mean(device).toFixed(2)})`);
  // syscw also counts the stressor's one status line a second on stdout.
  t.true(Math.abs(mean(calls) - 201) < 4, `mean ${mean(calls)} write calls/s`);
  t.true(calls.every((x) => Math.abs(x - 201) < 10), calls.join(' '));
  t.true(Math.abs(mean(blocks) - 200) < 4, `mean ${mean(blocks)} blocks/s`);
  // The device also sees ext4's journal commits: a few more, never fewer.
  t.true(mean(device) > 196 && mean(device) < 210, `device mean ${mean(device)} writes/s`);
  const result = await finish(child);
  t.is(result.code, 0, result.stdout + result.stderr);
  t.deepEqual(ioFiles(fs.dir), []);
});

test('the buffered fallback where the filesystem refuses O_DIRECT (ramfs): writes each followed by fdatasync, at the rate', async (t) => {
  const ws = workspace();
  t.teardown(() => ws.remove());
  const dir = path.join(ws.dir, 'ramfs');
  mkdirSync(dir);
  execFileSync('mount', ['-t', 'ramfs', 'faultd-test', dir]);
  t.teardown(() => execFileSync('umount', [dir]));
  const stressor = spawn(STRESSOR_BIN, ['io', '--workers=1', `--file-prefix=${dir}/.faultd-io-test`, `--file-bytes=${MiB}`, `--rate-bps=${4 * MiB}`], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => stressor.kill('SIGKILL'));
  let out = '';
  stressor.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
  await waitFor(() => (out.includes('"ready"') ? true : undefined), 'ready');
  t.regex(out, /\{"event":"opened","workers":1,"direct":0\}/);
  const pid = stressor.pid ?? 0;
  t.deepEqual(openFlags(pid, dir), [{ file: `${dir}/.faultd-io-test-0`, direct: false }]);
  // Every thread traced for 1 s: each write is followed by fdatasync.
  const tids = readdirSync(`/proc/${pid}/task`).flatMap((tid) => ['-p', tid]);
  const trace = spawnSync('timeout', ['-s', 'INT', '1', 'strace', '-qq', '-e', 'trace=pwrite64,fdatasync', ...tids], { encoding: 'utf8' }).stderr;
  const traced = trace.split('\n').map((l) => /(pwrite64|fdatasync)\(/.exec(l)?.[1]).filter((c) => c !== undefined);
  const calls = traced[0] === 'fdatasync' ? traced.slice(1) : traced; // the trace may begin between the two
  t.log(`strace for 1 s: ${calls.filter((c) => c === 'pwrite64').length} pwrite64, ${calls.filter((c) => c === 'fdatasync').length} fdatasync`);
  t.true(calls.filter((c) => c === 'pwrite64').length >= 50);
  t.true(calls.every((c, i) => (c === 'fdatasync') === (calls[i - 1] === 'pwrite64')), calls.join(' '));
  const before = { at: process.hrtime.bigint(), bytes: wchar(pid) };
  await sleep(3000);
  const rate = ((wchar(pid) - before.bytes) * 1e9) / Number(process.hrtime.bigint() - before.at) / MiB;
  t.log(`asked 4 MiB/s buffered; /proc/<pid>/io wchar ${rate.toFixed(3)} MiB/s`);
  t.true(Math.abs(rate - 4) < 0.2, `${rate}`);
  stressor.kill('SIGTERM');
  await new Promise((resolve) => stressor.once('close', resolve));
  t.deepEqual(readdirSync(dir), ['.faultd-io-test-0'], 'the stressor never deletes: faultd does, at revert');
  execFileSync('rm', ['-f', path.join(dir, '.faultd-io-test-0')]);
});

test('the stressor\'s own report under --rate-iops (buffered, on a ramfs): ops per 1 s window, 4 KiB each, as the kernel counts them', async (t) => {
  const ws = workspace();
  t.teardown(() => ws.remove());
  const dir = path.join(ws.dir, 'ramfs');
  mkdirSync(dir);
  execFileSync('mount', ['-t', 'ramfs', 'faultd-test', dir]);
  t.teardown(() => execFileSync('umount', [dir]));
  const stressor = spawn(STRESSOR_BIN, ['io', '--workers=2', `--file-prefix=${dir}/.faultd-io-test`, `--file-bytes=${MiB}`, '--rate-iops=150'], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => stressor.kill('SIGKILL'));
  let out = '';
  stressor.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
  await waitFor(() => (out.includes('"ready"') ? true : undefined), 'ready');
  const pid = stressor.pid ?? 0;
  const before = { at: process.hrtime.bigint(), calls: syscw(pid) };
  await sleep(4200);
  const calls = ((syscw(pid) - before.calls) * 1e9) / Number(process.hrtime.bigint() - before.at);
  const windows = out.split('\n').filter((l) => l.includes('"event":"io"')).map((l) => JSON.parse(l) as { window_ms: number; bytes: number; ops: number }).slice(1);
  t.log(`asked 150 writes/s over 2 workers; the stressor's windows: ${windows.map((w) => `${w.ops} ops/${w.window_ms} ms`).join(', ')}; syscw ${calls.toFixed(1)}/s`);
  t.true(windows.length >= 3, out);
  t.true(windows.every((w) => Math.abs((w.ops * 1000) / w.window_ms - 150) <= 3 && w.bytes === w.ops * 4096), JSON.stringify(windows));
  // syscw also counts the stressor's status line, one a second.
  t.true(Math.abs(calls - 151) < 4, `${calls} write calls/s`);
  stressor.kill('SIGTERM');
  await new Promise((resolve) => stressor.once('close', resolve));
  execFileSync('rm', ['-f', `${dir}/.faultd-io-test-0`, `${dir}/.faultd-io-test-1`]);
});

test('kill -9 of faultd: the stressor dies with it, the files stay until revert --remnants deletes them (idempotent)', async (t) => {
  const { ws, fs, start } = setup(t, { fileSystemUtilisationPercentage: '5', workers: 3 });
  const child = start();
  await waitForLine(child, /fault applied/);
  const pid = await waitFor(() => stressorPid(fs.dir), 'the stressor');
  t.is(ioFiles(fs.dir).length, 3);
  child.kill('SIGKILL');
  await finish(child);
  await waitFor(() => (stressorPid(fs.dir) === undefined ? true : undefined), `stressor ${pid} to die with faultd`);
  t.is(ioFiles(fs.dir).length, 3, 'the files survive their writer');
  // The intent record, written before the stressor started, already names every file.
  const records = readFileSync(path.join(ws.stateDir, 'ledger.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { event?: string; revert?: { files?: string[] } });
  const intent = records.find((r) => r.event === 'intent');
  t.deepEqual(intent?.revert?.files, ioFiles(fs.dir).map((n) => path.join(fs.dir, n)));
  const revert = await runCli(['revert', '--remnants'], ws.stateDir);
  t.is(revert.code, 0, revert.stdout + revert.stderr);
  t.regex(revert.stdout, /deleted .*\.faultd-io-[0-9a-f]{8}-0, .*-1, .*-2/);
  t.deepEqual(ioFiles(fs.dir), []);
  t.is((await runCli(['revert', '--remnants'], ws.stateDir)).stdout.trim(), 'No remnants: the ledger shows nothing applied.', 'idempotent');
});

test('the stressor writes the files faultd created (the inodes in the ledger, open on its descriptors 3 and 4); after kill -9, a same-named file put in the place of one is left alone by revert --remnants (exit 4, the fix finds faultd\'s by inode)', async (t) => {
  const { ws, fs, start } = setup(t, { fileSystemUtilisationBytes: '8Mi', workers: 2 });
  const child = start();
  await waitForLine(child, /fault applied/);
  const pid = await waitFor(() => stressorPid(fs.dir), 'the stressor');
  const records = readFileSync(path.join(ws.stateDir, 'ledger.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { event?: string; revert?: { owned?: { file: string; dev: number; ino: number }[] } });
  const owned = records.filter((r) => r.event === 'applied').at(-1)?.revert?.owned ?? [];
  t.deepEqual(owned.map((o) => [o.file, o.ino]), ioFiles(fs.dir).map((n) => [path.join(fs.dir, n), statSync(path.join(fs.dir, n)).ino]));
  t.deepEqual([3, 4].map((fd) => readlinkSync(`/proc/${pid}/fd/${fd}`)), owned.map((o) => o.file), 'the stressor has them open as 3 and 4');
  child.kill('SIGKILL');
  await finish(child);
  await waitFor(() => (stressorPid(fs.dir) === undefined ? true : undefined), `stressor ${pid} to die with faultd`);
  const [mine] = owned;
  if (!mine) throw new Error('no owned file');
  renameSync(mine.file, path.join(fs.dir, 'moved-away'));
  writeFileSync(mine.file, 'somebody else\'s file');
  const refused = await runCli(['revert', '--remnants'], ws.stateDir);
  t.is(refused.code, 4, refused.stdout + refused.stderr);
  t.regex(refused.stdout, /is not the working file faultd created \(inode \d+, not \d+\): it was moved or replaced, so it is left untouched/);
  t.is(readFileSync(mine.file, 'utf8'), 'somebody else\'s file', 'never deleted');
  execFileSync('sh', ['-c', /find \S+ -xdev -inum \d+ -delete/.exec(refused.stdout)?.[0] ?? 'false']);
  t.false(existsSync(path.join(fs.dir, 'moved-away')), 'the fix found faultd\'s file by its inode');
  rmSync(mine.file);
  const later = await runCli(['revert', '--remnants'], ws.stateDir);
  t.is(later.code, 0, later.stdout + later.stderr);
  t.deepEqual(ioFiles(fs.dir), []);
});

test('bad input names the field and the allowed range and changes nothing', async (t) => {
  const { ws, fs, start } = setup(t, { fileSystemUtilisationPercentage: 100 });
  const tooMuch = await finish(start());
  t.not(tooMuch.code, 0);
  t.regex(tooMuch.stdout + tooMuch.stderr, /fileSystemUtilisationPercentage 100: would leave less than keepFree 16\.00 MiB free on the filesystem of .* it can take at most/);
  t.deepEqual(ioFiles(fs.dir), []);
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ ioRate: 1 }, /ioRate: must be in 4Ki–1Ti bytes\/s/],
    [{ iops: 0 }, /iops: must be in 1–1000000/],
    [{ ioRate: '1Mi', iops: 200 }, /iops: give ioRate \(bytes\/s\) or iops \(writes\/s\), not both/],
    [{ workers: 65 }, /workers: must be in 1–64/],
    [{ FILESYSTEM_UTILIZATION_PERCENTAGE: 0 }, /fileSystemUtilisationPercentage: must be in 0\.01–100/],
    [{ fileSystemUtilisationPercentage: 5, fileSystemUtilisationBytes: '1Mi' }, /give at most one of fileSystemUtilisationPercentage \(0\.01–100\) or fileSystemUtilisationBytes/],
    [{ volumeMountPath: '/proc/self' }, /volumeMountPath: must not be under \/proc, \/sys, \/dev, \/run/],
  ];
  for (const [params, message] of cases) {
    const bad = ws.file('bad.json', experimentYaml([[{ kind: 'linux-disk-io-stress', duration: '1s', params: { volumeMountPath: fs.dir, ...params } }]]));
    const refused = await runCli(['run', bad], ws.stateDir);
    t.is(refused.code, 2, JSON.stringify(params));
    t.regex(refused.stdout + refused.stderr, message);
  }
  t.deepEqual(ioFiles(fs.dir), []);
});

test('--dry-run without volumeMountPath names the home directory\'s filesystem and the files, and changes nothing', async (t) => {
  const ws = workspace();
  t.teardown(() => ws.remove());
  const file = ws.file('exp.json', experimentYaml([[{ kind: 'linux-disk-io-stress', duration: '5s', params: { WORKERS: '2', IO_RATE: '1Mi' } }]]));
  const home = realpathSync(homedir());
  const before = readdirSync(home);
  const result = await runCli(['run', '--dry-run', file], ws.stateDir);
  t.is(result.code, 0, result.stdout + result.stderr);
  const mount = execFileSync('findmnt', ['-n', '-o', 'FSTYPE,SOURCE,TARGET', '--target', home], { encoding: 'utf8' }).trim().split(/\s+/);
  t.regex(result.stdout, new RegExp(`linux-disk-io-stress\\): ${mount[0] ?? ''} \\S+ on ${mount[2] ?? ''}: 2 writer\\(s\\) at 1\\.00 MiB/s`));
  t.regex(result.stdout, new RegExp(`create ${home}/\\.faultd-io-[0-9a-f]{8}-0, ${home}/\\.faultd-io-[0-9a-f]{8}-1 \\(O_EXCL, each one's device and inode recorded;`));
  t.deepEqual(readdirSync(home), before);
});

test('a revert while the loaded filesystem is not mounted fails and says which mount to restore; once it is back, revert --remnants deletes the files', async (t) => {
  const { ws, fs, start } = setup(t, { fileSystemUtilisationBytes: '8Mi', workers: 2 });
  const child = start();
  await waitForLine(child, /fault applied/);
  child.kill('SIGKILL');
  await finish(child);
  await waitFor(() => (stressorPid(fs.dir) === undefined ? true : undefined), 'the stressor to die with faultd');
  const device = `/dev/${fs.loop}`;
  // A dying stressor's command line reads empty (exit_mm) a moment before its files close
  // (exit_files): umount may see it busy that moment.
  await waitFor(() => (spawnSync('umount', [fs.dir]).status === 0 ? true : undefined), `umount ${fs.dir}`);
  let mounted = false;
  t.teardown(() => {
    if (!mounted) spawnSync('mount', [device, fs.dir]);
  });
  const early = await runCli(['revert', '--remnants'], ws.stateDir);
  t.is(early.code, 4, early.stdout + early.stderr);
  t.true(early.stdout.includes(`${fs.dir} is not on ext4 ${device} on ${fs.dir} any more but on `), early.stdout);
  t.true(early.stdout.includes(`make ${fs.dir} hold ext4 ${device} on ${fs.dir} again (mount it, or unmount what hides it), then faultd revert --remnants`), early.stdout);
  execFileSync('mount', [device, fs.dir]);
  mounted = true;
  t.is(ioFiles(fs.dir).length, 2, 'the files are still there, and still counted as applied');
  const later = await runCli(['revert', '--remnants'], ws.stateDir);
  t.is(later.code, 0, later.stdout + later.stderr);
  t.deepEqual(ioFiles(fs.dir), []);
});
