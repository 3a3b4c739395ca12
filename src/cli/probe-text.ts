// SPDX-License-Identifier: Apache-2.0
/** How `faultd run` shows probes: in the --dry-run plan and in the summary after the run. */
import type { Experiment } from '../experiment/schema.js';
import type { ProbeReport } from '../probes/scheduler.js';
import type { ProbeSpec } from '../probes/types.js';
import { formatDurationMs } from '../units.js';

function where(probe: ProbeSpec): string {
  const { scope } = probe;
  return scope.level === 'experiment' ? 'the whole experiment' : scope.level === 'step' ? `step ${scope.step + 1}` : `fault ${scope.faultId}`;
}

function target(probe: ProbeSpec): string {
  const { check } = probe;
  switch (check.type) {
    case 'http':
      return `${check.method} ${check.url}`;
    case 'cmd':
      return check.shell ? `sh -c ${JSON.stringify(check.command[0] ?? '')}` : check.command.join(' ');
    case 'prometheus':
      return `${check.endpoint} ${JSON.stringify(check.query)}`;
  }
}

/** The --dry-run lines of the experiment's probes (empty without probes). */
export function probePlanLines(experiment: Experiment): string[] {
  if (experiment.probes.length === 0) return [];
  const lines = ['', `Probes (${experiment.probes.length}; they only read, and change nothing on the host):`];
  for (const probe of experiment.probes) {
    const p = probe.runProperties;
    const polling = probe.mode === 'Continuous' || probe.mode === 'OnChaos' ? `, every ${formatDurationMs(p.probePollingIntervalMs)}` : '';
    lines.push(
      `  ${probe.name} (${probe.check.type}, ${probe.mode} over ${where(probe)}${polling}): ${target(probe)}`,
      `    ${p.attempt} attempt(s) of at most ${formatDurationMs(p.probeTimeoutMs)}, ${formatDurationMs(p.intervalMs)} apart; initial delay ${formatDurationMs(p.initialDelayMs)}${p.stopOnFailure ? '; a failure aborts the experiment (stopOnFailure)' : ''}`,
    );
  }
  return lines;
}

/** `83.3 %`, or `-` when there is nothing to count. */
export function percent(value: number | undefined): string {
  return value === undefined ? '-' : `${Math.round(value * 10) / 10} %`;
}

/** The summary lines of the probes and the score (with probes), or the word that there is no score. */
export function probeSummaryLines(report: ProbeReport | undefined): string[] {
  if (!report) return ['resilience score: none (the experiment has no probes)'];
  const lines: string[] = [];
  if (report.stoppedBy) lines.push(`  STOPPED BY PROBE ${report.stoppedBy.probe}: ${report.stoppedBy.detail}`);
  for (const probe of report.probes) {
    const failure = probe.firstFailure && probe.passed < probe.evaluations ? `; first failure ${probe.firstFailure}` : '';
    const skipped = probe.skippedWhileCut ? `; ${probe.skippedWhileCut} not evaluated while a fault cut its target` : '';
    lines.push(`  probe ${probe.name} (${probe.type}, ${probe.mode}, ${probe.scope}): ${probe.passed}/${probe.evaluations} passed (${percent(probe.successPercent)})${failure}${skipped}`);
  }
  for (const fault of report.faults) {
    lines.push(`  fault ${fault.faultId}: weight ${fault.weight}, probe success ${percent(fault.successPercent)} over ${fault.evaluations} evaluation(s)`);
  }
  lines.push(report.resilienceScore === undefined ? 'resilience score: none (no probe evaluation applied to a fault)' : `resilience score: ${report.resilienceScore}`);
  return lines;
}
