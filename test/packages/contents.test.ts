// SPDX-License-Identifier: Apache-2.0
// What the .deb and the .rpm of `npm run package` hold, read with dpkg-deb and rpm: the layout,
// the runtime (executable, and it runs faultd from the extracted payload with nothing of this
// checkout), production dependencies only (no dev-only module of package-lock.json, no test
// directories), the glibc the package requires equal to the newest one its binaries need, and
// every faultd path the units, the launcher and the package scripts name present in the payload;
// the native binaries are the prebuild (prebuilds/linux-<arch>, no build/Release), each passing the
// glibc 2.28 baseline (scripts/prebuild-state.mjs, the check package.mjs applies too), and the
// packaged hub opens its SQLite store through the prebuilt better-sqlite3 addon.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import type { ExecutionContext } from 'ava';

import { REPO } from '../system/container.js';
import { DEB, DEB_ARCH, DEPENDENCIES, devOnlyModules, faultdPaths, newestVersion, output, packageTest, RPM, RPM_ARCH, VERSION } from './packages.js';

const APP = '/usr/lib/faultd/app';
const PREBUILDS = `${APP}/prebuilds/linux-${process.arch}`;
/** The shipped native binaries: the prebuild for this arch (and, for better-sqlite3, the packaged runtime's ABI, which is this Node's). */
const NATIVE = [`${PREBUILDS}/faultd_native.napi.glibc.node`, `${PREBUILDS}/faultd-stressor`, `${PREBUILDS}/better_sqlite3.node.abi${process.versions.modules}.glibc.node`];
const EXECUTABLES = ['/usr/bin/faultd', '/usr/lib/faultd/node', '/usr/lib/faultd/restart-between-runs', `${PREBUILDS}/faultd-stressor`];
const FILES = ['/usr/lib/faultd/node.LICENSE', `${APP}/bin/faultd.js`, `${APP}/dist/src/entry.js`, `${APP}/package.json`, ...NATIVE, `${APP}/systemd/faultd.service`];

/** path → permission string (-rwxr-xr-x) of every entry. */
type Listing = Map<string, string>;

function debListing(): Listing {
  const listing: Listing = new Map();
  for (const line of output('dpkg-deb', ['-c', DEB]).split('\n').filter(Boolean)) {
    const fields = line.split(/\s+/);
    const name = (fields[5] ?? '').replace(/^\./, '').replace(/\/$/, '');
    if (name) listing.set(name, fields[0] ?? '');
  }
  return listing;
}

function rpmListing(): Listing {
  const listing: Listing = new Map();
  for (const line of output('rpm', ['-qp', '--queryformat', '[%{FILEMODES:perms} %{FILENAMES}\n]', RPM]).split('\n').filter(Boolean)) {
    const [perms = '', name = ''] = line.split(' ');
    listing.set(name, perms);
  }
  return listing;
}

function checkLayout(t: ExecutionContext, listing: Listing, unitDir: string): void {
  for (const file of [...EXECUTABLES, ...FILES, `${unitDir}/faultd.service`, `${unitDir}/faultd-remnants.service`]) t.true(listing.has(file), `${file} is in the package`);
  for (const file of EXECUTABLES) t.regex(listing.get(file) ?? '', /^-rwxr-xr-x$/, `${file} is an executable file`);
  for (const dep of DEPENDENCIES) t.true(listing.has(`${APP}/node_modules/${dep}/package.json`), `production dependency ${dep} is in the package`);
  const devOnly = devOnlyModules();
  t.true(devOnly.length > 50, 'package-lock.json has dev-only modules to look for');
  const shipped = devOnly.filter((key) => listing.has(`${APP}/${key}`));
  t.deepEqual(shipped, [], 'no dev-only module is in the package');
  const tests = [...listing.keys()].filter((name) => /\/node_modules\/.*\/(test|tests|__tests__)(\/|$)/.test(name) || name.startsWith(`${APP}/dist/test`) || name.startsWith(`${APP}/dist/bench`));
  t.deepEqual(tests.slice(0, 5), [], 'no test files');
  t.false([...listing.keys()].some((name) => name.includes('better-sqlite3/deps/')), 'no SQLite sources');
  const other = [...listing.keys()].filter((name) => (name.endsWith('.node') || name.endsWith('/faultd-stressor')) && !NATIVE.includes(name));
  t.deepEqual(other, [], 'no native binary but the prebuild (no build/Release, no better-sqlite3 build)');
}

