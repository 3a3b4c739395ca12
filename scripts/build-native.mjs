#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
// Builds the addon, the stressor and the C++ tests with node-gyp against the Node headers
// installed on this machine. No step downloads headers: if they are missing, say how to get them.
//
// Compiles once per source change: `npm ci` and `npm link` run this as the package's install
// script, and `npm run build` as build:native. When every output is there and nothing under
// native/ nor binding.gyp changed since the last build, for the same Node, node-addon-api and
// googletest presence, it says so and skips. A change to sources rebuilds incrementally
// (`node-gyp build`: make recompiles what changed); a change to binding.gyp, the Node version
// or the rest of the recorded set-up reconfigures (`node-gyp rebuild`). `--force` always rebuilds.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { installDecision } from './install-decision.mjs';
import { nodeGypScript, nodeHeadersDir } from './native-toolchain.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const force = process.argv.includes('--force');

// `npm ci`/`npm install` of the package with a prebuild that fits this host compiles nothing
// (scripts/install-decision.mjs; src/native/load.ts then loads it); otherwise, and for
// `npm run build:native`, this builds from source.
const decision = force ? { use: false, reason: '--force' } : installDecision({ root, platform: process.platform, arch: process.arch, glibc: process.report.getReport().header.glibcVersionRuntime !== undefined, env: process.env });
if (decision.use) {
  console.log(`build-native: using the prebuilt binaries in ${path.relative(root, decision.dir)}: nothing compiled (npm run build:native builds from source)`);
  process.exit(0);
}
if (process.env.npm_lifecycle_event === 'install') console.log(`build-native: building from source: ${decision.reason}`);

const nodedir = nodeHeadersDir('build-native');
const gtest = existsSync('/usr/include/gtest/gtest.h');
const release = path.join(root, 'build', 'Release');
const outputs = ['faultd_native.node', 'faultd-stressor', ...(gtest ? ['faultd_native_tests'] : [])].map((name) => path.join(release, name));
const stampFile = path.join(root, 'build', 'faultd-native-build.json');
/** What the outputs were built for: a change to any of it means a fresh configure. */
const setup = {
  node: process.version,
  abi: process.versions.modules,
  nodedir,
  nodeAddonApi: JSON.parse(readFileSync(require.resolve('node-addon-api/package.json'), 'utf8')).version,
  gtest,
  cxx: process.env.CXX ?? '',
  // FAULTD_PORTABLE=1: the glibc 2.28 flags of native/compat/compat.gypi (npm run build:prebuild sets it).
  portable: process.env.FAULTD_PORTABLE ?? '',
};

/** Newest modification time (ms) of binding.gyp and every file under native/. */
function newestSourceMs() {
  const files = [path.join(root, 'binding.gyp')];
  for (const entry of readdirSync(path.join(root, 'native'), { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) files.push(path.join(entry.parentPath, entry.name));
  }
  return Math.max(...files.map((file) => statSync(file).mtimeMs));
}

function readStamp() {
  try {
    return { setup: JSON.parse(readFileSync(stampFile, 'utf8')), mtimeMs: statSync(stampFile).mtimeMs };
  } catch {
    return undefined;
  }
}

const stamp = readStamp();
const sameSetup = stamp !== undefined && JSON.stringify(stamp.setup) === JSON.stringify(setup);
const missing = outputs.filter((file) => !existsSync(file));
const startedMs = Date.now();
if (!force && sameSetup && missing.length === 0 && newestSourceMs() <= stamp.mtimeMs) {
  console.log(`build-native: up to date (nothing under native/ nor binding.gyp changed since the last build, Node ${setup.node}): skipped; --force rebuilds`);
  process.exit(0);
}

const gyp = nodeGypScript('build-native');
const makefile = path.join(root, 'build', 'Makefile');
const gypFiles = [path.join(root, 'binding.gyp'), path.join(root, 'native', 'sources.gypi')];
const configured = existsSync(makefile) && gypFiles.every((file) => statSync(file).mtimeMs <= statSync(makefile).mtimeMs);
const incremental = !force && sameSetup && configured;
const why = force ? '--force' : !stamp ? 'no earlier build' : !sameSetup ? 'the Node version or build set-up changed' : missing.length ? `${missing.map((f) => path.relative(root, f)).join(', ')} missing` : 'sources changed';
console.log(`build-native: ${incremental ? 'building what changed' : 'full build'} (${why})`);
const jobs = String(Math.max(1, Math.min(4, availableParallelism())));
const args = incremental ? [gyp, 'build', '--jobs', jobs] : [gyp, 'rebuild', `--nodedir=${nodedir}`, '--jobs', jobs];
const result = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
if (result.status !== 0) process.exit(result.status ?? 1);
const built = outputs.filter((file) => !existsSync(file));
if (built.length) {
  console.error(`build-native: node-gyp succeeded but ${built.map((f) => path.relative(root, f)).join(', ')} ${built.length > 1 ? 'are' : 'is'} missing`);
  process.exit(1);
}
// Stamped with the start time: a source saved during the build is newer, so the next run builds it.
writeFileSync(stampFile, `${JSON.stringify(setup, null, 2)}\n`);
utimesSync(stampFile, startedMs / 1000, startedMs / 1000);
