// SPDX-License-Identifier: Apache-2.0
/**
 * What the composition root (main.ts) hands each command definition (`*-command.ts`): the
 * command's environment, built on demand, the process-wide abort, and where the exit code goes.
 * A definition module stays light: it names the command, its options and help, and imports
 * the implementation only when the command runs, so `faultd revert --remnants` (run by systemd
 * around every agent start) never loads the agent, the hub or the experiment loader.
 */
import type { CommandEnv } from './context.js';
import type { ExitCode } from './exit-codes.js';

export interface CliHost {
  /**
   * The command's environment. Commands that inject faults read the configuration (and resolve
   * the control plane's host once); revert, status and the hub do not need it, so a broken
   * configuration file never stands between a host and its revert.
   */
  env(withConfig?: boolean): Promise<CommandEnv>;
  /** Ends the command early: a signal the command listens to, or the reader of our output leaving. */
  readonly abort: AbortController;
  /** The exit code of the command that ran. */
  setExit(code: ExitCode): void;
  /**
   * The command is a daemon (`agent`, `hub serve`): it writes to the journal, not to a reader
   * who has left, so a lost stdout (journald restarting) only drops output and never aborts it.
   */
  runAsDaemon(): void;
}

/** Aborts the host's command on SIGINT and SIGTERM (and SIGHUP when asked). */
export function abortOnSignals(host: CliHost, signals: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM']): void {
  const onSignal = (): void => host.abort.abort();
  for (const signal of signals) process.on(signal, onSignal);
}
