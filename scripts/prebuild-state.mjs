// SPDX-License-Identifier: Apache-2.0
// What a prebuild for one architecture holds (scripts/prebuild.mjs writes it, src/prebuilds.ts
// reads the same layout), whether it is older than its sources, and the glibc 2.28 baseline check
// (objdump) that package.mjs applies to every native binary it ships.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';

/** Node's arch name → the ELF machine objdump -f reports and the dynamic loader's name. */
export const ARCHES = {
  x64: { machine: 'i386:x86-64', loader: 'ld-linux-x86-64.so.2' },
  arm64: { machine: 'aarch64', loader: 'ld-linux-aarch64.so.1' },
};

export const GLIBC_BASELINE = '2.28';

/** prebuilds/linux-<arch>/ and the files it must hold; better-sqlite3's for Node ABI `abi`, or none when `abi` is undefined. */
export function prebuildFiles(root, arch, abi) {
  const dir = path.join(root, 'prebuilds', `linux-${arch}`);
  const files = { addon: path.join(dir, 'faultd_native.napi.glibc.node'), stressor: path.join(dir, 'faultd-stressor') };
  if (abi !== undefined) files.sqlite = path.join(dir, `better_sqlite3.node.abi${abi}.glibc.node`);
  return { dir, files };
}

/** Newest modification time (ms) of what a prebuild is built from. */
function newestSourceMs(root) {
  const files = ['binding.gyp', 'scripts/prebuild.mjs', 'node_modules/better-sqlite3/package.json'].map((f) => path.join(root, f)).filter((f) => existsSync(f));
  for (const entry of readdirSync(path.join(root, 'native'), { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) files.push(path.join(entry.parentPath, entry.name));
  }
  return Math.max(...files.map((file) => statSync(file).mtimeMs));
}

/** Why the prebuild for `arch` must be (re)built, or undefined when it is complete and newer than every source. */
export function stalePrebuild(root, arch, abi) {
  const outputs = Object.values(prebuildFiles(root, arch, abi).files);
  const missing = outputs.filter((file) => !existsSync(file));
  if (missing.length) return `${missing.map((f) => path.relative(root, f)).join(', ')} missing`;
  const oldest = Math.min(...outputs.map((file) => statSync(file).mtimeMs));
  return newestSourceMs(root) > oldest ? 'sources changed since it was built' : undefined;
}

function compareVersions(a, b) {
  return a.localeCompare(b, 'en', { numeric: true });
}

/**
 * What keeps `file` from running on glibc 2.28 without the host's C++ runtime: glibc symbol
 * versions newer than the baseline, any GLIBCXX_/CXXABI_/GCC_ version (libstdc++/libgcc_s), a
 * library other than glibc's own, or another machine than `arch`'s. Empty when it is fine.
 */
export function baselineProblems(file, arch, objdump = 'objdump') {
  const dump = (flag) => {
    const result = spawnSync(objdump, [flag, file], { encoding: 'utf8', maxBuffer: 1 << 26 });
    if (result.status !== 0) throw new Error(`${objdump} ${flag} ${file} failed: ${result.stderr}`);
    return result.stdout;
  };
  const problems = [];
  const machine = /architecture: ([\w:-]+)/.exec(dump('-f'))?.[1];
  if (machine !== ARCHES[arch].machine) problems.push(`ELF machine ${machine ?? '?'}, not ${ARCHES[arch].machine}`);
  const versions = [...new Set([...dump('-T').matchAll(/\*UND\*\s+\S+\s+\(?([A-Z]+_[\d.]+)\)?\s+\S+$/gm)].map((m) => m[1]))];
  if (!versions.some((v) => v.startsWith('GLIBC_'))) problems.push('no glibc symbol version at all (not a dynamic glibc binary?)');
  const tooNew = versions.filter((v) => v.startsWith('GLIBC_') && compareVersions(v.slice('GLIBC_'.length), GLIBC_BASELINE) > 0);
  if (tooNew.length) problems.push(`needs ${tooNew.sort().join(', ')} (baseline GLIBC_${GLIBC_BASELINE})`);
  const cxx = versions.filter((v) => /^(GLIBCXX|CXXABI|GCC)_/.test(v));
  if (cxx.length) problems.push(`needs the host's C++ runtime: ${cxx.sort().join(', ')}`);
  const allowed = new RegExp(`^(libc\\.so\\.6|libm\\.so\\.6|libdl\\.so\\.2|libpthread\\.so\\.0|${ARCHES[arch].loader.replaceAll('.', '\\.')})$`);
  const needed = [...dump('-p').matchAll(/^\s*NEEDED\s+(\S+)$/gm)].map((m) => m[1]).filter((lib) => !allowed.test(lib));
  if (needed.length) problems.push(`links ${needed.join(', ')} (only glibc's own libraries are allowed)`);
  return problems;
}
