// SPDX-License-Identifier: Apache-2.0
/**
 * The package tests' common ground: where `npm run package` wrote the .deb and .rpm, and the
 * gate. These tests build on packages of 40 MiB each (about a minute to build on two cores), so
 * they run only from `npm run test:packages` (FAULTD_PACKAGE_TESTS=1), never in `npm test`.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

import anyTest, { type TestFn } from 'ava';

import { REPO } from '../system/container.js';

export const OUT = path.join(REPO, 'dist', 'packages');
const manifest = JSON.parse(readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { version: string; dependencies: Record<string, string>; devDependencies: Record<string, string> };
export const VERSION = manifest.version;
export const DEPENDENCIES = Object.keys(manifest.dependencies);

export function output(command: string, args: readonly string[]): string {
  const result = spawnSync(command, args, { encoding: 'utf8', maxBuffer: 1 << 28 });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed (exit ${result.status ?? '?'}): ${result.stderr}${result.stdout}`);
  return result.stdout;
}

export const DEB_ARCH = spawnSync('dpkg', ['--print-architecture'], { encoding: 'utf8' }).stdout.trim();
export const RPM_ARCH = spawnSync('uname', ['-m'], { encoding: 'utf8' }).stdout.trim();
export const DEB = path.join(OUT, `faultd_${VERSION}_${DEB_ARCH}.deb`);
export const RPM = path.join(OUT, `faultd-${VERSION}-1.${RPM_ARCH}.rpm`);

/** Every node_modules/ path of a dev-only dependency (package-lock.json's "dev": true). */
export function devOnlyModules(): string[] {
  const lock = JSON.parse(readFileSync(path.join(REPO, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean }> };
  return Object.entries(lock.packages).filter(([key, entry]) => key.startsWith('node_modules/') && entry.dev === true).map(([key]) => key);
}

/** Why the package tests cannot run here, if they cannot. */
function missing(): string | undefined {
  if (process.env['FAULTD_PACKAGE_TESTS'] !== '1') return 'run them with npm run test:packages (FAULTD_PACKAGE_TESTS=1)';
  for (const tool of ['dpkg-deb', 'rpm', 'objdump']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) return `needs ${tool} (bash scripts/install-deps.sh --package)`;
  }
  if (!existsSync(DEB) || !existsSync(RPM)) return `needs ${path.relative(REPO, DEB)} and ${path.relative(REPO, RPM)} (npm run package)`;
  return undefined;
}

const reason = missing();
if (reason) anyTest.skip(`package tests skipped: ${reason}`, () => undefined);

/** `test.serial` when the package tests run, `test.skip` otherwise. */
export const packageTest: TestFn['serial'] = reason ? (anyTest.skip as TestFn['serial']) : anyTest.serial;

/** Newest symbol version with `prefix` (GLIBC_, GLIBCXX_) the binaries need, e.g. 2.34. */
export function newestVersion(files: readonly string[], prefix: string): string {
  const pattern = new RegExp(`${prefix}(\\d+(?:\\.\\d+)+)`, 'g');
  const versions = files.flatMap((file) => [...output('objdump', ['-T', file]).matchAll(pattern)].map((m) => m[1] ?? ''));
  return versions.sort((a, b) => a.localeCompare(b, 'en', { numeric: true })).at(-1) ?? '';
}

/** Absolute paths of faultd's files named in a script (maintainer script, scriptlet, unit, launcher). */
export function faultdPaths(text: string): string[] {
  return [...new Set([...text.matchAll(/\/usr\/(?:bin|lib)\/faultd[\w./-]*/g)].map((m) => m[0].replace(/[.]$/, '')))];
}
