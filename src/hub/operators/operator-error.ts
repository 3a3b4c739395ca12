// SPDX-License-Identifier: Apache-2.0
/**
 * A refusal of the operator side, with the operator API's code and HTTP status. It is a
 * FaultdError (FAULTD_ERR_HUB_INPUT), so the local CLI reports it as any bad hub argument
 * (exit 2); the API answers `{error:{code,message[,lines]}}` with its status.
 */
import { FaultdError } from '../../errors.js';

export type OperatorErrorCode =
  | 'BAD_REQUEST'
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'CSRF'
  | 'NOT_FOUND'
  | 'CONFLICT'
  | 'RATE_LIMITED'
  | 'INVALID_EXPERIMENT'
  | 'TOO_MANY_STREAMS'
  | 'PAYLOAD_TOO_LARGE';

export const OPERATOR_ERROR_STATUS: Readonly<Record<OperatorErrorCode, number>> = {
  BAD_REQUEST: 400,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  CSRF: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  RATE_LIMITED: 429,
  INVALID_EXPERIMENT: 400,
  TOO_MANY_STREAMS: 503,
  PAYLOAD_TOO_LARGE: 413,
};

export class OperatorError extends FaultdError {
  readonly apiCode: OperatorErrorCode;
  /** INVALID_EXPERIMENT: the lines `faultd validate` prints for it. */
  readonly lines?: readonly string[];
  /** RATE_LIMITED: seconds until the next attempt is allowed. */
  readonly retryAfterSeconds?: number;

  constructor(apiCode: OperatorErrorCode, message: string, extra: { lines?: readonly string[]; retryAfterSeconds?: number } = {}) {
    super('FAULTD_ERR_HUB_INPUT', message);
    this.apiCode = apiCode;
    if (extra.lines) this.lines = extra.lines;
    if (extra.retryAfterSeconds !== undefined) this.retryAfterSeconds = extra.retryAfterSeconds;
  }

  get status(): number {
    return OPERATOR_ERROR_STATUS[this.apiCode];
  }
}
