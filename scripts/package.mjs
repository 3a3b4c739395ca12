#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
/**
 * `npm run package`: a .deb (dpkg-deb) and an .rpm (rpmbuild) of this build in dist/packages/,
 * with a SHA256SUMS file next to them (scripts/get-faultd.sh checks it). Both hold the same tree:
 *
 *   /usr/bin/faultd                     launcher: /usr/lib/faultd/node on the app's entry point
 *   /usr/lib/faultd/node                this machine's Node (process.execPath), the package's own runtime
 *   /usr/lib/faultd/node.LICENSE        its license
 *   /usr/lib/faultd/restart-between-runs  the upgrade restart (packaging/restart-between-runs.sh)
 *   /usr/lib/faultd/app/                package.json, bin/, dist/src/, systemd/ (the templates `faultd
 *                                       install` renders), node_modules/ (production dependencies only,
 *                                       test files dropped, better-sqlite3 without its build), and
 *                                       prebuilds/linux-<arch>/: the addon, faultd-stressor and
 *                                       better-sqlite3's addon built for glibc 2.28 (scripts/prebuild.mjs;
 *                                       src/prebuilds.ts picks them: there is no build/Release)
 *   /lib/systemd/system/ (.deb), /usr/lib/systemd/system/ (.rpm): faultd.service and
 *                                       faultd-remnants.service with the packaged paths
 *
 * The architecture is this machine's; the glibc the packages require is the newest symbol
 * version any shipped binary needs (objdump -T), so dpkg and rpm refuse a host that is too old.
 * The prebuild is rebuilt first (scripts/prebuild.mjs) when it is missing or older than its
 * sources, and every native binary shipped must pass the glibc 2.28 baseline check of
 * scripts/prebuild-state.mjs (no GLIBC_ newer than 2.28, no libstdc++/libgcc_s), or nothing is
 * written. Needs a build (`npm run build`, which the npm script runs first), dpkg-deb, rpmbuild
 * (Debian package rpm: `bash scripts/install-deps.sh --package`) and objdump.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { baselineProblems, prebuildFiles, stalePrebuild } from './prebuild-state.mjs';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const OUT = path.join(REPO, 'dist', 'packages');
const STAGE = path.join(OUT, '.stage');
const ROOT = path.join(STAGE, 'root');
const APP = path.join(ROOT, 'usr/lib/faultd/app');
const ARCH = process.arch;
const ABI = process.versions.modules; // the shipped runtime is this Node: better-sqlite3's prebuild for its ABI
const PREBUILD = prebuildFiles(REPO, ARCH, ABI);
const APP_PREBUILDS = path.join(APP, 'prebuilds', `linux-${ARCH}`);
/** The shipped native binaries (addon, stressor, better-sqlite3) in the staged tree. */
const NATIVE = Object.values(PREBUILD.files).map((file) => path.join(APP_PREBUILDS, path.basename(file)));

function fail(message) {
  console.error(`package: ${message}`);
  process.exit(1);
}

function run(command, args, options = {}) {
  const result = spawnSync(command, args, { encoding: 'utf8', maxBuffer: 1 << 28, ...options });
  if (result.error) fail(`${command}: ${result.error.message}`);
  if (result.status !== 0) fail(`${command} ${args.join(' ')} failed (exit ${result.status}):\n${result.stderr}${result.stdout}`);
  return result.stdout;
}

function need(tool, hint) {
  if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) fail(`needs ${tool} (${hint})`);
}

/** Newest `<prefix>x.y[.z]` symbol version the binaries need (GLIBC_, GLIBCXX_), as a string. */
function newestSymbolVersion(files, prefix) {
  const pattern = new RegExp(`${prefix}(\\d+(?:\\.\\d+)+)`, 'g');
  const versions = files.flatMap((file) => [...run('objdump', ['-T', file]).matchAll(pattern)].map((m) => m[1]));
  versions.sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  const newest = versions.at(-1);
  if (!newest) fail(`objdump found no ${prefix} symbol versions`);
  return newest;
}