/** Extracts the payload and checks what runs from it: the runtime on faultd's entry, and the glibc floor. */
/**
 * The baseline check (prebuild-state.ts) is imported when a test runs: that module awaits the
 * scripts' import at its top level, and a test file that waits before declaring its tests fails
 * in ava once packages.ts has declared its skip.
 */
async function checkRuntime(t: ExecutionContext, extract: (dir: string) => void, required: string): Promise<string> {
  const { baselineProblems } = await import('../helpers/prebuild-state.js');
  const dir = mkdtempSync(path.join(tmpdir(), 'faultd-pkg-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  extract(dir);
  const node = path.join(dir, 'usr/lib/faultd/node');
  const entry = path.join(dir, APP, 'bin/faultd.js');
  // A PATH without the host's Node directory: the runtime is the package's own.
  const run = (args: readonly string[]) => spawnSync(node, [entry, ...args], { encoding: 'utf8', cwd: dir, env: { PATH: '/nonexistent', LANG: 'C.UTF-8' } });
  const version = run(['--version']);
  t.is(version.status, 0, version.stderr);
  t.is(version.stdout.trim(), VERSION);
  const faults = run(['faults']);
  t.is(faults.status, 0, faults.stderr);
  t.regex(faults.stdout, /linux-cpu-stress/);
  const example = path.join(REPO, 'examples', 'cpu-and-memory.yaml');
  const validated = run(['validate', example]);
  t.is(validated.status, 0, `validate ${example} with the packaged faultd (zod, yaml, the registry): ${validated.stdout}${validated.stderr}`);
  // The packaged hub: its SQLite store loads the prebuilt better-sqlite3 addon (there is no other).
  const hubDir = path.join(dir, 'hub');
  const created = run(['hub', '--hub-dir', hubDir, 'infra', 'create', 'packaged']);
  t.is(created.status, 0, `hub infra create with the packaged better-sqlite3: ${created.stdout}${created.stderr}`);
  const listed = run(['hub', '--hub-dir', hubDir, 'infra', 'list']);
  t.regex(listed.stdout, /^packaged\s/m, listed.stderr);
  const native = NATIVE.map((file) => path.join(dir, file));
  for (const file of native) t.deepEqual(baselineProblems(file, process.arch), [], `${path.basename(file)} keeps the glibc 2.28 baseline`);
  const binaries = [node, ...native];
  t.log(`newest GLIBC_ / GLIBCXX_ symbol: ${binaries.map((file) => `${path.basename(file)} ${newestVersion([file], 'GLIBC_')} / ${newestVersion([file], 'GLIBCXX_')}`).join(', ')}`);
  t.is(required, newestVersion(binaries, 'GLIBC_'), 'the package requires exactly the newest glibc its binaries need');
  const libs = [...output('objdump', ['-p', node]).matchAll(/^\s*NEEDED\s+(\S+)$/gm)].map((m) => m[1] ?? '');
  t.true(libs.includes('libc.so.6'), libs.join(' '));
  t.deepEqual(libs.filter((l) => !/^(libc|libm|libdl|libpthread|libstdc\+\+|libgcc_s|librt|ld-linux-x86-64|ld-linux-aarch64)\.so\.\d+$/.test(l)), [], `the runtime needs only glibc, libstdc++ and libgcc: ${libs.join(' ')}`);
  return newestVersion(binaries, 'GLIBCXX_');
}

function checkNamedPaths(t: ExecutionContext, listing: Listing, what: string, text: string): void {
  const named = faultdPaths(text);
  t.true(named.length > 0, `${what} names faultd paths`);
  for (const file of named) t.true(listing.has(file), `${what} names ${file}, which is in the payload`);
}

packageTest('the .deb: layout, production dependencies only, its own runtime, glibc floor, scripts and units name packaged paths', async (t) => {
  const listing = debListing();
  checkLayout(t, listing, '/lib/systemd/system');
  const info = output('dpkg-deb', ['-f', DEB, 'Package', 'Version', 'Architecture', 'Depends']);
  t.regex(info, new RegExp(`^Version: ${VERSION.replaceAll('.', '\\.')}$`, 'm'));
  t.regex(info, new RegExp(`^Architecture: ${DEB_ARCH}$`, 'm'));
  const required = /libc6 \(>= ([\d.]+)\)/.exec(info)?.[1] ?? '';
  const glibcxx = await checkRuntime(t, (dir) => output('dpkg-deb', ['-x', DEB, dir]), required);
  t.regex(info, /libstdc\+\+6 \(>= \d+(\.\d+)?\)/, `Depends names the GCC release of GLIBCXX_${glibcxx}`);

  const control = mkdtempSync(path.join(tmpdir(), 'faultd-deb-control-'));
  t.teardown(() => rmSync(control, { recursive: true, force: true }));
  output('dpkg-deb', ['-e', DEB, control]);
  t.deepEqual(readdirSync(control).sort(), ['control', 'postinst', 'postrm', 'prerm']);
  for (const script of ['postinst', 'prerm']) checkNamedPaths(t, listing, script, readFileSync(path.join(control, script), 'utf8'));
  for (const script of ['postinst', 'prerm', 'postrm']) t.is(spawnSync('sh', ['-n', path.join(control, script)]).status, 0, `${script} parses`);

  const payload = mkdtempSync(path.join(tmpdir(), 'faultd-deb-units-'));
  t.teardown(() => rmSync(payload, { recursive: true, force: true }));
  output('sh', ['-c', `dpkg-deb --fsys-tarfile "$1" | tar -x -C "$2" ./lib/systemd/system ./usr/bin/faultd`, 'sh', DEB, payload]);
  for (const unit of ['faultd.service', 'faultd-remnants.service']) {
    const text = readFileSync(path.join(payload, 'lib/systemd/system', unit), 'utf8');
    t.false(/\/usr\/local\/bin|\/usr\/bin\/env/.test(text.replace(/^#.*$/gm, '')), `${unit} runs the packaged faultd only`);
    checkNamedPaths(t, listing, unit, text.replace(/^#.*$/gm, ''));
  }
  checkNamedPaths(t, listing, '/usr/bin/faultd', readFileSync(path.join(payload, 'usr/bin/faultd'), 'utf8'));
});

packageTest('the .rpm: layout, production dependencies only, its own runtime, glibc floor, scriptlets name packaged paths', async (t) => {
  const listing = rpmListing();
  checkLayout(t, listing, '/usr/lib/systemd/system');
  t.is(output('rpm', ['-qp', '--queryformat', '%{NAME} %{VERSION} %{ARCH}', RPM]), `faultd ${VERSION} ${RPM_ARCH}`);
  const requires = output('rpm', ['-qp', '--requires', RPM]);
  t.notRegex(requires, /node|\/usr\/bin\/env/, 'no dependency on a host Node (AutoReqProv off)');
  const required = /^glibc >= ([\d.]+)$/m.exec(requires)?.[1] ?? '';
  const glibcxx = await checkRuntime(t, (dir) => output('sh', ['-c', 'rpm2cpio "$1" | (cd "$2" && cpio -idm --quiet)', 'sh', RPM, dir]), required);
  t.true(requires.includes(`libstdc++.so.6(GLIBCXX_${glibcxx})(64bit)`), `requires the newest GLIBCXX_ its binaries need (${glibcxx})`);
  const scripts = output('rpm', ['-qp', '--scripts', RPM]);
  for (const scriptlet of ['postinstall', 'preuninstall', 'postuninstall', 'posttrans']) t.regex(scripts, new RegExp(`^${scriptlet} scriptlet`, 'm'));
  checkNamedPaths(t, listing, 'the scriptlets', scripts);
});

packageTest('SHA256SUMS lists both packages with their SHA-256', (t) => {
  const sums = readFileSync(path.join(path.dirname(DEB), 'SHA256SUMS'), 'utf8');
  for (const file of [DEB, RPM]) {
    const hash = output('sha256sum', [file]).split(' ')[0] ?? '';
    t.true(sums.includes(`${hash}  ${path.basename(file)}\n`), `${path.basename(file)}: ${hash}`);
  }
});
