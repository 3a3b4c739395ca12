// SPDX-License-Identifier: Apache-2.0
/**
 * Gate for privileged suites: they run as root and skip, with the reason printed, otherwise.
 * Also the real feature probes, wired as the composition root wires them.
 */
import anyTest, { type TestFn } from 'ava';

import { kernelFeatureProbe, type FeatureProbe } from '../../src/host/features.js';
import { loadNative, stressorFile } from '../../src/native/load.js';
import { rootOrReason } from './host.js';

const reason = rootOrReason();
if (reason) console.log(`privileged suite skipped: ${reason}`);

/** `test.serial` as root, `test.skip` otherwise. */
export const privilegedTest: TestFn['serial'] = reason ? (anyTest.skip as TestFn['serial']) : anyTest.serial;

/** The kernel feature probes through the built stressor and addon (as src/cli/context.ts builds them). */
export function hostFeatureProbe(): FeatureProbe {
  return kernelFeatureProbe({ stressorPath: stressorFile(), native: loadNative });
}
