// SPDX-License-Identifier: Apache-2.0
/** Reads an experiment file (YAML or JSON) and validates it; errors carry stable codes. */
import { readFile } from 'node:fs/promises';

import { FaultdError, isFaultdError, messageOf } from '../errors.js';
import type { Registry } from '../faults/registry.js';
import type { ValidationContext } from '../faults/types.js';
import { parseYamlInput } from '../yaml-input.js';
import { validateExperiment, type Experiment, type ValidationProblem } from './schema.js';

/** Largest experiment file accepted. */
const MAX_FILE_BYTES = 1024 * 1024;

/** Parses YAML (a superset of JSON); syntax errors name file, line and column and show the line. */
export function parseExperimentText(text: string, file: string): unknown {
  return parseYamlInput(text, file, 'FAULTD_ERR_INPUT_SYNTAX');
}

/** A valid experiment and what deserves a word before it runs. */
export interface LoadedExperiment {
  readonly experiment: Experiment;
  readonly warnings: readonly ValidationProblem[];
}

export async function loadExperiment(file: string, registry: Registry, ctx: ValidationContext): Promise<LoadedExperiment> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new FaultdError('FAULTD_ERR_INPUT_FILE', `cannot read ${file}: ${messageOf(error)}`, { cause: error });
  }
  if (text.length > MAX_FILE_BYTES) {
    throw new FaultdError('FAULTD_ERR_INPUT_FILE', `${file} is larger than ${MAX_FILE_BYTES} bytes`);
  }
  return validateExperimentText(text, file, registry, ctx);
}

/**
 * Parses and validates an experiment's text as `faultd validate` does (`file` names it in
 * errors): FAULTD_ERR_INPUT_SYNTAX or FAULTD_ERR_INPUT_INVALID with the same lines. `raw` is
 * the parsed document as written (what the hub queues for an agent to validate again).
 */
export function validateExperimentText(text: string, file: string, registry: Registry, ctx: ValidationContext): LoadedExperiment & { readonly raw: unknown } {
  const raw = parseExperimentText(text, file);
  const result = validateExperiment(raw, registry, ctx);
  if (!result.ok) {
    const lines = result.problems.map((p) => `  ${p.path}: ${p.message}`);
    throw new FaultdError('FAULTD_ERR_INPUT_INVALID', `${file} is not a valid experiment:\n${lines.join('\n')}`);
  }
  return { experiment: result.experiment, warnings: result.warnings, raw };
}

/** The outcome of checking an experiment's text: its document and fault count, or the lines `faultd validate` prints. */
export type ExperimentTextCheck = { readonly ok: true; readonly experiment: unknown; readonly faults: number } | { readonly ok: false; readonly lines: readonly string[] };

/**
 * A checker of experiment texts for places that receive them as data (the hub's operator API,
 * its experiment library): validateExperimentText against `ctx()` (read at each call), with
 * the error lines of `faultd validate` instead of a throw.
 */
export function experimentTextChecker(registry: Registry, ctx: () => ValidationContext): (text: string, name: string) => ExperimentTextCheck {
  return (text, name) => {
    try {
      const { experiment, raw } = validateExperimentText(text, name, registry, ctx());
      return { ok: true, experiment: raw, faults: experiment.steps.reduce((n, s) => n + s.faults.length, 0) };
    } catch (error) {
      if (isFaultdError(error, 'FAULTD_ERR_INPUT_SYNTAX', 'FAULTD_ERR_INPUT_INVALID')) return { ok: false, lines: error.message.split('\n') };
      throw error;
    }
  };
}
