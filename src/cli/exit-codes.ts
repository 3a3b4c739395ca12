// SPDX-License-Identifier: Apache-2.0
/** Exit codes of the faultd CLI (documented in README.md), and the one of each error code (docs/errors.md). */
import { isFaultdError, type FaultdErrorCode } from '../errors.js';

export const EXIT = {
  OK: 0,
  FAILURE: 1,
  INVALID_INPUT: 2,
  ABORTED: 3,
  REVERT_FAILED: 4,
  /** `faultd run --min-score N`: the run completed, but its resilience score is below N. */
  SCORE_BELOW_MIN: 5,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** The exit code of a command that ends with a FaultdError of each code (the table in docs/errors.md). */
export const EXIT_CODE_OF_ERROR: Readonly<Record<FaultdErrorCode, ExitCode>> = {
  FAULTD_ERR_INPUT_FILE: EXIT.INVALID_INPUT,
  FAULTD_ERR_INPUT_SYNTAX: EXIT.INVALID_INPUT,
  FAULTD_ERR_INPUT_INVALID: EXIT.INVALID_INPUT,
  FAULTD_ERR_FAULT_UNSUPPORTED: EXIT.FAILURE,
  FAULTD_ERR_FAULT_APPLY: EXIT.FAILURE,
  FAULTD_ERR_REVERT_FAILED: EXIT.REVERT_FAILED,
  FAULTD_ERR_LEDGER_IO: EXIT.FAILURE,
  FAULTD_ERR_NATIVE_LOAD: EXIT.FAILURE,
  FAULTD_ERR_STATE_DIR: EXIT.FAILURE,
  FAULTD_ERR_CONFIG: EXIT.INVALID_INPUT,
  FAULTD_ERR_HUB_INPUT: EXIT.INVALID_INPUT,
  FAULTD_ERR_HUB_REMOTE: EXIT.FAILURE,
  FAULTD_ERR_HUB_AUTH: EXIT.FAILURE,
  FAULTD_ERR_HUB_TLS: EXIT.FAILURE,
  FAULTD_ERR_HUB_DB_SCHEMA: EXIT.FAILURE,
  FAULTD_ERR_AGENT_CONFIG: EXIT.INVALID_INPUT,
  FAULTD_ERR_AGENT_AUTH: EXIT.FAILURE,
  FAULTD_ERR_AGENT_UNREACHABLE: EXIT.FAILURE,
  FAULTD_ERR_AGENT_PROTOCOL: EXIT.FAILURE,
  FAULTD_ERR_AGENT_WORKER: EXIT.FAILURE,
  FAULTD_ERR_INSTALL: EXIT.FAILURE,
  FAULTD_ERR_SESSION_ORDER: EXIT.FAILURE,
  FAULTD_ERR_PROBE_USER: EXIT.INVALID_INPUT,
};

/** The exit code for an error that ends a command: its code's, or 1 for anything else. */
export function exitCodeForError(error: unknown): ExitCode {
  return isFaultdError(error) ? EXIT_CODE_OF_ERROR[error.code] : EXIT.FAILURE;
}
