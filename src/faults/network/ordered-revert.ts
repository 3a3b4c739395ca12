// SPDX-License-Identifier: Apache-2.0
/**
 * Reverts of faults made of a redirect and the process it sends traffic to (the NFQUEUE
 * delayer, the DNS interceptor): the nf_tables chain first, so no packet is sent to the process
 * any more, then the process. Every step runs even if an earlier one failed, and the failures
 * are reported together, each with its leftover and manual fix.
 */
import { RevertError, type RevertOutcome } from '../types.js';

/** Runs `steps` in order; `nothingLeft` is the detail when every step found its part gone. */
export async function revertInOrder(steps: readonly (() => Promise<RevertOutcome>)[], nothingLeft: string): Promise<RevertOutcome> {
  const failures: RevertError[] = [];
  const outcomes: RevertOutcome[] = [];
  for (const step of steps) {
    try {
      outcomes.push(await step());
    } catch (error) {
      if (!(error instanceof RevertError)) throw error;
      failures.push(error);
    }
  }
  if (failures.length > 0) {
    throw new RevertError(failures.map((f) => f.message).join('; '), failures.map((f) => f.leftover).join(', '), failures.map((f) => f.manualFix).join(' && '));
  }
  const reverted = outcomes.filter((o) => o.outcome === 'reverted');
  if (reverted.length === 0) return { outcome: 'already-absent', detail: nothingLeft };
  return { outcome: 'reverted', detail: reverted.map((o) => o.detail).join('; ') };
}
