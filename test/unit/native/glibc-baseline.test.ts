// SPDX-License-Identifier: Apache-2.0
/**
 * The prebuilt binaries (`npm run build:prebuild`, prebuilds/linux-x64) need nothing newer than
 * glibc 2.28, Node 20's own floor, and no libstdc++/libgcc_s of the host: objdump -T lists the
 * symbol versions each one imports, objdump -p the libraries it needs. Where no prebuild was built
 * the checks skip and say so; the layout lookup of src/native/load.ts is checked either way.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

import test from 'ava';

import { packageRoot } from '../../../src/package-root.js';
import { prebuildFor } from '../../../src/prebuilds.js';

const GLIBC_BASELINE = [2, 28];
const ALLOWED_LIBRARIES = /^(libc|libm|libdl|libpthread|ld-linux-x86-64)\.so\.\d+$/;

const dir = path.join(packageRoot(), 'prebuilds', 'linux-x64');
const binaries = existsSync(dir) ? readdirSync(dir).map((name) => path.join(dir, name)) : [];
const skipReason = binaries.length === 0 ? `no prebuild in ${dir}: run \`npm run build:prebuild\`` : undefined;
if (skipReason) console.log(`glibc baseline checks skipped: ${skipReason}`);
const prebuiltTest = skipReason ? test.skip : test;

/** Every NAME_x.y[.z] symbol version that `file` imports, e.g. ['GLIBC_2.2.5', 'GLIBC_2.28']. */
function importedVersions(file: string): string[] {
  const table = execFileSync('objdump', ['-T', file], { encoding: 'utf8' });
  return [...new Set([...table.matchAll(/\*UND\*\s+\S+\s+\(?([A-Z]+_[\d.]+)\)?\s+\S+$/gm)].map((m) => m[1] ?? ''))].sort();
}

function numbers(version: string): number[] {
  return version.split('.').map(Number);
}

function newerThan(version: number[], baseline: number[]): boolean {
  for (let i = 0; i < Math.max(version.length, baseline.length); i++) {
    const [a, b] = [version[i] ?? 0, baseline[i] ?? 0];
    if (a !== b) return a > b;
  }
  return false;
}

test('prebuildFor names node-gyp-build’s layout for linux glibc, and nothing for musl or other systems', (t) => {
  t.deepEqual(prebuildFor('/p', 'linux', 'x64', true, '115'), {
    addon: '/p/prebuilds/linux-x64/faultd_native.napi.glibc.node',
    stressor: '/p/prebuilds/linux-x64/faultd-stressor',
    sqlite: '/p/prebuilds/linux-x64/better_sqlite3.node.abi115.glibc.node',
  });
  t.is(prebuildFor('/p', 'linux', 'arm64', true, '127')?.sqlite, '/p/prebuilds/linux-arm64/better_sqlite3.node.abi127.glibc.node');
  t.is(prebuildFor('/p', 'linux', 'x64', false, '115'), undefined);
  t.is(prebuildFor('/p', 'darwin', 'arm64', true, '115'), undefined);
});

prebuiltTest('the prebuild holds the addon, the stressor and better-sqlite3', (t) => {
  const names = binaries.map((file) => path.basename(file));
  t.true(names.includes('faultd_native.napi.glibc.node'), names.join(' '));
  t.true(names.includes('faultd-stressor'), names.join(' '));
  t.true(names.some((name) => /^better_sqlite3\.node\.abi\d+\.glibc\.node$/.test(name)), names.join(' '));
});

prebuiltTest('no prebuilt binary imports a glibc symbol newer than 2.28, nor any libstdc++/libgcc version', (t) => {
  for (const file of binaries) {
    const versions = importedVersions(file);
    t.true(versions.some((v) => v.startsWith('GLIBC_')), `${file}: objdump -T found no glibc symbol at all`);
    const tooNew = versions.filter((v) => v.startsWith('GLIBC_') && newerThan(numbers(v.slice('GLIBC_'.length)), GLIBC_BASELINE));
    t.deepEqual(tooNew, [], `${path.basename(file)} needs ${tooNew.join(', ')}`);
    const cxx = versions.filter((v) => /^(GLIBCXX|CXXABI|GCC)_/.test(v));
    t.deepEqual(cxx, [], `${path.basename(file)} needs the host's C++ runtime: ${cxx.join(', ')}`);
  }
});

prebuiltTest('prebuilt binaries need only glibc’s own libraries', (t) => {
  for (const file of binaries) {
    const needed = [...execFileSync('objdump', ['-p', file], { encoding: 'utf8' }).matchAll(/^\s*NEEDED\s+(\S+)$/gm)].map((m) => m[1] ?? '');
    t.deepEqual(needed.filter((lib) => !ALLOWED_LIBRARIES.test(lib)), [], `${path.basename(file)} needs ${needed.join(' ')}`);
  }
});

prebuiltTest('the prebuilt addons load into this Node and the stressor starts', (t) => {
  const require = createRequire(import.meta.url);
  const addon = require(path.join(dir, 'faultd_native.napi.glibc.node')) as { abiVersion: unknown };
  t.is(addon.abiVersion, 1);
  const sqliteFile = binaries.find((file) => path.basename(file).startsWith('better_sqlite3.'));
  t.truthy(sqliteFile);
  const Database = require('better-sqlite3') as new (file: string, options: { nativeBinding: string }) => {
    prepare(sql: string): { get(): unknown };
    close(): void;
  };
  const db = new Database(':memory:', { nativeBinding: sqliteFile ?? '' });
  t.deepEqual(db.prepare('SELECT exp(0) + pow(2, 3) AS v').get(), { v: 9 }); // libm's old-version entry points
  db.close();
  // No mode: the stressor runs its constructors and main, prints its usage and exits 2.
  const run = spawnSync(path.join(dir, 'faultd-stressor'), [], { encoding: 'utf8' });
  t.is(run.status, 2, run.stderr);
  t.regex(run.stderr, /usage:/);
});
