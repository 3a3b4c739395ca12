// SPDX-License-Identifier: Apache-2.0
/**
 * Builds the system suite's cached rootfs (`.cache/system/rootfs`, debootstrap) ahead of
 * `npm test`, so the suite's first test does not spend its time budget on downloads. `.ci/run`
 * runs it after the build; without it, the suite builds the rootfs itself on first use.
 * Prints why it does nothing where the suite would skip.
 */
import { ensureRootfs, systemSuiteMissing } from './container.js';

const missing = systemSuiteMissing();
if (missing) console.log(`system suite rootfs not prepared: ${missing}`);
else console.log(`system suite rootfs ready: ${ensureRootfs((line) => console.log(line))}`);
