// SPDX-License-Identifier: Apache-2.0
/**
 * Process-wide guards the composition root installs before any command runs: a reader of our
 * output that goes away, and an internal error that escapes. Neither may kill faultd with its
 * faults applied. They end the process only through the `exit` main.ts hands them.
 */
import { revertAfterCrash } from '../engine/crash-revert.js';
import { messageOf } from '../errors.js';
import { EXIT, type ExitCode } from './exit-codes.js';

/** How long the revert after an internal error may take before faultd exits anyway. */
const CRASH_REVERT_LIMIT_MS = 30_000;

/**
 * A reader that goes away (`faultd run … | head`, `hub logs --follow | grep -m1`) is taken as
 * SIGPIPE is by other tools, but without dying before the revert: Node ignores SIGPIPE, so a
 * write to a closed pipe is an EPIPE error event, which would otherwise kill faultd with its
 * faults applied. The command is aborted instead (a run reverts and exits 3), and output to the
 * closed pipe is dropped. While `aborts()` is false (a daemon) the output is only dropped.
 */
export function dropOutputToClosedPipes(abort: AbortController, aborts: () => boolean): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EPIPE') throw error;
      if (!abort.signal.aborted && aborts()) abort.abort('SIGPIPE');
    });
  }
}

/**
 * An internal error that escapes (uncaught exception, unhandled rejection) must not leave faults
 * applied: what this process holds is reverted (the open session's crash revert), then faultd
 * exits 1, or 4 when a revert failed. A second error meanwhile is printed and the revert goes on.
 */
export function revertOnInternalError(exit: (code: ExitCode) => never): void {
  let crashed = false;
  const onError = (error: unknown): void => {
    process.stderr.write(`faultd: internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    if (crashed) return;
    crashed = true;
    setTimeout(() => {
      process.stderr.write(`faultd: the revert after an internal error did not end within ${CRASH_REVERT_LIMIT_MS / 1000} s: run faultd revert --remnants\n`);
      exit(EXIT.FAILURE);
    }, CRASH_REVERT_LIMIT_MS);
    void revertAfterCrash().then(
      (outcome) => {
        if (outcome) {
          const left = outcome.failed > 0 ? `${outcome.failed} revert(s) failed: see faultd status for what is left and the fix` : 'nothing it applied is left';
          process.stderr.write(`faultd: after the internal error, the run was stopped and reverted; ${left}\n`);
        }
        exit(outcome && outcome.failed > 0 ? EXIT.REVERT_FAILED : EXIT.FAILURE);
      },
      (revertError: unknown) => {
        process.stderr.write(`faultd: the revert after an internal error failed: ${messageOf(revertError)}; run faultd revert --remnants\n`);
        exit(EXIT.REVERT_FAILED);
      },
    );
  };
  process.on('uncaughtException', onError).on('unhandledRejection', onError);
}

/**
 * Tests only: FAULTD_TEST_FAILPOINT=throw:<ms> or reject:<ms> raises an internal error that
 * nothing catches, <ms> after start, to prove the revert above.
 */
export function armTestFailpoint(spec: string | undefined): void {
  const match = /^(throw|reject):(\d+)$/.exec(spec ?? '');
  if (!match) return;
  const error = new Error(`FAULTD_TEST_FAILPOINT ${spec ?? ''}`);
  setTimeout(() => {
    if (match[1] === 'throw') throw error;
    void Promise.reject(error);
  }, Number(match[2])).unref();
}
