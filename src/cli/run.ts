// SPDX-License-Identifier: Apache-2.0
/**
 * `faultd run <file>`: validate, revert remnants of dead runs, run the experiment with live
 * progress, and map the verdict to an exit code. `--dry-run` prints the plan and changes nothing.
 */
import { randomBytes } from 'node:crypto';

import { FaultdError } from '../errors.js';
import { failedRemnants, type ExperimentResult, type LiveFault } from '../engine/session.js';
import { StepClaims } from '../engine/step-claims.js';
import { loadExperiment } from '../experiment/load.js';
import type { Experiment } from '../experiment/schema.js';
import type { FaultContext } from '../faults/types.js';
import { formatDurationMs } from '../units.js';
import { assertProbeUser, faultContext, openLedger, openSession, type CommandEnv } from './context.js';
import { EXIT, type ExitCode } from './exit-codes.js';
import { monotonicMs } from '../monotonic.js';
import { probePlanLines, probeSummaryLines } from './probe-text.js';

/** How often live lines refresh on a TTY. Off a TTY, progress is logged every `progressMs`. */
const TTY_REFRESH_MS = 250;

export function newRunId(now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').slice(0, 15);
  return `r${stamp}-${randomBytes(2).toString('hex')}`;
}

/** The --dry-run text: every change each fault would make, and how it would be reverted. */
export async function describePlan(experiment: Experiment, ctx: FaultContext, env: CommandEnv, runId: string): Promise<string> {
  const out: string[] = [];
  const faultCount = experiment.steps.reduce((n, s) => n + s.faults.length, 0);
  out.push(`Experiment "${experiment.name}": ${experiment.steps.length} step(s), ${faultCount} fault(s). Dry run: nothing was changed.`);
  for (const [index, step] of experiment.steps.entries()) {
    out.push('', `Step ${index + 1} "${step.name}" (its faults run in parallel; steps run one after another):`);
    const claims = new StepClaims(step.faults, env.registry);
    for (const fault of step.faults) {
      const module = env.registry.get(fault.kind);
      if (!module) continue;
      const plan = await module.plan(`${runId}-${fault.id}`, fault.params, { ...ctx, durationMs: fault.durationMs });
      const clash = claims.claim(fault.id, plan.claims ?? []);
      if (clash) throw new FaultdError('FAULTD_ERR_INPUT_INVALID', `spec.steps[${index}] fault "${fault.id}": ${clash}`);
      out.push(
        `  ${fault.id} (${fault.kind}): ${plan.target}`,
        `    timing: wait rampTime ${formatDurationMs(fault.rampTimeMs)}, run ${formatDurationMs(fault.durationMs)}, revert, wait rampTime ${formatDurationMs(fault.rampTimeMs)}`,
        '    changes:',
        ...plan.changes.map((c) => `      - ${c}`),
        '    revert:',
        ...plan.revertSteps.map((c) => `      - ${c}`),
      );
    }
  }
  out.push(...probePlanLines(experiment));
  out.push('', `Ledger: ${openLedger(env).file} gets an intent record before each change and a reverted record after it.`);
  return out.join('\n');
}

/** Pre-flight: every fault kind of the experiment must be supported here (as `doctor` says). */
function assertSupported(experiment: Experiment, ctx: FaultContext, env: CommandEnv): void {
  const kinds = new Set(experiment.steps.flatMap((s) => s.faults.map((f) => f.kind)));
  for (const kind of kinds) {
    const support = env.registry.get(kind)?.support(ctx);
    if (support && !support.supported) {
      throw new FaultdError('FAULTD_ERR_FAULT_UNSUPPORTED', `${kind} is not supported on this host: ${support.notes.join('; ')}`);
    }
  }
}

function liveLine(fault: LiveFault): string {
  const elapsed = formatDurationMs(Math.floor((monotonicMs() - fault.phaseStartedAt) / 100) * 100);
  const effect = fault.active?.measure() ?? '';
  const timing = fault.phase === 'running' ? `${elapsed}/${formatDurationMs(fault.spec.durationMs)}` : elapsed;
  return `  ${fault.spec.id}  ${fault.spec.kind}  ${fault.target || '-'}  ${fault.phase} ${timing}  ${effect}`.trimEnd();
}

function summary(result: ExperimentResult): string {
  const lines = [`Run ${result.runId}: ${result.verdict.toUpperCase()} after ${formatDurationMs(Math.round(result.durationMs / 100) * 100)}`];
  for (const fault of result.faults) {
    const revert = fault.revert ? (fault.revert.ok ? `reverted (${fault.revert.detail})` : `REVERT FAILED: ${fault.revert.detail}`) : 'nothing to revert';
    lines.push(`  ${fault.id} ${fault.kind}: ${fault.status}${fault.error ? ` (${fault.error})` : ''}; ${revert}`);
    if (fault.revert && !fault.revert.ok) {
      lines.push(`    left on the host: ${fault.revert.leftover ?? 'unknown'}`, `    fix by hand: ${fault.revert.manualFix ?? 'faultd revert --remnants'}`);
    }
  }
  lines.push(...probeSummaryLines(result.probes));
  return lines.join('\n');
}

