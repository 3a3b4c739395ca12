#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
// `npm pack`/`npm publish` (prepack): the tarball carries the glibc 2.28 prebuilds, so that
// `npm install` of it compiles nothing on a matching host (scripts/install-decision.mjs):
//   - prebuilds/linux-<arch>/ must hold faultd's addon and stressor (npm run build:prebuild);
//   - better-sqlite3 is a bundled dependency, and its own install script (prebuild-install) finds
//     its prebuilt addon offline: prebuild-install reads .prebuild-installrc, found by walking up
//     from node_modules/better-sqlite3 to this package's root, whose local-prebuilds directory
//     (prebuilds/better-sqlite3) gets here a tarball per prebuilt ABI, named as prebuild-install
//     asks for it (better-sqlite3-v<version>-node-v<abi>-linux-<arch>.tar.gz, build/Release inside).
// On another ABI or arch prebuild-install downloads, or better-sqlite3 compiles, as without faultd.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { baselineProblems, prebuildFiles } from './prebuild-state.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function fail(message) {
  console.error(`prepack: ${message}`);
  process.exit(1);
}

if (!existsSync(path.join(root, 'dist', 'src', 'entry.js'))) fail('dist/src/entry.js is missing: npm run build');
const arches = existsSync(path.join(root, 'prebuilds')) ? readdirSync(path.join(root, 'prebuilds')).filter((d) => d.startsWith('linux-')).map((d) => d.slice('linux-'.length)) : [];
if (arches.length === 0) fail('no prebuilds/linux-<arch>: npm run build:prebuild');
const objdump = (arch) => (arch === process.arch ? 'objdump' : `${arch === 'arm64' ? 'aarch64' : arch}-linux-gnu-objdump`);
const sqliteVersion = JSON.parse(readFileSync(path.join(root, 'node_modules', 'better-sqlite3', 'package.json'), 'utf8')).version;
const tarballs = path.join(root, 'prebuilds', 'better-sqlite3');
rmSync(tarballs, { recursive: true, force: true });
mkdirSync(tarballs, { recursive: true });
for (const arch of arches) {
  const { dir, files } = prebuildFiles(root, arch);
  const shipped = [...Object.values(files), ...readdirSync(dir).filter((n) => n.startsWith('better_sqlite3.')).map((n) => path.join(dir, n))];
  for (const file of shipped) {
    if (!existsSync(file)) fail(`${path.relative(root, file)} is missing: npm run build:prebuild${arch === process.arch ? '' : ` -- --arch ${arch}`}`);
    const problems = baselineProblems(file, arch, objdump(arch));
    if (problems.length) fail(`${path.relative(root, file)} breaks the glibc 2.28 baseline: ${problems.join('; ')}`);
  }
  for (const name of readdirSync(dir)) {
    const abi = /^better_sqlite3\.node\.abi(\d+)\.glibc\.node$/.exec(name)?.[1];
    if (!abi) continue;
    const stage = mkdtempSync(path.join(tmpdir(), 'faultd-prepack-'));
    mkdirSync(path.join(stage, 'build', 'Release'), { recursive: true });
    copyFileSync(path.join(dir, name), path.join(stage, 'build', 'Release', 'better_sqlite3.node'));
    const tarball = path.join(tarballs, `better-sqlite3-v${sqliteVersion}-node-v${abi}-linux-${arch}.tar.gz`);
    const tar = spawnSync('tar', ['-czf', tarball, '--owner=0', '--group=0', '-C', stage, 'build/Release/better_sqlite3.node'], { stdio: 'inherit' });
    rmSync(stage, { recursive: true, force: true });
    if (tar.status !== 0) fail(`tar failed for ${tarball}`);
    console.log(`prepack: ${path.relative(root, tarball)} (from prebuilds/linux-${arch}/${name})`);
  }
}
