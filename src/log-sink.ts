// SPDX-License-Identifier: Apache-2.0
/**
 * The part of a logger that modules of the idle agent use: a pino Logger is one, and so is the
 * small JSON-lines logger of lean-log.ts, which keeps pino out of the idle process.
 */

export interface LogCall {
  (fields: object, message: string): void;
  (message: string): void;
}

export interface LogSink {
  readonly debug: LogCall;
  readonly info: LogCall;
  readonly warn: LogCall;
  readonly error: LogCall;
}
