// SPDX-License-Identifier: Apache-2.0
/**
 * One evaluation of a probe: up to `attempt` attempts, `interval` apart, each bounded by
 * `probeTimeout`; it passes at the first attempt that passes (Harness's run properties). An
 * evaluation cut short by its window closing is no observation and yields nothing.
 */
import { sleep } from '../engine/abortable.js';
import { messageOf } from '../errors.js';
import { monotonicMs } from '../monotonic.js';
import type { AttemptOutcome, ProbeCheck, RunProperties } from './types.js';

/** Which part of its mode an evaluation belongs to (Edge evaluates at SOT and at EOT). */
export type EvaluationPhase = 'SOT' | 'EOT' | 'Continuous' | 'OnChaos';

export interface Evaluation {
  readonly probe: string;
  readonly phase: EvaluationPhase;
  /** Wall time of its start, for logs and the hub. */
  readonly at: string;
  /** CLOCK_MONOTONIC ms of its start and end: what windows and the score compare. */
  readonly startedAt: number;
  readonly endedAt: number;
  readonly passed: boolean;
  /** Attempts it took (1…attempt). */
  readonly attempts: number;
  /** The last attempt's observation. */
  readonly observed: string;
  readonly criterion: string;
  readonly error?: string;
  /** The last attempt's latency (ms, to 0.1). */
  readonly latencyMs: number;
}

async function attemptOnce(check: ProbeCheck, timeoutMs: number, signal: AbortSignal): Promise<AttemptOutcome> {
  const started = monotonicMs();
  try {
    return await check.attempt(timeoutMs, signal);
  } catch (error) {
    // Checks report failures as outcomes; one that throws still counts as a failed attempt.
    return { passed: false, observed: '-', criterion: '-', error: messageOf(error), latencyMs: Math.round(monotonicMs() - started) };
  }
}

/** Evaluates once; undefined when `signal` aborted it (its window closed) before it ended. */
export async function evaluate(probe: string, phase: EvaluationPhase, check: ProbeCheck, props: RunProperties, signal: AbortSignal): Promise<Evaluation | undefined> {
  const at = new Date().toISOString();
  const startedAt = monotonicMs();
  for (let attempt = 1; ; attempt++) {
    const outcome = await attemptOnce(check, props.probeTimeoutMs, signal);
    if (signal.aborted) return undefined;
    if (outcome.passed || attempt >= props.attempt) {
      return { probe, phase, at, startedAt, endedAt: monotonicMs(), attempts: attempt, ...outcome, latencyMs: Math.round(outcome.latencyMs * 10) / 10 };
    }
    if (!(await sleep(props.intervalMs, signal))) return undefined;
  }
}
