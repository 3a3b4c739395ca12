// SPDX-License-Identifier: Apache-2.0
/**
 * Reverting one fault and recording the outcome: the single path used at the end of a fault,
 * on abort, and by `faultd revert --remnants`. A failure is recorded as `revert-failed` with
 * the leftover state and the manual fix, and logged so an operator can act on it.
 */
import type { Logger } from 'pino';

import { messageOf } from '../errors.js';
import { RevertError, type FaultContext, type InjectorModule } from '../faults/types.js';
import type { Ledger } from '../ledger/ledger.js';

export interface RevertReport {
  readonly ok: boolean;
  readonly detail: string;
  readonly leftover?: string;
  readonly manualFix?: string;
}

export async function revertAndRecord(
  ledger: Ledger,
  module: InjectorModule,
  faultId: string,
  record: Record<string, unknown>,
  ctx: FaultContext,
  logger: Logger,
): Promise<RevertReport> {
  try {
    const outcome = await module.revert(record, ctx);
    await ledger.append({ event: 'reverted', faultId, outcome: outcome.outcome, detail: outcome.detail });
    logger.info({ outcome: outcome.outcome, detail: outcome.detail }, 'fault reverted');
    return { ok: true, detail: outcome.detail };
  } catch (error) {
    const leftover = error instanceof RevertError ? error.leftover : 'unknown: the revert did not complete';
    const manualFix =
      error instanceof RevertError ? error.manualFix : `inspect the host, then run: faultd revert --remnants (fault ${faultId})`;
    await ledger.append({
      event: 'revert-failed',
      faultId,
      error: { code: 'FAULTD_ERR_REVERT_FAILED', message: messageOf(error) },
      leftover,
      manualFix,
    });
    logger.error({ err: error, ...systemErrorFields(error), leftover, manualFix }, 'REVERT FAILED: manual action needed');
    return { ok: false, detail: messageOf(error), leftover, manualFix };
  }
}

/**
 * The system error behind a failure (the error itself or a `cause` down its chain): its code,
 * errno, syscall and the kernel's message, for the log line an operator acts on.
 */
export function systemErrorFields(error: unknown): { code?: string; errno?: number; syscall?: string; kernelMessage?: string } {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth += 1) {
    const fields = e as { code?: unknown; errno?: unknown; syscall?: unknown; detail?: unknown };
    if (typeof fields.syscall !== 'string') continue;
    return {
      ...(typeof fields.code === 'string' ? { code: fields.code } : {}),
      ...(typeof fields.errno === 'number' ? { errno: fields.errno } : {}),
      syscall: fields.syscall,
      ...(typeof fields.detail === 'string' ? { kernelMessage: fields.detail } : {}),
    };
  }
  return {};
}
