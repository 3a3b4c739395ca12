// SPDX-License-Identifier: Apache-2.0
/** The commands that work on experiment files here: `faultd run` and `faultd validate`. */
import { InvalidArgumentError, Option, type Command } from 'commander';

import { parseDurationMs } from '../units.js';
import type { CliHost } from './cli-host.js';

function progressInterval(value: string): number {
  const ms = parseDurationMs(value);
  if (ms === undefined || ms < 100 || ms > 3_600_000) throw new InvalidArgumentError('must be a duration in 100ms–1h');
  return ms;
}

function minScore(value: string): number {
  const score = Number(value);
  if (value.trim() === '' || !Number.isFinite(score) || score < 0 || score > 100) throw new InvalidArgumentError('must be a number in 0–100');
  return score;
}

export function registerRun(program: Command, host: CliHost): void {
  program
    .command('run')
    .description('run an experiment here, with live progress; Ctrl-C aborts and reverts within 1 s')
    .argument('<file>', 'faultd/v1 experiment, YAML or JSON')
    .option('--dry-run', 'validate and print exactly what would change on this host, then stop')
    .option('--force', 'start even if remnants of an earlier run could not be reverted')
    .addOption(
      new Option('--progress-interval <duration>', 'off a TTY (or with --log-format json): log progress this often')
        .argParser(progressInterval)
        .default(5000, '5s'),
    )
    .addOption(
      new Option('--min-score <score>', 'exit 5 when the run completed but its resilience score (from the experiment\'s probes) is below this, 0–100').argParser(minScore),
    )
    .action(async (file: string, flags: { dryRun?: boolean; force?: boolean; progressInterval: number; minScore?: number }) => {
      const { abort } = host;
      const onSignal = (signal: NodeJS.Signals): void => {
        if (abort.signal.aborted) process.stderr.write(`faultd: ${signal} again: still reverting, please wait\n`);
        abort.abort(signal);
      };
      process.on('SIGINT', onSignal).on('SIGTERM', onSignal).on('SIGHUP', onSignal);
      const { runCommand } = await import('./run.js');
      const options = { dryRun: flags.dryRun === true, force: flags.force === true, progressMs: flags.progressInterval, ...(flags.minScore === undefined ? {} : { minScore: flags.minScore }) };
      host.setExit(await runCommand(file, options, await host.env(), abort.signal));
    });
}

export function registerValidate(program: Command, host: CliHost): void {
  program
    .command('validate')
    .description('validate an experiment against the schema and this host’s bounds; changes nothing')
    .argument('<file>', 'faultd/v1 experiment, YAML or JSON')
    .action(async (file: string) => {
      const { validateCommand } = await import('./validate.js');
      host.setExit(await validateCommand(file, await host.env()));
    });
}
