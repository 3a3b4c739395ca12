// SPDX-License-Identifier: Apache-2.0
/**
 * What the runner tells about an experiment's progress to whoever acts beside it (the probes,
 * src/probes/scheduler.ts). The awaited hooks hold the runner: `…Starting` and `faultApplying`
 * run before anything of their scope is applied (they get the run's signal and return early
 * when it aborts), `…Ended` and `faultReverted` after everything of it is reverted (also after
 * an abort). `faultApplied` and `faultReverting` must not block: a revert never waits.
 */
export interface RunObserver {
  experimentStarting(signal: AbortSignal): Promise<void>;
  stepStarting(step: number, signal: AbortSignal): Promise<void>;
  /** Before the fault's plan and apply (after its rampTime). */
  faultApplying(step: number, faultId: string, signal: AbortSignal): Promise<void>;
  /** The fault is applied and runs. */
  faultApplied(step: number, faultId: string): void;
  /** The fault's revert starts. */
  faultReverting(step: number, faultId: string): void;
  /** The fault is reverted (or never applied); called once after each faultApplying. */
  faultReverted(step: number, faultId: string): Promise<void>;
  stepEnded(step: number): Promise<void>;
  experimentEnded(): Promise<void>;
}
