// SPDX-License-Identifier: Apache-2.0
/** Gate for privileged suites: they run as root and skip, with the reason printed, otherwise. */
import anyTest, { type TestFn } from 'ava';

import { rootOrReason } from './host.js';

const reason = rootOrReason();
if (reason) console.log(`privileged suite skipped: ${reason}`);

/** `test.serial` as root, `test.skip` otherwise. */
export const privilegedTest: TestFn['serial'] = reason ? (anyTest.skip as TestFn['serial']) : anyTest.serial;
