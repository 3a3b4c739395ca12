// SPDX-License-Identifier: Apache-2.0
/** `faultd validate <file>`: full validation against this host's bounds; changes nothing. */
import { loadExperiment } from '../experiment/load.js';
import { formatDurationMs } from '../units.js';
import { validationContext, type CommandEnv } from './context.js';
import { EXIT, type ExitCode } from './exit-codes.js';

export async function validateCommand(file: string, env: CommandEnv): Promise<ExitCode> {
  const { experiment, warnings } = await loadExperiment(file, env.registry, validationContext(env));
  const faults = experiment.steps.flatMap((s) => s.faults);
  const total = experiment.steps.reduce((ms, s) => ms + Math.max(...s.faults.map((f) => f.durationMs + 2 * f.rampTimeMs)), 0);
  env.print(
    `${file}: valid faultd/v1 experiment "${experiment.name}": ${experiment.steps.length} step(s), ${faults.length} fault(s) (${faults.map((f) => f.kind).join(', ')}), about ${formatDurationMs(total)} in total`,
  );
  const probes = experiment.probes.length ? `${experiment.probes.length} probe(s): ${experiment.probes.map((p) => `${p.name} (${p.check.type}, ${p.mode})`).join(', ')}` : '';
  if (probes) env.print(`  ${probes}`);
  for (const warning of warnings) env.print(`  warning: ${warning.path}: ${warning.message}`);
  return EXIT.OK;
}
