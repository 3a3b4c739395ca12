// SPDX-License-Identifier: Apache-2.0
/**
 * The aarch64 prebuild (`npm run build:prebuild -- --arch arm64`, cross-built here with Debian's
 * g++-aarch64-linux-gnu): every binary in prebuilds/linux-arm64 is an AArch64 ELF file that needs
 * no glibc symbol newer than 2.28, no libstdc++/libgcc_s and only glibc's own libraries (the check
 * package.mjs applies, with aarch64-linux-gnu-objdump). Where qemu-aarch64 is installed the
 * stressor also runs: its usage, and two CPU workers stopped by SIGTERM (on the cross toolchain's
 * glibc 2.36, so those runs prove a working aarch64 executable, not the 2.28 floor).
 * Skips, saying why, without the cross toolchain or the prebuild.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

import test from 'ava';

import { REPO_ROOT } from '../../helpers/cli.js';
import { baselineProblems, prebuildFiles } from '../../helpers/prebuild-state.js';

const has = (tool: string) => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;
const { dir, files } = prebuildFiles(REPO_ROOT, 'arm64');
const reason = !has('aarch64-linux-gnu-objdump')
  ? 'no aarch64 cross toolchain (Debian: apt-get install g++-aarch64-linux-gnu)'
  : !existsSync(dir)
    ? `no ${path.relative(REPO_ROOT, dir)}: run npm run build:prebuild -- --arch arm64`
    : undefined;
if (reason) console.log(`arm64 prebuild checks skipped: ${reason}`);
const arm64Test = reason ? test.skip : test;

arm64Test('the arm64 prebuild holds the addon, the stressor and better-sqlite3', (t) => {
  const names = readdirSync(dir);
  for (const file of [files.addon, files.stressor]) t.true(names.includes(path.basename(file)), `${path.basename(file)} in ${names.join(' ')}`);
  t.true(names.some((name) => /^better_sqlite3\.node\.abi\d+\.glibc\.node$/.test(name)), names.join(' '));
});

arm64Test('every arm64 prebuilt binary is AArch64 and keeps the glibc 2.28 baseline', (t) => {
  for (const name of readdirSync(dir)) {
    const file = path.join(dir, name);
    const header = spawnSync('readelf', ['-h', file], { encoding: 'utf8' }).stdout;
    t.regex(header, /Machine:\s+AArch64/, `${name}: ${/Machine:.*/.exec(header)?.[0] ?? 'not ELF'}`);
    t.deepEqual(baselineProblems(file, 'arm64', 'aarch64-linux-gnu-objdump'), [], name);
  }
});

const qemu = has('qemu-aarch64') && existsSync('/usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1');
const qemuTest = reason || !qemu ? test.skip : test;

qemuTest('the arm64 stressor starts under qemu-aarch64 (needs qemu-user)', (t) => {
  const run = spawnSync('qemu-aarch64', ['-L', '/usr/aarch64-linux-gnu', files.stressor], { encoding: 'utf8', timeout: 30_000 });
  t.is(run.status, 2, run.stderr);
  t.regex(run.stderr, /^usage:$/m);
});

qemuTest('the arm64 stressor loads two workers under qemu-aarch64 and stops on SIGTERM', async (t) => {
  const child = spawn('qemu-aarch64', ['-L', '/usr/aarch64-linux-gnu', files.stressor, 'cpu', '--workers=2', '--load-pct=30', `--tag=arm64-test-${process.pid}`], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => child.kill('SIGKILL'));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const ready = await new Promise<string>((resolve) => child.stdout.once('data', (chunk: Buffer) => resolve(chunk.toString())));
  t.regex(ready, /"event":"ready"/);
  const ticks = () => {
    const fields = readFileSync(`/proc/${child.pid ?? 0}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
    return Number(fields[11]) + Number(fields[12]);
  };
  const before = ticks();
  await new Promise((resolve) => setTimeout(resolve, 2000));
  const used = ticks() - before;
  t.log(`2 workers at 30 % under qemu-aarch64: ${used} ticks in 2 s (120 would be exact, emulation overhead included)`);
  t.true(used >= 30, `the workers burn CPU (${used} ticks)`);
  child.kill('SIGTERM');
  t.is(await exited, 0);
});
