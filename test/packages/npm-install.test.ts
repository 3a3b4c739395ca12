// SPDX-License-Identifier: Apache-2.0
// `npm pack` of this checkout (prepack: the prebuilds and better-sqlite3's local prebuild tarball)
// installed as a dependency of a scratch project with `npm ci --offline` under strace: faultd's
// install script takes the prebuild, the bundled better-sqlite3's prebuild-install installs its
// prebuilt addon from the package, and nothing compiles (no node-gyp, make, compiler or python is
// executed). The scratch project's lock is written from this checkout's package-lock.json, so no
// registry metadata is needed: only the npm cache's tarballs.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { REPO } from '../system/container.js';
import { output, packageTest } from './packages.js';

interface LockEntry {
  readonly dev?: boolean;
  readonly resolved?: string;
  readonly integrity?: string;
  readonly [field: string]: unknown;
}

/** package.json and package-lock.json of a project depending on `tarball` only. */
function writeProject(dir: string, tarball: string): void {
  const lock = JSON.parse(readFileSync(path.join(REPO, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> };
  const pkg = JSON.parse(readFileSync(path.join(REPO, 'package.json'), 'utf8')) as Record<string, unknown>;
  const bundled = new Set(
    output('tar', ['tzf', tarball])
      .split('\n')
      .map((line) => /^package\/(node_modules\/(?:@[^/]+\/)?[^/]+(?:\/node_modules\/(?:@[^/]+\/)?[^/]+)*)\/package\.json$/.exec(line)?.[1])
      .filter((key): key is string => key !== undefined),
  );
  const spec = `file:${path.relative(dir, tarball)}`;
  const packages: Record<string, unknown> = {
    '': { name: 'scratch', version: '1.0.0', dependencies: { faultd: spec } },
    'node_modules/faultd': {
      version: pkg['version'],
      resolved: spec,
      integrity: `sha512-${createHash('sha512').update(readFileSync(tarball)).digest('base64')}`,
      bundleDependencies: pkg['bundleDependencies'],
      hasInstallScript: true,
      license: pkg['license'],
      dependencies: pkg['dependencies'],
      bin: pkg['bin'],
      engines: pkg['engines'],
    },
  };
  for (const [key, entry] of Object.entries(lock.packages)) {
    if (!key.startsWith('node_modules/') || entry.dev === true) continue;
    if (bundled.has(key)) {
      // In the bundle: no registry source of its own.
      packages[`node_modules/faultd/${key}`] = { ...Object.fromEntries(Object.entries(entry).filter(([field]) => field !== 'resolved' && field !== 'integrity')), inBundle: true };
    } else packages[key] = entry;
  }
  writeFileSync(path.join(dir, 'package.json'), `${JSON.stringify({ name: 'scratch', version: '1.0.0', private: true, dependencies: { faultd: spec } }, null, 2)}\n`);
  writeFileSync(path.join(dir, 'package-lock.json'), `${JSON.stringify({ name: 'scratch', version: '1.0.0', lockfileVersion: 3, requires: true, packages }, null, 2)}\n`);
}

const haveStrace = spawnSync('sh', ['-c', 'command -v strace']).status === 0;
const straceTest = haveStrace ? packageTest : packageTest.skip;

straceTest('npm pack, then npm ci --offline of a project depending on it: the prebuilds are used and nothing compiles', (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'faultd-npm-install-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const packed = spawnSync('npm', ['pack', '--pack-destination', dir], { cwd: REPO, encoding: 'utf8' });
  t.is(packed.status, 0, packed.stderr);
  const tarball = path.join(dir, readdirSync(dir).find((name) => name.endsWith('.tgz')) ?? '');
  const project = path.join(dir, 'project');
  execFileSync('mkdir', [project]);
  writeProject(project, tarball);
  const trace = path.join(dir, 'execve.trace');
  const install = spawnSync('strace', ['-f', '-qq', '-e', 'trace=execve', '-e', 'signal=none', '-o', trace, 'npm', 'ci', '--offline', '--no-audit', '--no-fund', '--foreground-scripts'], { cwd: project, encoding: 'utf8' });
  t.is(install.status, 0, `${install.stdout}${install.stderr}`);
  t.regex(install.stdout, /build-native: using the prebuilt binaries in prebuilds\/linux-\w+: nothing compiled/);
  const executed = [...readFileSync(trace, 'utf8').matchAll(/execve\("([^"]+)", \[[^\]]*\], [^)]*\) = 0/g)].map((m) => m[1] ?? '');
  t.true(executed.some((file) => file.endsWith('/.bin/prebuild-install')), 'better-sqlite3’s prebuild-install ran');
  const compilers = executed.filter((file) => /\/(node-gyp|make|gmake|[gc]\+\+|gcc|cc|cc1|cc1plus|ld|python3?)$/.test(file));
  t.deepEqual(compilers, [], 'no node-gyp, make, compiler, linker or python ran');
  t.log(`${executed.length} programs executed: ${[...new Set(executed.map((file) => path.basename(file)))].join(', ')}`);

  const app = path.join(project, 'node_modules', 'faultd');
  t.false(existsSync(path.join(app, 'build')), 'no build/ was made');
  const sqlite = readFileSync(path.join(app, 'node_modules', 'better-sqlite3', 'build', 'Release', 'better_sqlite3.node'));
  t.true(sqlite.equals(readFileSync(path.join(app, 'prebuilds', `linux-${process.arch}`, `better_sqlite3.node.abi${process.versions.modules}.glibc.node`))), 'better-sqlite3’s addon is the prebuilt one');
  const loaded = spawnSync(process.execPath, ['--input-type=module', '-e', `const m = await import(${JSON.stringify(path.join(app, 'dist/src/native/load.js'))}); console.log(m.nativeBinaries().addon, m.loadNative().abiVersion)`], { encoding: 'utf8' });
  t.is(loaded.stdout.trim(), `${path.join(app, 'prebuilds', `linux-${process.arch}`, 'faultd_native.napi.glibc.node')} 1`, loaded.stderr);
  const hub = spawnSync(process.execPath, [path.join(app, 'bin', 'faultd.js'), 'hub', '--hub-dir', path.join(dir, 'hub'), 'infra', 'create', 'npm'], { encoding: 'utf8' });
  t.is(hub.status, 0, hub.stderr);
});
