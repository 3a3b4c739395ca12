// SPDX-License-Identifier: Apache-2.0
/**
 * The resilience score, as Harness computes it: Σ(fault weight × fault probe success %) /
 * Σ fault weights, 0–100. A fault's probe success % is taken over the evaluations that apply to
 * it:
 * - every evaluation of its own probes;
 * - the SOT and EOT evaluations of its step's and the experiment's probes (they bracket it);
 * - the Continuous and OnChaos evaluations of those probes that overlap the fault's window
 *   (from before its apply to after its revert).
 * A fault no evaluation applies to is left out; with none left there is no score (not 100).
 *
 * Tallies are kept as evaluations end, so memory does not grow with the experiment's length: a
 * windowed evaluation that ends at `e` and started at `s` overlaps exactly the faults whose
 * window began by `e` and had not ended before `s`, all of which are known when it ends.
 */
import type { Evaluation } from './evaluation.js';
import type { ProbeSpec } from './types.js';

export interface FaultScore {
  readonly faultId: string;
  readonly weight: number;
  readonly evaluations: number;
  readonly passed: number;
  /** passed / evaluations × 100; undefined when no evaluation applies. */
  readonly successPercent: number | undefined;
}

interface Tally {
  evaluations: number;
  passed: number;
}

interface FaultEntry extends Tally {
  readonly step: number;
  readonly weight: number;
  /** CLOCK_MONOTONIC ms. */
  readonly from: number;
  to: number | undefined;
}

function add(tally: Tally, passed: boolean): void {
  tally.evaluations += 1;
  if (passed) tally.passed += 1;
}

export class ScoreBook {
  readonly #faults = new Map<string, FaultEntry>();
  /** SOT/EOT tallies of step- and experiment-level probes, added to their faults at the end. */
  readonly #brackets = new Map<ProbeSpec, Tally>();

  /** The fault's window opens (before its SOT probes and its apply). */
  faultStarted(step: number, faultId: string, weight: number, at: number): void {
    this.#faults.set(faultId, { step, weight, from: at, to: undefined, evaluations: 0, passed: 0 });
  }

  /** The fault's window closes (after its revert and its EOT probes). */
  faultEnded(faultId: string, at: number): void {
    const fault = this.#faults.get(faultId);
    if (fault) fault.to = at;
  }

  record(probe: ProbeSpec, evaluation: Evaluation): void {
    const { scope } = probe;
    if (scope.level === 'fault') {
      const fault = this.#faults.get(scope.faultId);
      if (fault) add(fault, evaluation.passed);
      return;
    }
    if (evaluation.phase === 'SOT' || evaluation.phase === 'EOT') {
      const tally = this.#brackets.get(probe) ?? { evaluations: 0, passed: 0 };
      add(tally, evaluation.passed);
      this.#brackets.set(probe, tally);
      return;
    }
    for (const fault of this.#faults.values()) {
      if (scope.level === 'step' && scope.step !== fault.step) continue;
      if (fault.from <= evaluation.endedAt && (fault.to === undefined || fault.to >= evaluation.startedAt)) add(fault, evaluation.passed);
    }
  }

  /** Every fault that started, with the evaluations that apply to it. */
  scores(): FaultScore[] {
    return [...this.#faults.entries()].map(([faultId, fault]) => {
      const total: Tally = { evaluations: fault.evaluations, passed: fault.passed };
      for (const [probe, tally] of this.#brackets) {
        if (probe.scope.level === 'step' && probe.scope.step !== fault.step) continue;
        total.evaluations += tally.evaluations;
        total.passed += tally.passed;
      }
      const successPercent = total.evaluations ? (total.passed / total.evaluations) * 100 : undefined;
      return { faultId, weight: fault.weight, ...total, successPercent };
    });
  }
}

/** Rounded to 0.1; undefined when no fault has an evaluation. */
export function resilienceScore(scores: readonly FaultScore[]): number | undefined {
  let weighted = 0;
  let weights = 0;
  for (const score of scores) {
    if (score.successPercent === undefined) continue;
    weighted += score.weight * score.successPercent;
    weights += score.weight;
  }
  return weights > 0 ? Math.round((weighted / weights) * 10) / 10 : undefined;
}
