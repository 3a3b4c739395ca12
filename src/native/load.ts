// SPDX-License-Identifier: Apache-2.0
/**
 * The only module that loads the native addon (STYLE.md D4), and the one that knows where the
 * stressor executable is. Both come from the same node-gyp build (build/Release).
 */
import { createRequire } from 'node:module';
import path from 'node:path';

import { FaultdError } from '../errors.js';
import { packageRoot } from '../package-root.js';
import type { NativeAddon } from './addon.js';
import { makeSystemError } from './system-error.js';

const EXPECTED_ABI = 1;

/** Directory of the node-gyp build output (overridable for tests with FAULTD_NATIVE_DIR). */
export function nativeBuildDir(): string {
  return process.env['FAULTD_NATIVE_DIR'] ?? path.join(packageRoot(), 'build', 'Release');
}

/**
 * Absolute path of the faultd-stressor executable, whether or not it is there: the composition
 * root puts it in the FaultContext and the feature probes, and their users say when it is missing
 * (FAULTD_ERR_NATIVE_LOAD from the stress faults).
 */
export function stressorFile(): string {
  return path.join(nativeBuildDir(), 'faultd-stressor');
}

let loaded: NativeAddon | undefined;

/** Loads and initialises the addon once; throws FAULTD_ERR_NATIVE_LOAD with the fix on failure. */
export function loadNative(): NativeAddon {
  if (loaded) return loaded;
  const file = path.join(nativeBuildDir(), 'faultd_native.node');
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
