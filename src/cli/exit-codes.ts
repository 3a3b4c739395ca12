// SPDX-License-Identifier: Apache-2.0
/** Exit codes of the faultd CLI (documented in README.md). */
export const EXIT = {
  OK: 0,
  FAILURE: 1,
  INVALID_INPUT: 2,
  ABORTED: 3,
  REVERT_FAILED: 4,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];
