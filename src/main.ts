// SPDX-License-Identifier: Apache-2.0
/**
 * Composition root of the faultd CLI: argv/env → global options → logger, terminal, registry →
 * the command, which each `src/cli/*-commands.ts` module defines (and loads only when it runs).
 * The only place that exits the process.
 */
import { Command, InvalidArgumentError, Option } from 'commander';

import type { CliHost } from './cli/cli-host.js';
import type { CommandEnv } from './cli/context.js';
import { EXIT, exitCodeForError, type ExitCode } from './cli/exit-codes.js';
import { registerRun, registerValidate } from './cli/experiment-commands.js';
import { registerDoctor, registerFaults, registerRevert, registerStatus } from './cli/host-commands.js';
import { registerHub } from './cli/hub-commands.js';
import { armTestFailpoint, dropOutputToClosedPipes, revertOnInternalError } from './cli/process-guards.js';
import { registerAgent, registerInstall, registerUninstall } from './cli/service-commands.js';
import { Terminal } from './cli/terminal.js';
import { DEFAULT_CONFIG, DEFAULT_CONFIG_PATH, loadConfig } from './config/config.js';
import { messageOf } from './errors.js';
import { DEFAULT_NETWORK_SAFETY, resolveNetworkSafety } from './net/network-safety.js';
import { REGISTRY } from './faults/registry.js';
import { DEFAULT_LIMITS } from './faults/types.js';
import { createLogger, type LogFormat } from './log.js';

const VERSION = '0.1.0';
const DEFAULT_STATE_DIR = '/var/lib/faultd';
const COMMANDS = [registerRun, registerValidate, registerFaults, registerRevert, registerStatus, registerDoctor, registerAgent, registerInstall, registerUninstall, registerHub];

interface ProgramOptions {
  stateDir: string;
  logFormat: LogFormat;
  maxMemoryFraction: number;
  config: string;
}

function fraction(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0.05 || n > 0.95) throw new InvalidArgumentError('must be a number in 0.05–0.95');
  return n;
}

async function buildEnv(opts: ProgramOptions, configExplicit: boolean, withConfig: boolean): Promise<CommandEnv> {
  const terminal = new Terminal(process.stdout);
  const logger = createLogger(opts.logFormat, (line) => terminal.line(line));
  const config = withConfig ? loadConfig(opts.config, configExplicit) : DEFAULT_CONFIG;
  const safety = withConfig ? await resolveNetworkSafety(config, logger, process.env) : DEFAULT_NETWORK_SAFETY;
  const limits = { ...DEFAULT_LIMITS, maxMemoryFraction: opts.maxMemoryFraction };
  const options = { stateDir: opts.stateDir, logFormat: opts.logFormat, limits, safety, config, configPath: opts.config, version: VERSION };
  return { options, registry: REGISTRY, logger, terminal, print: (text) => terminal.line(text) };
}

function program(): Command {
  return new Command('faultd')
    .version(VERSION)
    .description('Linux chaos-engineering daemon: injects exact faults and always reverts them.')
    .addOption(new Option('--state-dir <dir>', 'where the rollback ledger lives').env('FAULTD_STATE_DIR').default(DEFAULT_STATE_DIR))
    .addOption(new Option('--log-format <format>', 'text for people, json for pino JSON lines').choices(['text', 'json']).default('text'))
    .addOption(
      new Option('--config <file>', 'configuration: control plane address and safety exclusions (a missing default file means defaults)').env('FAULTD_CONFIG').default(DEFAULT_CONFIG_PATH),
    )
    .addOption(
      new Option('--max-memory-fraction <f>', 'largest share of MemAvailable memory stress may take (0.05–0.95)')
        .env('FAULTD_MAX_MEMORY_FRACTION')
        .argParser(fraction)
        .default(DEFAULT_LIMITS.maxMemoryFraction),
    )
    .showHelpAfterError()
    .addHelpText('after', '\nExit codes: 0 completed, 1 other failure, 2 invalid input, 3 aborted, 4 a revert failed (see `faultd status`).');
}

/** Parses argv and runs the command; `abort` ends it early (a signal, or a closed output pipe). */
async function main(argv: readonly string[], abort: AbortController, onDaemon: () => void): Promise<ExitCode> {
  let code: ExitCode = EXIT.OK;
  const cli = program();
  const host: CliHost = {
    env: (withConfig = true) => buildEnv(cli.opts<ProgramOptions>(), cli.getOptionValueSource('config') !== 'default', withConfig),
    abort,
    setExit: (exitCode) => (code = exitCode),
    runAsDaemon: onDaemon,
  };
  // Before the commands, so each inherits it: a bad option of any command exits 2, not 1.
  cli.exitOverride();
  for (const register of COMMANDS) register(cli, host);
  try {
    await cli.parseAsync(argv);
  } catch (error) {
    const commanderCode = (error as { code?: unknown }).code;
    if (typeof commanderCode === 'string' && commanderCode.startsWith('commander.')) {
      return ['commander.helpDisplayed', 'commander.version', 'commander.help'].includes(commanderCode) ? EXIT.OK : EXIT.INVALID_INPUT;
    }
    process.stderr.write(`faultd: ${messageOf(error)}\n`);
    return exitCodeForError(error);
  }
  return code;
}

const stop = new AbortController();
let closedPipeAborts = true;
dropOutputToClosedPipes(stop, () => closedPipeAborts);
revertOnInternalError((exitCode) => process.exit(exitCode));
armTestFailpoint(process.env['FAULTD_TEST_FAILPOINT']);
process.exitCode = await main(process.argv, stop, () => (closedPipeAborts = false));