/**
 * The verdict's exit code; a completed run whose resilience score is below `minScore` exits 5.
 * The verdict is about the host, so an abort (3) or a failed revert (4) wins over the score.
 */
export function exitCodeOf(result: ExperimentResult, minScore?: number): ExitCode {
  switch (result.verdict) {
    case 'completed': {
      const score = result.probes?.resilienceScore;
      return minScore !== undefined && (score === undefined || score < minScore) ? EXIT.SCORE_BELOW_MIN : EXIT.OK;
    }
    case 'aborted':
      return EXIT.ABORTED;
    case 'revert-failed':
      return EXIT.REVERT_FAILED;
    case 'failed':
      return EXIT.FAILURE;
  }
}

export interface RunFlags {
  readonly dryRun: boolean;
  readonly force: boolean;
  readonly progressMs: number;
  /** Exit 5 when the run completed with a resilience score below this (0–100). */
  readonly minScore?: number;
}

export async function runCommand(file: string, flags: RunFlags, env: CommandEnv, signal: AbortSignal): Promise<ExitCode> {
  const ctx = faultContext(env);
  const { experiment, warnings } = await loadExperiment(file, env.registry, ctx);
  if (flags.minScore !== undefined && experiment.probes.length === 0) {
    throw new FaultdError('FAULTD_ERR_INPUT_INVALID', `--min-score ${flags.minScore}: ${file} has no probes, so its run has no resilience score; add probes (spec.probes) or drop --min-score`);
  }
  for (const warning of warnings) env.logger.warn({ at: warning.path }, `${warning.path}: ${warning.message}`);
  assertSupported(experiment, ctx, env);
  assertProbeUser(experiment, env.options.config);
  const runId = newRunId();
  if (flags.dryRun) {
    env.print(await describePlan(experiment, ctx, env, runId));
    return EXIT.OK;
  }
  const session = openSession(env, ctx);
  const remnants = await session.open();
  try {
    const failed = failedRemnants(remnants);
    if (failed.length > 0 && !flags.force) {
      env.logger.error({ faults: failed.map((r) => r.faultId) }, 'remnants of an earlier run could not be reverted; refusing to start (see `faultd status`, or --force)');
      return EXIT.REVERT_FAILED;
    }
    env.logger.info({ runId, experiment: experiment.name, file }, 'experiment started');
    // Aborted by a signal (Ctrl-C, SIGTERM); after an internal error the session aborts it.
    const runAbort = new AbortController();
    const onAbort = (): void => {
      env.logger.warn('abort requested: reverting running faults, skipping remaining steps');
      runAbort.abort(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    // A signal that came while remnants were reverted (before the listener) still counts.
    if (signal.aborted) onAbort();
    const run = session.start(experiment, { runId, signal: runAbort.signal, logger: env.logger.child({ runId }) });
    const interactive = env.terminal.interactive && env.options.logFormat === 'text';
    const progress = setInterval(
      () => {
        const live = run.live();
        if (interactive) env.terminal.live(live.map(liveLine));
        else for (const fault of live.filter((f) => f.phase === 'running')) env.logger.info({ faultId: fault.spec.id, effect: fault.active?.measure() }, 'progress');
      },
      interactive ? TTY_REFRESH_MS : flags.progressMs,
    );
    let result: ExperimentResult;
    try {
      result = await run.result;
    } finally {
      clearInterval(progress);
      signal.removeEventListener('abort', onAbort);
      env.terminal.live([]);
    }
    // In text mode the summary below lists the faults; JSON consumers get the whole result.
    const details = env.options.logFormat === 'json' ? { faults: result.faults, ...(result.probes ? { probes: result.probes.probes, probeFaults: result.probes.faults, stoppedBy: result.probes.stoppedBy } : {}) } : {};
    const resilienceScore = result.probes?.resilienceScore ?? null;
    env.logger.info({ runId, verdict: result.verdict, resilienceScore, ...details }, 'experiment finished');
    if (env.options.logFormat === 'text') env.print(summary(result));
    const code = exitCodeOf(result, flags.minScore);
    if (code === EXIT.SCORE_BELOW_MIN) env.logger.error({ resilienceScore, minScore: flags.minScore }, `resilience score ${resilienceScore ?? 'none'} is below --min-score ${flags.minScore}`);
    return code;
  } finally {
    await session.close();
  }
}
