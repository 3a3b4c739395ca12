#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
// `npm run build:prebuild [-- --arch arm64]`: builds the addon, the stressor and better-sqlite3's
// addon so that they need nothing newer than glibc 2.28 (Node 20's own floor) and no
// libstdc++/libgcc_s of the host (native/compat/glibc_compat.c says how), and lays them out as
// node-gyp-build expects:
//   prebuilds/linux-<arch>/faultd_native.napi.glibc.node   the addon (N-API: any Node >= 20)
//   prebuilds/linux-<arch>/faultd-stressor                  the stressor executable
//   prebuilds/linux-<arch>/better_sqlite3.node.abi<N>.glibc.node  better-sqlite3 for this Node's ABI
// <arch> is this machine's (x64), or arm64 cross-built with Debian's g++-aarch64-linux-gnu
// (aarch64-linux-gnu-gcc/g++ and its glibc). The build runs in .cache/portable-build[-<arch>] (a
// staging copy), so build/Release stays what it was; the googletests are built there too.
// test/unit/native/glibc-baseline.test.ts (x64) and arm64-prebuild.test.ts check the result.
import { spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { nodeGypScript, nodeHeadersDir } from './native-toolchain.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const archFlag = process.argv.indexOf('--arch');
const arch = archFlag >= 0 ? process.argv[archFlag + 1] : (process.env.FAULTD_PREBUILD_ARCH ?? process.arch);
const CROSS = { arm64: 'aarch64-linux-gnu-' };
const cross = arch !== process.arch;
if (process.platform !== 'linux' || process.report.getReport().header.glibcVersionRuntime === undefined || !['x64', 'arm64'].includes(arch) || (cross && !(process.arch === 'x64' && arch in CROSS))) {
  console.error(`prebuild: builds linux-x64 and linux-arm64 (glibc) on linux-x64, or its own arch; not ${arch} on ${process.platform}-${process.arch}`);
  process.exit(1);
}
const prefix = cross ? CROSS[arch] : '';
if (cross && spawnSync('sh', ['-c', `command -v ${prefix}g++`]).status !== 0) {
  console.error(`prebuild: no ${prefix}g++ for the ${arch} cross build (Debian: apt-get install g++-aarch64-linux-gnu)`);
  process.exit(1);
}
const nodedir = nodeHeadersDir('prebuild');
const gyp = nodeGypScript('prebuild');
const jobs = process.env.JOBS ?? '2';
// Outside build/: a source build's `node-gyp rebuild` empties build/.
const stage = path.join(root, '.cache', arch === process.arch ? 'portable-build' : `portable-build-${arch}`);
const out = path.join(root, 'prebuilds', `linux-${arch}`);
const archArgs = cross ? [`--arch=${arch}`] : [];

/**
 * The stressor links OpenSSL and nghttp2 statically: for a cross build, their -dev packages of
 * the target architecture, fetched with apt-get into a private state directory (this host's dpkg
 * and sources stay as they are: no foreign architecture is added) and unpacked into a sysroot.
 */
function crossSysroot() {
  const dir = path.join(root, '.cache', `cross-${arch}`);
  const sysroot = path.join(dir, 'sysroot');
  const triplet = `${prefix.slice(0, -1)}`;
  if (existsSync(path.join(sysroot, 'usr', 'lib', triplet, 'libssl.a'))) return { sysroot, triplet };
  const debArch = { arm64: 'arm64' }[arch];
  for (const sub of ['lists/partial', 'archives/partial', 'debs']) mkdirSync(path.join(dir, sub), { recursive: true });
  const apt = ['-o', `APT::Architecture=${debArch}`, '-o', `APT::Architectures::=${debArch}`, '-o', `Dir::State::Lists=${path.join(dir, 'lists')}`, '-o', `Dir::Cache::Archives=${path.join(dir, 'archives')}`, '-o', `Dir::Cache::pkgcache=${path.join(dir, 'pkgcache.bin')}`, '-o', `Dir::Cache::srcpkgcache=${path.join(dir, 'srcpkgcache.bin')}`];
  run('apt-get', [...apt, 'update'], {});
  run('apt-get', [...apt, 'download', `libssl-dev:${debArch}`, `libnghttp2-dev:${debArch}`], { cwd: path.join(dir, 'debs') });
  for (const deb of readdirSync(path.join(dir, 'debs')).filter((name) => name.endsWith('.deb'))) run('dpkg-deb', ['-x', path.join(dir, 'debs', deb), sysroot], {});
  return { sysroot, triplet };
}

// The cross compilers for node-gyp's make (CC/CXX/LINK/AR, CPPFLAGS/LDFLAGS for the sysroot).
function crossEnv() {
  if (!cross) return {};
  const { sysroot, triplet } = crossSysroot();
  return {
    CC: `${prefix}gcc`,
    CXX: `${prefix}g++`,
    LINK: `${prefix}g++`,
    AR: `${prefix}ar`,
    // The target's OpenSSL headers (its configuration.h) before /usr/include's, which the cross gcc also searches.
    CPPFLAGS: `-I${path.join(sysroot, 'usr', 'include', triplet)} -I${path.join(sysroot, 'usr', 'include')}`,
    LDFLAGS: `-L${path.join(sysroot, 'usr', 'lib', triplet)}`,
  };
}

function run(command, args, options) {
  console.log(`prebuild: ${[command, ...args].join(' ')}${options.cwd ? ` (in ${path.relative(root, options.cwd)})` : ''}`);
  const result = spawnSync(command, args, { stdio: 'inherit', ...options });
  if (result.status !== 0) {
    console.error(`prebuild: ${command} failed (${result.status ?? result.signal})`);
    process.exit(result.status ?? 1);
  }
}

// 1. faultd's own targets, FAULTD_PORTABLE=1 (binding.gyp's portable condition), in the staging copy.
//    Configured afresh each time, compiled incrementally (make recompiles what changed).
mkdirSync(stage, { recursive: true });
copyFileSync(path.join(root, 'binding.gyp'), path.join(stage, 'binding.gyp'));
for (const link of ['native', 'node_modules']) {
  rmSync(path.join(stage, link), { force: true });
  symlinkSync(path.join(root, link), path.join(stage, link));
}
const portableEnv = { ...process.env, ...crossEnv(), FAULTD_PORTABLE: '1' };
run(process.execPath, [gyp, 'configure', `--nodedir=${nodedir}`, ...archArgs], { cwd: stage, env: portableEnv });
// A cross build makes the addon and the stressor only: the googletests would link this host's libgtest.
if (cross) run('make', ['-C', path.join(stage, 'build'), 'BUILDTYPE=Release', '-j', jobs, 'faultd_native', 'faultd-stressor'], { env: portableEnv });
else run(process.execPath, [gyp, 'build', '--jobs', jobs], { cwd: stage, env: portableEnv });

// 2. better-sqlite3 from its source with the same compat object and link flags (its own
//    prebuild-install downloads from GitHub, which a locked-down build host may not reach).
const compatObject = path.join(stage, 'glibc_compat.o');
run(`${prefix}gcc`, ['-c', '-O2', '-fPIC', '-fvisibility=hidden', '-Wall', '-Werror', path.join(root, 'native', 'compat', 'glibc_compat.c'), '-o', compatObject], {});
const sqliteStage = path.join(stage, 'better-sqlite3');
const sqliteSource = path.join(root, 'node_modules', 'better-sqlite3');
rmSync(sqliteStage, { recursive: true, force: true });
cpSync(sqliteSource, sqliteStage, { recursive: true, filter: (src) => src !== path.join(sqliteSource, 'build') });
const ldflags = JSON.parse(readFileSync(path.join(root, 'native', 'compat', 'ldflags.json'), 'utf8'));
run(process.execPath, [gyp, 'rebuild', '--release', `--nodedir=${nodedir}`, ...archArgs, '--jobs', jobs], {
  cwd: sqliteStage,
  env: { ...portableEnv, LDFLAGS: [portableEnv.LDFLAGS ?? '', compatObject, ...ldflags].join(' ').trim() },
});

// 3. The node-gyp-build layout.
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
const release = path.join(stage, 'build', 'Release');
copyFileSync(path.join(release, 'faultd_native.node'), path.join(out, 'faultd_native.napi.glibc.node'));
copyFileSync(path.join(release, 'faultd-stressor'), path.join(out, 'faultd-stressor'));
copyFileSync(
  path.join(sqliteStage, 'build', 'Release', 'better_sqlite3.node'),
  path.join(out, `better_sqlite3.node.abi${process.versions.modules}.glibc.node`),
);
console.log(`prebuild: wrote ${path.relative(root, out)}; check it with npx ava test/unit/native/${cross ? 'arm64-prebuild' : 'glibc-baseline'}.test.ts`);
