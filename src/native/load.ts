// SPDX-License-Identifier: Apache-2.0
/**
 * The only module that loads the native addon (STYLE.md D4), and the one that knows where the
 * stressor executable is. Both come from one directory: the source build (build/Release) or the
 * prebuild for this platform (prebuilds/linux-<arch>, `npm run build:prebuild`, needing only
 * glibc 2.28), chosen by src/prebuilds.ts's rule.
 */
import { createRequire } from 'node:module';
import path from 'node:path';

import { FaultdError } from '../errors.js';
import { packageRoot } from '../package-root.js';
import { preferPrebuilds, thisPrebuild, usePrebuild } from '../prebuilds.js';
import type { NativeAddon } from './addon.js';
import { makeSystemError } from './system-error.js';

const EXPECTED_ABI = 1;

/** Where one set of native binaries is: the addon file and the stressor executable beside it. */
export interface NativeBinaries {
  readonly addon: string;
  readonly stressor: string;
}

/** The source build's binaries in `dir` (build/Release's names). */
function sourceBuild(dir: string): NativeBinaries {
  return { addon: path.join(dir, 'faultd_native.node'), stressor: path.join(dir, 'faultd-stressor') };
}

let chosen: NativeBinaries | undefined;

/**
 * The binaries to use: FAULTD_NATIVE_DIR (a source-build directory, for tests) when set; else the
 * complete matching prebuild when FAULTD_PREFER_PREBUILDS=1 or build/Release has no addon; else
 * build/Release, whose absence loadNative reports.
 */
export function nativeBinaries(): NativeBinaries {
  const override = process.env['FAULTD_NATIVE_DIR'];
  if (override !== undefined) return sourceBuild(override);
  if (chosen) return chosen;
  const root = packageRoot();
  const built = sourceBuild(path.join(root, 'build', 'Release'));
  const prebuild = thisPrebuild(root);
  chosen = prebuild && usePrebuild([prebuild.addon, prebuild.stressor], built.addon, preferPrebuilds()) ? prebuild : built;
  return chosen;
}

/**
 * Absolute path of the faultd-stressor executable, whether or not it is there: the composition
 * root puts it in the FaultContext and the feature probes, and their users say when it is missing
 * (FAULTD_ERR_NATIVE_LOAD from the stress faults).
 */
export function stressorFile(): string {
  return nativeBinaries().stressor;
}

let loaded: NativeAddon | undefined;

/** Loads and initialises the addon once; throws FAULTD_ERR_NATIVE_LOAD with the fix on failure. */
export function loadNative(): NativeAddon {
  if (loaded) return loaded;
  const file = nativeBinaries().addon;
  const require = createRequire(import.meta.url);
  let addon: NativeAddon;
  try {
    addon = require(file) as NativeAddon; // the one cast of the addon (STYLE.md D4)
  } catch (error) {
    throw new FaultdError('FAULTD_ERR_NATIVE_LOAD', `cannot load ${file}: run \`npm run build\``, { cause: error });
  }
  if ((addon.abiVersion as number) !== EXPECTED_ABI) {
    throw new FaultdError(
      'FAULTD_ERR_NATIVE_LOAD',
      `${file} has abiVersion ${String(addon.abiVersion)}, expected ${EXPECTED_ABI}: rebuild with \`npm run build\``,
    );
  }
  addon.init({ makeSystemError });
  loaded = addon;
  return addon;
}
