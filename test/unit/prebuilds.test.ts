// SPDX-License-Identifier: Apache-2.0
/**
 * src/prebuilds.ts's rule, one for the addon, the stressor and better-sqlite3: the prebuild when
 * all its files are there and FAULTD_PREFER_PREBUILDS=1 or the source build is absent. The
 * better-sqlite3 option is checked in a child process against a fake package root holding a real
 * copy of the SQLite addon as its prebuild, so the store really loads the file the rule names.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';

import test from 'ava';

import { packageRoot } from '../../src/package-root.js';
import { runsOnGlibc, usePrebuild } from '../../src/prebuilds.js';

test('glibc is detected once per process, from a report without its network part, and the report setting is left as it was', (t) => {
  const getReport = process.report.getReport.bind(process.report);
  const seen: boolean[] = [];
  process.report.getReport = ((error?: Error) => {
    seen.push((process.report as { excludeNetwork?: boolean }).excludeNetwork === true);
    return getReport(error);
  });
  t.teardown(() => (process.report.getReport = getReport));
  const first = runsOnGlibc();
  t.is(runsOnGlibc(), first);
  t.is(runsOnGlibc(), first);
  // This Debian machine runs glibc; the first call (here or earlier in this process) made the only report.
  t.true(first);
  t.true(seen.length <= 1, `${seen.length} reports`);
  t.true(seen.every(Boolean), 'made without the network part');
  t.false((process.report as { excludeNetwork?: boolean }).excludeNetwork);
});

test('the prebuild is used when complete and preferred, or when there is no source build', (t) => {
  const have = (...files: string[]) => (file: string) => files.includes(file);
  const files = ['/p/addon', '/p/stressor'];
  t.false(usePrebuild(files, '/b/addon', false, have('/p/addon', '/p/stressor', '/b/addon')), 'a source build wins by default');
  t.true(usePrebuild(files, '/b/addon', true, have('/p/addon', '/p/stressor', '/b/addon')), 'FAULTD_PREFER_PREBUILDS=1 puts the prebuild first');
  t.true(usePrebuild(files, '/b/addon', false, have('/p/addon', '/p/stressor')), 'no source build: the prebuild');
  t.false(usePrebuild(files, '/b/addon', true, have('/p/addon', '/b/addon')), 'an incomplete prebuild is never used');
  t.false(usePrebuild(files, '/b/addon', false, have('/p/addon')), 'nothing complete: the source build path, whose absence the loader reports');
  t.false(usePrebuild([], '/b/addon', true, have()), 'no files named: no prebuild');
});

/** betterSqliteOptions() and a SqliteHubStore opened in a package root whose better-sqlite3 has or lacks its own build. */
function storeIn(t: import('ava').ExecutionContext, sourceBuild: boolean, prefer: boolean): { nativeBinding?: string; loaded: string[] } {
  const repo = packageRoot();
  const require = createRequire(import.meta.url);
  const realSqlite = path.dirname(require.resolve('better-sqlite3/package.json'));
  const root = mkdtempSync(path.join(tmpdir(), 'faultd-prebuilds-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  // The package: copies of its compiled src/ and of better-sqlite3 without its build (with it when
  // asked), every other module linked (copies, so that Node resolves from the fake root).
  cpSync(path.join(repo, 'dist', 'src'), path.join(root, 'dist', 'src'), { recursive: true });
  copyFileSync(path.join(repo, 'package.json'), path.join(root, 'package.json'));
  const modules = path.join(root, 'node_modules');
  mkdirSync(modules);
  for (const name of readdirSync(path.join(repo, 'node_modules'))) {
    if (name !== 'better-sqlite3' && name !== '.bin') symlinkSync(path.join(repo, 'node_modules', name), path.join(modules, name));
  }
  const sqlite = path.join(modules, 'better-sqlite3');
  cpSync(realSqlite, sqlite, { recursive: true, filter: (file) => !['build', 'deps', 'src'].includes(path.relative(realSqlite, file)) });
  const addon = path.join(realSqlite, 'build', 'Release', 'better_sqlite3.node');
  if (sourceBuild) {
    mkdirSync(path.join(sqlite, 'build', 'Release'), { recursive: true });
    copyFileSync(addon, path.join(sqlite, 'build', 'Release', 'better_sqlite3.node'));
  }
  const prebuilt = path.join(root, 'prebuilds', `linux-${process.arch}`);
  mkdirSync(prebuilt, { recursive: true });
  copyFileSync(addon, path.join(prebuilt, `better_sqlite3.node.abi${process.versions.modules}.glibc.node`));
  // The store from the fake root's dist/src; /proc/self/maps names the SQLite addon it mapped.
  const script = `
    const { betterSqliteOptions } = await import(${JSON.stringify(path.join(root, 'dist/src/prebuilds.js'))});
    const { SqliteHubStore } = await import(${JSON.stringify(path.join(root, 'dist/src/hub/sqlite-store.js'))});
    const store = new SqliteHubStore(':memory:');
    store.close();
    const loaded = require('node:fs').readFileSync('/proc/self/maps', 'utf8').split('\\n').filter((l) => l.includes('better_sqlite3')).map((l) => l.split(/\\s+/).at(-1));
    console.log(JSON.stringify({ ...betterSqliteOptions(), loaded: [...new Set(loaded)] }));`;
  const run = spawnSync(process.execPath, ['--input-type=commonjs', '-e', `(async () => {${script}})().catch((e) => { console.error(e); process.exit(1); })`], {
    encoding: 'utf8',
    cwd: root,
    env: { ...process.env, FAULTD_PREFER_PREBUILDS: prefer ? '1' : '' },
  });
  t.is(run.status, 0, run.stderr);
  return JSON.parse(run.stdout) as { nativeBinding?: string; loaded: string[] };
}

test('the hub store loads the prebuilt better_sqlite3.node when better-sqlite3 has no build of its own', (t) => {
  const result = storeIn(t, false, false);
  t.regex(result.nativeBinding ?? '', /\/prebuilds\/linux-\w+\/better_sqlite3\.node\.abi\d+\.glibc\.node$/);
  t.deepEqual(result.loaded, [result.nativeBinding]);
});

test('the hub store keeps better-sqlite3’s own build unless FAULTD_PREFER_PREBUILDS=1', (t) => {
  const own = storeIn(t, true, false);
  t.is(own.nativeBinding, undefined);
  t.is(own.loaded.length, 1);
  t.regex(own.loaded[0] ?? '', /\/node_modules\/better-sqlite3\/build\/Release\/better_sqlite3\.node$/);
  const preferred = storeIn(t, true, true);
  t.regex(preferred.nativeBinding ?? '', /\/prebuilds\//);
  t.deepEqual(preferred.loaded, [preferred.nativeBinding]);
});
