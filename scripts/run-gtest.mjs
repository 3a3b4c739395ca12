#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
// Runs the googletest suite of the native core (built by `npm run build:native` when
// libgtest-dev is installed). Missing gtest is a stated skip, not a silent pass.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const binary = 'build/Release/faultd_native_tests';
if (!existsSync('/usr/include/gtest/gtest.h')) {
  console.log('native C++ tests skipped: libgtest-dev is not installed (apt-get install libgtest-dev, then npm run build:native)');
  process.exit(0);
}
if (!existsSync(binary)) {
  console.error(`${binary} is missing: run \`npm run build:native\` (libgtest-dev is installed, so it should have been built)`);
  process.exit(1);
}
const result = spawnSync(binary, ['--gtest_brief=1'], { stdio: 'inherit' });
process.exit(result.status ?? 1);
