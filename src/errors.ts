// SPDX-License-Identifier: Apache-2.0
/**
 * faultd's own errors. Every code is registered here, tabled in docs/errors.md, and never renamed
 * or reused. Callers branch on `code`, never on `message`.
 */

export const ERROR_CODES = {
  FAULTD_ERR_INPUT_FILE: 'the experiment file cannot be read',
  FAULTD_ERR_INPUT_SYNTAX: 'the experiment file is not valid YAML or JSON',
  FAULTD_ERR_INPUT_INVALID: 'the experiment does not match the faultd/v1 schema or a bound',
  FAULTD_ERR_FAULT_UNSUPPORTED: 'this host cannot run the fault (see `faultd doctor`)',
  FAULTD_ERR_FAULT_APPLY: 'applying a fault failed; what was applied has been reverted',
  FAULTD_ERR_REVERT_FAILED: 'a revert did not complete; the ledger keeps it as revert-failed',
  FAULTD_ERR_LEDGER_IO: 'the ledger cannot be read or written',
  FAULTD_ERR_NATIVE_LOAD: 'the native addon or stressor is missing or of the wrong version',
  FAULTD_ERR_STATE_DIR: 'the state directory cannot be created or written',
  FAULTD_ERR_CONFIG: 'the configuration file cannot be read or is invalid',
  FAULTD_ERR_HUB_INPUT: 'a hub command got a bad name or argument',
  FAULTD_ERR_HUB_TLS: 'the hub certificate files cannot be created or read',
  FAULTD_ERR_HUB_DB_SCHEMA: 'hub.db has a schema newer than this faultd, or migrating it failed',
  FAULTD_ERR_HUB_REMOTE: 'a remote hub (--hub-url) cannot be reached or failed the call',
  FAULTD_ERR_HUB_AUTH: 'a remote hub (--hub-url) refused the operator API token or its role',
  FAULTD_ERR_AGENT_CONFIG: 'the agent configuration or its key/certificate files are missing or unsafe',
  FAULTD_ERR_AGENT_AUTH: 'the hub refused the agent\'s key or token, or its TLS identity did not verify',
  FAULTD_ERR_AGENT_UNREACHABLE: 'the hub cannot be reached (connection refused, timeout, DNS)',
  FAULTD_ERR_AGENT_PROTOCOL: 'the hub answered with a body that does not match the protocol',
  FAULTD_ERR_AGENT_WORKER: 'a worker of the idle agent process could not start or died without doing its job',
  FAULTD_ERR_INSTALL: 'faultd install/uninstall could not drive systemd',
  FAULTD_ERR_SESSION_ORDER: 'a session was used out of order: opened twice, or a run started when it was not open (a faultd bug)',
  FAULTD_ERR_PROBE_USER: 'the user command probes run as (`probes.user`) does not exist, or is root without `probes.allowRoot`',
} as const;

export type FaultdErrorCode = keyof typeof ERROR_CODES;

/** Base class of every faultd error: a stable `code` plus a human message. */
export class FaultdError extends Error {
  override readonly name = 'FaultdError';
  readonly code: FaultdErrorCode;

  constructor(code: FaultdErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

/** True for a FaultdError with one of `codes` (or any code when none is given). */
export function isFaultdError(error: unknown, ...codes: FaultdErrorCode[]): error is FaultdError {
  return error instanceof FaultdError && (codes.length === 0 || codes.includes(error.code));
}

/** The message of any thrown value. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
