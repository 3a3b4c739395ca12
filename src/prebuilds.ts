// SPDX-License-Identifier: Apache-2.0
/**
 * Where the prebuilt native binaries are (`npm run build:prebuild`, node-gyp-build's layout under
 * prebuilds/<platform>-<arch>/, needing only glibc 2.28) and when they are used instead of a source
 * build. One rule for the addon, the stressor and better-sqlite3's addon: the prebuild when it is
 * there and either FAULTD_PREFER_PREBUILDS=1 or there is no source build; otherwise the source
 * build (so a checkout's `npm test` runs what `npm run build` just compiled). src/native/load.ts
 * applies it to the addon and the stressor, the hub's SQLite store to better-sqlite3.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

import { packageRoot } from './package-root.js';

/** The environment variable that puts the prebuild first even when a source build is there. */
export const PREFER_PREBUILDS_ENV = 'FAULTD_PREFER_PREBUILDS';

/** The prebuilt files for one platform: faultd's addon and stressor, and better-sqlite3's addon for one Node ABI. */
export interface Prebuild {
  readonly addon: string;
  readonly stressor: string;
  readonly sqlite: string;
}

/** The prebuild paths for this platform in node-gyp-build's layout, or undefined when none is made for it (only linux glibc). */
export function prebuildFor(root: string, platform: string, arch: string, glibc: boolean, abi: string): Prebuild | undefined {
  if (platform !== 'linux' || !glibc) return undefined;
  const dir = path.join(root, 'prebuilds', `${platform}-${arch}`);
  return {
    addon: path.join(dir, 'faultd_native.napi.glibc.node'),
    stressor: path.join(dir, 'faultd-stressor'),
    sqlite: path.join(dir, `better_sqlite3.node.abi${abi}.glibc.node`),
  };
}

let glibc: boolean | undefined;

/**
 * True when this Node runs on glibc (process.report's header names its runtime version). Read
 * once per process, from a report without its network part: a full report looks up every open
 * socket, and in `hub serve` with 10 000 agent connections that blocked the hub for 250 ms each
 * time experiments were validated.
 */
export function runsOnGlibc(): boolean {
  if (glibc === undefined) {
    const report = process.report as typeof process.report & { excludeNetwork?: boolean };
    const previous = report.excludeNetwork ?? false;
    report.excludeNetwork = true;
    try {
      glibc = (report.getReport() as { header?: { glibcVersionRuntime?: string } }).header?.glibcVersionRuntime !== undefined;
    } finally {
      report.excludeNetwork = previous;
    }
  }
  return glibc;
}

/** The prebuild for this process's platform, arch and Node ABI, whether or not its files are there. */
export function thisPrebuild(root = packageRoot()): Prebuild | undefined {
  return prebuildFor(root, process.platform, process.arch, runsOnGlibc(), process.versions.modules);
}

/**
 * The rule: use the prebuilt `files` when they all exist and either `prefer` (FAULTD_PREFER_PREBUILDS=1)
 * or the source build's `built` file is absent.
 */
export function usePrebuild(files: readonly string[], built: string, prefer: boolean, exists: (file: string) => boolean = existsSync): boolean {
  return files.length > 0 && files.every(exists) && (prefer || !exists(built));
}

/** FAULTD_PREFER_PREBUILDS=1 in this process's environment. */
export function preferPrebuilds(): boolean {
  return process.env[PREFER_PREBUILDS_ENV] === '1';
}

/**
 * better-sqlite3's options for the hub's store: `{ nativeBinding }` naming the prebuilt
 * better_sqlite3.node by the rule above (better-sqlite3's own build/Release is its source build),
 * else none (better-sqlite3 finds its own build).
 */
export function betterSqliteOptions(): { nativeBinding?: string } {
  const prebuild = thisPrebuild();
  if (!prebuild) return {};
  const require = createRequire(import.meta.url);
  const built = path.join(path.dirname(require.resolve('better-sqlite3/package.json')), 'build', 'Release', 'better_sqlite3.node');
  return usePrebuild([prebuild.sqlite], built, preferPrebuilds()) ? { nativeBinding: prebuild.sqlite } : {};
}
