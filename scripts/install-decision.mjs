// SPDX-License-Identifier: Apache-2.0
// Whether the package's install script (`npm ci`/`npm install`, scripts/build-native.mjs) may skip
// node-gyp because a matching prebuild is shipped, as node-gyp-build decides: same platform and
// arch, glibc, the files there, and they load here. The addon is N-API, so the Node ABI does not
// matter for it. A source build otherwise, and always in a git checkout (developers test what they
// compile), for `npm run build:native`, and with npm's --build-from-source.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';

import { prebuildFiles } from './prebuild-state.mjs';

/**
 * { use: true, dir } when the prebuild fits, else { use: false, reason }.
 * `host`: { root, platform, arch, glibc, env }; `verify(files)` returns why they do not work here, or undefined.
 */
export function installDecision(host, verify = verifyPrebuild) {
  const { root, platform, arch, glibc, env } = host;
  if (env.npm_lifecycle_event !== 'install') return { use: false, reason: 'not the install script (npm run build:native always compiles)' };
  const fromSource = env.npm_config_build_from_source;
  if (fromSource === 'true' || fromSource === 'faultd') return { use: false, reason: '--build-from-source' };
  if (existsSync(path.join(root, '.git'))) return { use: false, reason: 'a git checkout builds from source' };
  if (platform !== 'linux' || !glibc) return { use: false, reason: `no prebuild is made for ${platform}${platform === 'linux' ? ' without glibc' : ''}` };
  const { dir, files } = prebuildFiles(root, arch);
  const missing = Object.values(files).filter((file) => !existsSync(file));
  if (missing.length) return { use: false, reason: `no prebuild for linux-${arch} (${missing.map((f) => path.relative(root, f)).join(', ')} missing)` };
  const broken = verify(files);
  if (broken) return { use: false, reason: `the prebuild in ${path.relative(root, dir)} does not work here: ${broken}` };
  return { use: true, dir };
}

/** Why the prebuilt addon or stressor does not run on this host, or undefined when both do. */
export function verifyPrebuild(files) {
  const load = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(require(process.argv[1]).abiVersion))', files.addon], { encoding: 'utf8', timeout: 30_000 });
  if (load.status !== 0) return `the addon does not load: ${(load.stderr.trim().split('\n').find((line) => /Error/.test(line)) ?? load.stderr.trim()).slice(0, 300)}`;
  if (load.stdout !== '1') return `the addon has abiVersion ${load.stdout}, not 1`;
  const usage = spawnSync(files.stressor, [], { encoding: 'utf8', timeout: 30_000 });
  if (usage.error) return `the stressor does not start: ${usage.error.message}`;
  if (usage.status !== 2 || !usage.stderr.includes('usage:')) return `the stressor does not start (exit ${usage.status ?? usage.signal}): ${usage.stderr.trim().slice(0, 300)}`;
  return undefined;
}
