// SPDX-License-Identifier: Apache-2.0
/**
 * The last line of defence of a process that holds applied faults: when an internal error
 * escapes (an uncaught exception or an unhandled rejection), the process must not die with its
 * faults still applied. A command that may apply faults registers how to stop and revert them;
 * main.ts calls that after such an error, then exits.
 *
 * The revert has two parts: the command's own stop (abort its run, so the runner reverts in
 * order and applies nothing more), given `gracefulMs`, then `revert --remnants` for this process
 * (every unresolved fault whose owner is gone or is this process), which needs no healthy runner.
 */
import type { Logger } from 'pino';

import type { Registry } from '../faults/registry.js';
import type { FaultContext } from '../faults/types.js';
import type { Ledger } from '../ledger/ledger.js';
import { revertRemnants } from './recover.js';

export interface CrashRevertOutcome {
  /** Faults whose revert failed: their ledger entries say what is left and how to fix it. */
  readonly failed: number;
}

export type CrashReverter = () => Promise<CrashRevertOutcome>;

let registered: CrashReverter | undefined;
let inProgress: Promise<unknown> | undefined;

/** Registers the reverter of the running command; returns its removal. */
export function onCrashRevert(reverter: CrashReverter): () => void {
  registered = reverter;
  return () => {
    if (registered === reverter) registered = undefined;
  };
}

/** Runs the registered reverter, if any (`undefined`: this process holds no faults). */
export async function revertAfterCrash(): Promise<CrashRevertOutcome | undefined> {
  const reverter = registered;
  registered = undefined;
  if (!reverter) return undefined;
  const running = reverter();
  inProgress = running;
  return running;
}

/**
 * Resolves once a revert after an internal error has ended (at once if none runs). A command
 * awaits it before it closes the ledger that revert writes to.
 */
export async function crashRevertSettled(): Promise<void> {
  await inProgress?.catch(() => undefined);
}

/**
 * The reverter of a command that runs faults: `stop` aborts its run and resolves when the run
 * has ended (or never, if the run is what broke); after it, or after `gracefulMs`, whatever
 * this process still holds is reverted from the ledger.
 */
export function ledgerCrashReverter(
  deps: { ledger: Ledger; registry: Registry; ctx: FaultContext; logger: Logger },
  stop: () => Promise<unknown>,
  gracefulMs = 5_000,
): CrashReverter {
  return async () => {
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<void>((resolve) => (timer = setTimeout(resolve, gracefulMs)));
    await Promise.race([stop().catch(() => undefined), grace]);
    clearTimeout(timer);
    const reports = await revertRemnants(deps.ledger, deps.registry, deps.ctx, deps.logger, { force: false });
    return { failed: reports.filter((r) => 'ok' in r.result && !r.result.ok).length };
  };
}