/** The GCC release whose libstdc++ first has a GLIBCXX_ version (GCC's ABI policy document), for Debian's libstdc++6 version. */
const GLIBCXX_GCC = { '3.4.21': '5', '3.4.22': '6', '3.4.23': '7', '3.4.24': '7.2', '3.4.25': '8', '3.4.26': '9', '3.4.27': '9.2', '3.4.28': '9.3', '3.4.29': '11', '3.4.30': '12', '3.4.31': '13' };

/** Production dependencies only: a copy of node_modules pruned by npm, then test files and build leftovers dropped. */
function stageNodeModules() {
  copyFileSync(path.join(REPO, 'package.json'), path.join(APP, 'package.json'));
  copyFileSync(path.join(REPO, 'package-lock.json'), path.join(APP, 'package-lock.json'));
  cpSync(path.join(REPO, 'node_modules'), path.join(APP, 'node_modules'), { recursive: true, verbatimSymlinks: true });
  run('npm', ['prune', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund', '--offline'], { cwd: APP });
  const modules = path.join(APP, 'node_modules');
  rmSync(path.join(modules, '.bin'), { recursive: true, force: true });
  rmSync(path.join(modules, '.package-lock.json'), { force: true });
  // better-sqlite3: only its loader (lib/); its addon is the prebuild's (the hub store passes it as
  // nativeBinding), not this checkout's build, nor the SQLite sources or objects.
  const sqlite = path.join(modules, 'better-sqlite3');
  for (const dir of ['deps', 'src', 'build']) rmSync(path.join(sqlite, dir), { recursive: true, force: true });
  const tests = run('find', [modules, '-depth', '(', '-type', 'd', '(', '-name', 'test', '-o', '-name', 'tests', '-o', '-name', '__tests__', ')', ')', '-print']).split('\n').filter(Boolean);
  for (const dir of tests) rmSync(dir, { recursive: true, force: true });
  run('find', [modules, '-depth', '-type', 'd', '-empty', '-delete']);
  rmSync(path.join(APP, 'package-lock.json'));
}

/** Node's license, shipped next to the runtime it covers (a Debian-packaged Node, or an official tarball's). */
function nodeLicense() {
  const prefix = path.dirname(path.dirname(process.execPath));
  const candidates = ['/usr/share/doc/nodejs/LICENSE', path.join(prefix, 'LICENSE'), path.join(prefix, 'share/doc/node/LICENSE')];
  const found = candidates.find((file) => existsSync(file));
  if (!found) fail(`no LICENSE for the Node runtime ${process.execPath} (looked in ${candidates.join(', ')})`);
  return found;
}

function stageTree() {
  rmSync(STAGE, { recursive: true, force: true });
  mkdirSync(APP, { recursive: true });
  mkdirSync(path.join(ROOT, 'usr/bin'), { recursive: true });
  cpSync(path.join(REPO, 'bin'), path.join(APP, 'bin'), { recursive: true });
  cpSync(path.join(REPO, 'dist/src'), path.join(APP, 'dist/src'), { recursive: true, filter: (file) => !file.endsWith('.tsbuildinfo') && !file.endsWith('.d.ts') });
  // The web console the hub serves at /ui/ (scripts/build-console.mjs), without its source maps.
  cpSync(path.join(REPO, 'dist/console'), path.join(APP, 'dist/console'), { recursive: true, filter: (file) => !file.endsWith('.map') });
  cpSync(path.join(REPO, 'systemd'), path.join(APP, 'systemd'), { recursive: true });
  mkdirSync(APP_PREBUILDS, { recursive: true });
  for (const file of Object.values(PREBUILD.files)) copyFileSync(file, path.join(APP_PREBUILDS, path.basename(file)));
  chmodSync(path.join(APP_PREBUILDS, 'faultd-stressor'), 0o755);
  for (const file of ['LICENSE', 'README.md']) if (existsSync(path.join(REPO, file))) copyFileSync(path.join(REPO, file), path.join(APP, file));
  stageNodeModules();
  copyFileSync(process.execPath, path.join(ROOT, 'usr/lib/faultd/node'));
  chmodSync(path.join(ROOT, 'usr/lib/faultd/node'), 0o755);
  copyFileSync(nodeLicense(), path.join(ROOT, 'usr/lib/faultd/node.LICENSE'));
  copyFileSync(path.join(REPO, 'packaging/restart-between-runs.sh'), path.join(ROOT, 'usr/lib/faultd/restart-between-runs'));
  chmodSync(path.join(ROOT, 'usr/lib/faultd/restart-between-runs'), 0o755);
  copyFileSync(path.join(REPO, 'packaging/faultd-launcher.sh'), path.join(ROOT, 'usr/bin/faultd'));
  chmodSync(path.join(ROOT, 'usr/bin/faultd'), 0o755);
  run('chmod', ['-R', 'u+rwX,go+rX,go-w', ROOT]);
}

/** The shipped units with the packaged launcher in place of the template's command. */
function writeUnits(dir) {
  mkdirSync(dir, { recursive: true });
  for (const name of ['faultd.service', 'faultd-remnants.service']) {
    const text = readFileSync(path.join(REPO, 'systemd', name), 'utf8')
      .replaceAll('/usr/local/bin/faultd', '/usr/bin/faultd')
      .replaceAll('/usr/bin/env faultd', '/usr/bin/faultd')
      .replace('# The faultd agent as a systemd service. `faultd install` writes this file with the real path of\n# faultd in place of /usr/local/bin/faultd; see README, "Running as a service".', '# The faultd agent as a systemd service, as the faultd package installs it (disabled until\n# `faultd install` enables it); see README, "Install from a package" and "Running as a service".');
    writeFileSync(path.join(dir, name), text, { mode: 0o644 });
  }
}

function fill(template, fields) {
  return Object.entries(fields).reduce((text, [key, value]) => text.replaceAll(`@${key}@`, value), template);
}

function sha256(file) {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

function main() {
  need('dpkg-deb', 'Debian package dpkg');
  need('rpmbuild', 'Debian package rpm: bash scripts/install-deps.sh --package');
  need('objdump', 'Debian package binutils');
  const stale = stalePrebuild(REPO, ARCH, ABI);
  if (stale) {
    console.log(`package: building the glibc 2.28 prebuild (${stale}): node scripts/prebuild.mjs`);
    const built = spawnSync(process.execPath, [path.join(REPO, 'scripts/prebuild.mjs')], { stdio: 'inherit' });
    if (built.status !== 0) fail(`scripts/prebuild.mjs failed (exit ${built.status ?? built.signal})`);
    const still = stalePrebuild(REPO, ARCH, ABI);
    if (still) fail(`the prebuild is still not usable after scripts/prebuild.mjs: ${still}`);
  }
  if (!existsSync(path.join(REPO, 'dist/src/entry.js'))) fail('dist/src/entry.js is missing: npm run build');
  const { version } = JSON.parse(readFileSync(path.join(REPO, 'package.json'), 'utf8'));
  const debArch = run('dpkg', ['--print-architecture']).trim();
  const rpmArch = run('uname', ['-m']).trim();
  mkdirSync(OUT, { recursive: true });
  for (const old of readdirSync(OUT)) if (/\.(deb|rpm)$|^SHA256SUMS$/.test(old)) rmSync(path.join(OUT, old));

  stageTree();
  const problems = NATIVE.flatMap((file) => baselineProblems(file, ARCH).map((problem) => `${path.basename(file)}: ${problem}`));
  if (problems.length) fail(`the native binaries break the glibc 2.28 baseline:\n  ${problems.join('\n  ')}`);
  console.log(`package: ${NATIVE.map((file) => path.basename(file)).join(', ')}: no GLIBC_ newer than 2.28, no libstdc++/libgcc_s (objdump)`);
  const binaries = [path.join(ROOT, 'usr/lib/faultd/node'), ...NATIVE];
  const glibc = newestSymbolVersion(binaries, 'GLIBC_');
  const glibcxx = newestSymbolVersion(binaries, 'GLIBCXX_');
  const gcc = GLIBCXX_GCC[glibcxx];
  if (!gcc) fail(`GLIBCXX_${glibcxx} is not in the table of GCC releases in scripts/package.mjs; add it`);
  console.log(`package: faultd ${version}, ${debArch}/${rpmArch}, needs glibc >= ${glibc} and libstdc++ GLIBCXX_${glibcxx} (GCC ${gcc}): the newest symbol versions of node, the addons and faultd-stressor`);

  // .deb
  const debUnits = path.join(ROOT, 'lib/systemd/system');
  writeUnits(debUnits);
  const control = path.join(ROOT, 'DEBIAN');
  mkdirSync(control);
  const installedKiB = run('du', ['-sk', '--exclude=DEBIAN', ROOT]).split('\t')[0];
  writeFileSync(path.join(control, 'control'), fill(readFileSync(path.join(REPO, 'packaging/deb/control'), 'utf8'), { VERSION: version, DEB_ARCH: debArch, INSTALLED_SIZE: installedKiB, GLIBC: glibc, LIBSTDCXX: gcc }));
  for (const script of ['postinst', 'prerm', 'postrm']) {
    copyFileSync(path.join(REPO, 'packaging/deb', script), path.join(control, script));
    chmodSync(path.join(control, script), 0o755);
  }
  const deb = path.join(OUT, `faultd_${version}_${debArch}.deb`);
  run('dpkg-deb', ['--root-owner-group', '-Zgzip', '--build', ROOT, deb]);
  rmSync(control, { recursive: true });
  rmSync(path.join(ROOT, 'lib'), { recursive: true });

  // .rpm
  writeUnits(path.join(ROOT, 'usr/lib/systemd/system'));
  const top = path.join(STAGE, 'rpmbuild');
  mkdirSync(path.join(top, 'SPECS'), { recursive: true });
  const spec = path.join(top, 'SPECS', 'faultd.spec');
  writeFileSync(spec, fill(readFileSync(path.join(REPO, 'packaging/rpm/faultd.spec'), 'utf8'), { VERSION: version, RPM_ARCH: rpmArch, GLIBC: glibc, GLIBCXX: glibcxx, STAGE: ROOT }));
  run('rpmbuild', ['-bb', '--quiet', '--define', `_topdir ${top}`, '--define', `_tmppath ${path.join(top, 'tmp')}`, '--target', rpmArch, spec]);
  const rpmName = `faultd-${version}-1.${rpmArch}.rpm`;
  const built = path.join(top, 'RPMS', rpmArch, rpmName);
  if (!existsSync(built)) fail(`rpmbuild did not write ${built}`);
  const rpm = path.join(OUT, rpmName);
  copyFileSync(built, rpm);

  rmSync(STAGE, { recursive: true, force: true });
  const sums = [deb, rpm].map((file) => `${sha256(file)}  ${path.basename(file)}\n`).join('');
  writeFileSync(path.join(OUT, 'SHA256SUMS'), sums);
  copyFileSync(path.join(REPO, 'scripts/get-faultd.sh'), path.join(OUT, 'get-faultd.sh'));
  chmodSync(path.join(OUT, 'get-faultd.sh'), 0o755);
  for (const file of [deb, rpm]) console.log(`package: ${path.relative(REPO, file)} (${Math.round(statSync(file).size / 1048576)} MiB)`);
  console.log(`package: ${path.relative(REPO, path.join(OUT, 'SHA256SUMS'))}, ${path.relative(REPO, path.join(OUT, 'get-faultd.sh'))}`);
}

main();
