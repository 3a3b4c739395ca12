// SPDX-License-Identifier: Apache-2.0
/**
 * The install script's choice (scripts/install-decision.mjs, run by scripts/build-native.mjs as
 * the package's `install`): the shipped prebuild when it fits this host and works, a source build
 * otherwise. Fake package roots in a temporary directory; "works" is checked for real with copies
 * of this checkout's binaries (build/Release, which load here) and with a file that is no addon.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import test, { type ExecutionContext } from 'ava';

import { REPO_ROOT } from '../../helpers/cli.js';
import { installDecision, verifyPrebuild, type InstallHost } from '../../helpers/prebuild-state.js';

const BUILT = path.join(REPO_ROOT, 'build', 'Release');
const INSTALL = { npm_lifecycle_event: 'install' };

/** A package root; with `prebuild`, prebuilds/linux-x64 holds copies of build/Release's addon and stressor. */
function packageRoot(t: ExecutionContext, prebuild: 'complete' | 'no-stressor' | 'broken-addon' | 'none'): string {
  const root = mkdtempSync(path.join(tmpdir(), 'faultd-install-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  if (prebuild === 'none') return root;
  const dir = path.join(root, 'prebuilds', 'linux-x64');
  mkdirSync(dir, { recursive: true });
  if (prebuild === 'broken-addon') writeFileSync(path.join(dir, 'faultd_native.napi.glibc.node'), 'not an ELF file\n');
  else copyFileSync(path.join(BUILT, 'faultd_native.node'), path.join(dir, 'faultd_native.napi.glibc.node'));
  if (prebuild !== 'no-stressor') copyFileSync(path.join(BUILT, 'faultd-stressor'), path.join(dir, 'faultd-stressor'));
  return root;
}

function host(root: string, changes: Partial<InstallHost> = {}): InstallHost {
  return { root, platform: 'linux', arch: 'x64', glibc: true, env: INSTALL, ...changes };
}

const works = () => undefined;

test('npm install of a package with a working prebuild for this host compiles nothing', (t) => {
  const root = packageRoot(t, 'complete');
  t.deepEqual(installDecision(host(root)), { use: true, dir: path.join(root, 'prebuilds', 'linux-x64') });
});

test('a source build when the prebuild does not fit: other arch, musl, other system, missing file', (t) => {
  const root = packageRoot(t, 'complete');
  t.like(installDecision(host(root, { arch: 'arm64' }), works), { use: false, reason: 'no prebuild for linux-arm64 (prebuilds/linux-arm64/faultd_native.napi.glibc.node, prebuilds/linux-arm64/faultd-stressor missing)' });
  t.like(installDecision(host(root, { glibc: false }), works), { use: false, reason: 'no prebuild is made for linux without glibc' });
  t.like(installDecision(host(root, { platform: 'darwin' }), works), { use: false, reason: 'no prebuild is made for darwin' });
  t.like(installDecision(host(packageRoot(t, 'no-stressor')), works), { use: false, reason: 'no prebuild for linux-x64 (prebuilds/linux-x64/faultd-stressor missing)' });
  t.like(installDecision(host(packageRoot(t, 'none')), works), { use: false });
});

test('a source build in a git checkout, outside the install script, and with --build-from-source', (t) => {
  const root = packageRoot(t, 'complete');
  t.like(installDecision(host(root, { env: { npm_lifecycle_event: 'build:native' } }), works), { use: false, reason: 'not the install script (npm run build:native always compiles)' });
  t.like(installDecision(host(root, { env: { ...INSTALL, npm_config_build_from_source: 'true' } }), works), { use: false, reason: '--build-from-source' });
  t.like(installDecision(host(root, { env: { ...INSTALL, npm_config_build_from_source: 'faultd' } }), works), { use: false, reason: '--build-from-source' });
  t.like(installDecision(host(root, { env: { ...INSTALL, npm_config_build_from_source: 'better-sqlite3' } }), works), { use: true }, 'another package named');
  mkdirSync(path.join(root, '.git'));
  t.like(installDecision(host(root), works), { use: false, reason: 'a git checkout builds from source' });
});

test('a prebuild that does not load or start here falls back to a source build, naming why', (t) => {
  const broken = installDecision(host(packageRoot(t, 'broken-addon')));
  t.false(broken.use);
  t.regex(broken.use ? '' : broken.reason, /^the prebuild in prebuilds\/linux-x64 does not work here: the addon does not load: .*(invalid ELF header|file too short)/);
  const root = packageRoot(t, 'complete');
  const stressor = path.join(root, 'prebuilds', 'linux-x64', 'faultd-stressor');
  writeFileSync(stressor, '#!/bin/sh\nexit 0\n');
  chmodSync(stressor, 0o755);
  t.regex(verifyPrebuild({ addon: path.join(root, 'prebuilds', 'linux-x64', 'faultd_native.napi.glibc.node'), stressor }) ?? '', /^the stressor does not start \(exit 0\)/);
});

test('build-native.mjs as the install script of an unpacked package: the prebuild, node-gyp never runs', (t) => {
  const root = packageRoot(t, 'complete');
  cpSync(path.join(REPO_ROOT, 'scripts'), path.join(root, 'scripts'), { recursive: true });
  // node-gyp, if the script reached it, would be this recorder (node_modules has node-addon-api only).
  mkdirSync(path.join(root, 'node_modules'));
  symlinkSync(path.join(REPO_ROOT, 'node_modules', 'node-addon-api'), path.join(root, 'node_modules', 'node-addon-api'));
  const gyp = path.join(root, 'gyp-ran');
  writeFileSync(path.join(root, 'fake-gyp.js'), `require('fs').writeFileSync(${JSON.stringify(gyp)}, process.argv.slice(2).join(' '))\n`);
  const env = { PATH: process.env['PATH'] ?? '', npm_lifecycle_event: 'install', npm_config_node_gyp: path.join(root, 'fake-gyp.js') };
  const install = spawnSync(process.execPath, [path.join(root, 'scripts', 'build-native.mjs')], { cwd: root, env, encoding: 'utf8' });
  t.is(install.status, 0, install.stderr);
  t.regex(install.stdout, /using the prebuilt binaries in prebuilds\/linux-x64: nothing compiled/);
  t.throws(() => copyFileSync(gyp, `${gyp}.copy`), { code: 'ENOENT' }, 'node-gyp did not run');
  // The same package without the prebuild goes to node-gyp.
  rmSync(path.join(root, 'prebuilds'), { recursive: true });
  const source = spawnSync(process.execPath, [path.join(root, 'scripts', 'build-native.mjs')], { cwd: root, env, encoding: 'utf8' });
  t.regex(source.stdout, /building from source: no prebuild for linux-x64/);
  t.regex(spawnSync('cat', [gyp], { encoding: 'utf8' }).stdout, /^rebuild --nodedir=/, 'node-gyp rebuild ran');
});
