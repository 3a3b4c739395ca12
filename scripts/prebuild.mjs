#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
// `npm run build:prebuild`: builds the addon, the stressor and better-sqlite3's addon so that they
// need nothing newer than glibc 2.28 (Node 20's own floor) and no libstdc++/libgcc_s of the host
// (native/compat/glibc_compat.c says how), and lays them out as node-gyp-build expects:
//   prebuilds/linux-x64/faultd_native.napi.glibc.node   the addon (N-API: any Node >= 20)
//   prebuilds/linux-x64/faultd-stressor                  the stressor executable
//   prebuilds/linux-x64/better_sqlite3.node.abi<N>.glibc.node  better-sqlite3 for this Node's ABI
// The build runs in .cache/portable-build (a staging copy), so build/Release stays what it was; the
// googletests are built there too (.cache/portable-build/build/Release/faultd_native_tests).
// test/unit/native/glibc-baseline.test.ts checks the result with objdump -T.
import { spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, mkdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { nodeGypScript, nodeHeadersDir } from './native-toolchain.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
if (process.platform !== 'linux' || process.arch !== 'x64' || process.report.getReport().header.glibcVersionRuntime === undefined) {
  console.error(`prebuild: only linux-x64 with glibc is supported (native/compat pins x86_64 symbol versions); this is ${process.platform}-${process.arch}`);
  process.exit(1);
}
const nodedir = nodeHeadersDir('prebuild');
const gyp = nodeGypScript('prebuild');
const jobs = process.env.JOBS ?? '2';
// Outside build/: a source build's `node-gyp rebuild` empties build/.
const stage = path.join(root, '.cache', 'portable-build');
const out = path.join(root, 'prebuilds', 'linux-x64');

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
const portableEnv = { ...process.env, FAULTD_PORTABLE: '1' };
run(process.execPath, [gyp, 'configure', `--nodedir=${nodedir}`], { cwd: stage, env: portableEnv });
run(process.execPath, [gyp, 'build', '--jobs', jobs], { cwd: stage, env: portableEnv });

// 2. better-sqlite3 from its source with the same compat object and link flags (its own
//    prebuild-install downloads from GitHub, which a locked-down build host may not reach).
const compatObject = path.join(stage, 'glibc_compat.o');
run('cc', ['-c', '-O2', '-fPIC', '-fvisibility=hidden', '-Wall', '-Werror', path.join(root, 'native', 'compat', 'glibc_compat.c'), '-o', compatObject], {});
const sqliteStage = path.join(stage, 'better-sqlite3');
const sqliteSource = path.join(root, 'node_modules', 'better-sqlite3');
rmSync(sqliteStage, { recursive: true, force: true });
cpSync(sqliteSource, sqliteStage, { recursive: true, filter: (src) => src !== path.join(sqliteSource, 'build') });
const ldflags = JSON.parse(readFileSync(path.join(root, 'native', 'compat', 'ldflags.json'), 'utf8'));
run(process.execPath, [gyp, 'rebuild', '--release', `--nodedir=${nodedir}`, '--jobs', jobs], {
  cwd: sqliteStage,
  env: { ...portableEnv, LDFLAGS: [compatObject, ...ldflags].join(' ') },
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
console.log(`prebuild: wrote ${path.relative(root, out)}; check it with npx ava test/unit/native/glibc-baseline.test.ts`);
