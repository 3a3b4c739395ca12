// SPDX-License-Identifier: Apache-2.0
/**
 * scripts/prebuild-state.mjs and scripts/install-decision.mjs for the tests: the glibc 2.28
 * baseline check that package.mjs applies to what it ships, the prebuild layout, and the install
 * script's prebuild-or-source decision, loaded from the checkout (the tests run from dist/).
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';

import { REPO_ROOT } from './cli.js';

interface PrebuildState {
  readonly GLIBC_BASELINE: string;
  /** Problems that keep `file` from running on glibc 2.28 without the host's C++ runtime, or on `arch`; empty when none. */
  readonly baselineProblems: (file: string, arch: string, objdump?: string) => string[];
  readonly prebuildFiles: (root: string, arch: string, abi?: string) => { dir: string; files: PrebuildFiles };
}

export interface PrebuildFiles {
  readonly addon: string;
  readonly stressor: string;
  readonly sqlite?: string;
}

export interface InstallHost {
  readonly root: string;
  readonly platform: string;
  readonly arch: string;
  readonly glibc: boolean;
  readonly env: Readonly<Record<string, string | undefined>>;
}

export type InstallDecision = { readonly use: true; readonly dir: string } | { readonly use: false; readonly reason: string };

interface InstallDecisionModule {
  readonly installDecision: (host: InstallHost, verify?: (files: PrebuildFiles) => string | undefined) => InstallDecision;
  readonly verifyPrebuild: (files: PrebuildFiles) => string | undefined;
}

const script = (name: string) => pathToFileURL(path.join(REPO_ROOT, 'scripts', name)).href;
const decision = (await import(script('install-decision.mjs'))) as InstallDecisionModule;
export const { installDecision, verifyPrebuild } = decision;

const state = (await import(script('prebuild-state.mjs'))) as PrebuildState;

export const { GLIBC_BASELINE, baselineProblems, prebuildFiles } = state;
