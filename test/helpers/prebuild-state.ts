// SPDX-License-Identifier: Apache-2.0
/**
 * scripts/prebuild-state.mjs for the tests: the glibc 2.28 baseline check that package.mjs applies
 * to what it ships, and the prebuild layout, loaded from the checkout (the tests run from dist/).
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';

import { REPO_ROOT } from './cli.js';

interface PrebuildState {
  readonly GLIBC_BASELINE: string;
  /** Problems that keep `file` from running on glibc 2.28 without the host's C++ runtime, or on `arch`; empty when none. */
  readonly baselineProblems: (file: string, arch: string, objdump?: string) => string[];
  readonly prebuildFiles: (root: string, arch: string, abi?: string) => { dir: string; files: { addon: string; stressor: string; sqlite?: string } };
}

const state = (await import(pathToFileURL(path.join(REPO_ROOT, 'scripts', 'prebuild-state.mjs')).href)) as PrebuildState;

export const { GLIBC_BASELINE, baselineProblems, prebuildFiles } = state;
