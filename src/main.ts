// SPDX-License-Identifier: Apache-2.0
/**
 * Composition root of the faultd CLI: argv/env → options → logger, terminal, registry →
 * command. The only place that exits the process.
 */
import { Command, InvalidArgumentError, Option } from 'commander';

import { EXIT, type ExitCode } from './cli/exit-codes.js';
import { Terminal } from './cli/terminal.js';
import type { CommandEnv, GlobalOptions } from './cli/context.js';
import { DEFAULT_CONFIG, DEFAULT_CONFIG_PATH, loadConfig } from './config/config.js';
import { revertAfterCrash } from './engine/crash-revert.js';
import { isFaultdError, messageOf } from './errors.js';
import { DEFAULT_NETWORK_SAFETY, resolveNetworkSafety } from './faults/network/safety.js';
import { REGISTRY } from './faults/registry.js';
import { DEFAULT_LIMITS } from './faults/types.js';
import { createLogger, type LogFormat } from './log.js';
import { parseDurationMs } from './units.js';

// Each command's module loads only when that command runs: `faultd revert --remnants`, run by
// systemd around every agent start and stop, starts faster without the agent (undici), the hub
// (better-sqlite3; @peculiar/x509 for hub init), the experiment loader and the rest.
const agentCli = () => import('./cli/agent.js');
const hubCli = () => import('./cli/hub.js');
const installCli = () => import('./cli/install.js');
const runCli = () => import('./cli/run.js');
const validateCli = () => import('./cli/validate.js');
const faultsCli = () => import('./cli/faults.js');
const revertCli = () => import('./cli/revert.js');
const statusCli = () => import('./cli/status.js');
const doctorCli = () => import('./cli/doctor.js');

const VERSION = '0.1.0';
const DEFAULT_STATE_DIR = '/var/lib/faultd';
const DEFAULT_HUB_DIR = '/var/lib/faultd/hub';

function fraction(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0.05 || n > 0.95) throw new InvalidArgumentError('must be a number in 0.05–0.95');
  return n;
}

function progressInterval(value: string): number {
  const ms = parseDurationMs(value);
  if (ms === undefined || ms < 100 || ms > 3_600_000) throw new InvalidArgumentError('must be a duration in 100ms–1h');
  return ms;
}

function tokenTtl(value: string): number {
  const ms = parseDurationMs(value);
  if (ms === undefined || ms < 10_000 || ms > 86_400_000) throw new InvalidArgumentError('must be a duration in 10s–24h');
  return Math.round(ms / 1000);
}

function exitCodeForError(error: unknown): ExitCode {
  if (isFaultdError(error, 'FAULTD_ERR_INPUT_FILE', 'FAULTD_ERR_INPUT_SYNTAX', 'FAULTD_ERR_INPUT_INVALID', 'FAULTD_ERR_CONFIG', 'FAULTD_ERR_HUB_INPUT')) return EXIT.INVALID_INPUT;
  return EXIT.FAILURE;
}

interface ProgramOptions {
  stateDir: string;
  logFormat: LogFormat;
  maxMemoryFraction: number;
  config: string;
}

/**
 * Builds a command's environment. Commands that inject faults read the configuration (and
 * resolve the control plane's host once); revert, status and the hub do not need it, so a
 * broken configuration file never stands between a host and its revert.
 */
async function buildEnv(opts: ProgramOptions, configExplicit: boolean, withConfig: boolean): Promise<CommandEnv> {
  const terminal = new Terminal(process.stdout);
  const logger = createLogger(opts.logFormat, (line) => terminal.line(line));
  const config = withConfig ? loadConfig(opts.config, configExplicit) : DEFAULT_CONFIG;
  const options: GlobalOptions = {
    stateDir: opts.stateDir,
    logFormat: opts.logFormat,
    limits: { ...DEFAULT_LIMITS, maxMemoryFraction: opts.maxMemoryFraction },
    safety: withConfig ? await resolveNetworkSafety(config, logger) : DEFAULT_NETWORK_SAFETY,
    config,
    configPath: opts.config,
    version: VERSION,
  };
  return { options, registry: REGISTRY, logger, terminal, print: (text) => terminal.line(text) };
}

/**
 * `abort` ends a command early: a signal (run, agent, hub serve, hub logs --follow), or the
 * reader of our output going away (see dropOutputToClosedPipes).
 */
async function main(argv: readonly string[], abort: AbortController): Promise<ExitCode> {
  let code: ExitCode = EXIT.OK;
  const program = new Command('faultd')
    .version(VERSION)
    .description('Linux chaos-engineering daemon: injects exact faults and always reverts them.')
    .addOption(new Option('--state-dir <dir>', 'where the rollback ledger lives').env('FAULTD_STATE_DIR').default(DEFAULT_STATE_DIR))
    .addOption(new Option('--log-format <format>', 'text for people, json for pino JSON lines').choices(['text', 'json']).default('text'))
    .addOption(
      new Option('--config <file>', 'configuration: control plane address and safety exclusions (a missing default file means defaults)')
        .env('FAULTD_CONFIG')
        .default(DEFAULT_CONFIG_PATH),
    )
    .addOption(
      new Option('--max-memory-fraction <f>', 'largest share of MemAvailable memory stress may take (0.05–0.95)')
        .env('FAULTD_MAX_MEMORY_FRACTION')
        .argParser(fraction)
        .default(DEFAULT_LIMITS.maxMemoryFraction),
    )
    .showHelpAfterError()
    .addHelpText(
      'after',
      '\nExit codes: 0 completed, 1 other failure, 2 invalid input, 3 aborted, 4 a revert failed (see `faultd status`).',
    );
  const env = (withConfig = true): Promise<CommandEnv> => buildEnv(program.opts<ProgramOptions>(), program.getOptionValueSource('config') !== 'default', withConfig);

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
    .action(async (file: string, flags: { dryRun?: boolean; force?: boolean; progressInterval: number }) => {
      const onSignal = (signal: NodeJS.Signals): void => {
        if (abort.signal.aborted) process.stderr.write(`faultd: ${signal} again: still reverting, please wait\n`);
        abort.abort(signal);
      };
      process.on('SIGINT', onSignal).on('SIGTERM', onSignal).on('SIGHUP', onSignal);
      code = await (await runCli()).runCommand(
        file,
        { dryRun: flags.dryRun === true, force: flags.force === true, progressMs: flags.progressInterval },
        await env(),
        abort.signal,
      );
    });
  program
    .command('validate')
    .description('validate an experiment against the schema and this host’s bounds; changes nothing')
    .argument('<file>', 'faultd/v1 experiment, YAML or JSON')
    .action(async (file: string) => {
      code = await (await validateCli()).validateCommand(file, await env());
    });
  program
    .command('faults')
    .description('list every fault kind with its params, defaults, units and bounds')
    .option('--json', 'machine-readable output')
    .action(async (flags: { json?: boolean }) => {
      code = (await faultsCli()).faultsCommand({ json: flags.json === true }, await env());
    });
  program
    .command('revert')
    .description('revert faults left applied by a faultd that died (idempotent)')
    .option('--remnants', 'revert everything the ledger still shows as applied')
    .option('--force', 'also revert faults whose faultd process is still running')
    .action(async (flags: { remnants?: boolean; force?: boolean }) => {
      code = await (await revertCli()).revertCommand({ remnants: flags.remnants === true, force: flags.force === true }, await env(false));
    });
  program
    .command('status')
    .description('show the ledger: applied faults and failed reverts with their manual fix')
    .option('--json', 'machine-readable output')
    .action(async (flags: { json?: boolean }) => {
      code = await (await statusCli()).statusCommand({ json: flags.json === true }, await env(false));
    });
  program
    .command('doctor')
    .description('say, for every fault kind, whether this host supports it and why not')
    .option('--json', 'machine-readable output')
    .action(async (flags: { json?: boolean }) => {
      code = (await doctorCli()).doctorCommand({ json: flags.json === true }, await env());
    });

  program
    .command('agent')
    .description('the daemon: poll the hub for experiments, run them, report status, logs and results (config: hub.*, agent.*)')
    .action(async () => {
      closedPipeAborts = false;
      const onSignal = (): void => abort.abort();
      process.on('SIGINT', onSignal).on('SIGTERM', onSignal);
      code = await (await agentCli()).agentCommand(await env(), abort.signal);
    });
  const configDirOption = (): Option => new Option('--config-dir <dir>', 'where config.yaml, the access key and certificates go').default('/etc/faultd');
  const unitDirOption = (): Option => new Option('--unit-dir <dir>', 'where the systemd unit goes').default('/etc/systemd/system');
  program
    .command('install')
    .description('install the agent as the systemd service faultd.service: config, access key (0600), CA, unit; then enable and start it (waits for READY). Idempotent')
    .requiredOption('--hub-url <url>', 'the hub, e.g. https://hub.example.com:8443')
    .requiredOption('--infra-id <id>', 'the infrastructure id (faultd hub infra create)')
    .requiredOption('--access-key-file <file>', 'a file (mode 0600) holding the access key; copied to <config-dir>/access-key')
    .option('--ca-file <file>', "the hub's CA certificate (faultd hub init prints it); copied to <config-dir>/ca.pem")
    .option('--pin-sha256 <fingerprint>', "pin the hub's certificate (SHA-256, hex with or without colons)")
    .option('--client-cert-file <file>', 'a client certificate for hubs that require mutual TLS (with --client-key-file)')
    .option('--client-key-file <file>', 'its private key')
    .addOption(configDirOption())
    .addOption(unitDirOption())
    .option('--no-systemctl', 'write the files only (an image build); do not reload, enable or start')
    .option('--force', 'replace a config.yaml that faultd install did not write')
    .action(async (flags: { hubUrl: string; infraId: string; accessKeyFile: string; caFile?: string; pinSha256?: string; clientCertFile?: string; clientKeyFile?: string; configDir: string; unitDir: string; systemctl: boolean; force?: boolean }) => {
      code = (await installCli()).installCommand({ ...flags, force: flags.force === true }, await env(false));
    });
  program
    .command('uninstall')
    .description('stop and disable faultd.service (it reverts), revert remnants, and remove what faultd install wrote. Idempotent')
    .addOption(configDirOption())
    .addOption(unitDirOption())
    .option('--no-systemctl', 'do not stop or disable the unit (files only)')
    .action(async (flags: { configDir: string; unitDir: string; systemctl: boolean }) => {
      code = await (await installCli()).uninstallCommand(flags, await env(false));
    });
  const hubCommand = program
    .command('hub')
    .description('the reference control plane: certificates, infrastructures, the HTTPS API')
    .addOption(new Option('--hub-dir <dir>', 'the hub state: hub.db (SQLite) and tls/').env('FAULTD_HUB_DIR').default(DEFAULT_HUB_DIR));
  const hubDir = (): string => hubCommand.opts<{ hubDir: string }>().hubDir;
  hubCommand
    .command('init')
    .description('create a private CA and a server certificate for the hub (never overwrites); prints the CA path for agents')
    .option('--san <name...>', 'extra DNS names or IP addresses for the server certificate (localhost, 127.0.0.1, ::1 and the host name are always in)')
    .action(async (flags: { san?: string[] }) => {
      code = await (await hubCli()).hubInitCommand({ hubDir: hubDir(), sans: flags.san ?? [] }, await env(false));
    });
  hubCommand
    .command('serve')
    .description('serve the agent API over HTTPS until Ctrl-C or SIGTERM')
    .addOption(new Option('--listen <host:port>', 'address to listen on').default('127.0.0.1:8443'))
    .option('--insecure-http', 'serve plain HTTP: keys and tokens cross the network unencrypted (tests only; loudly logged)')
    .option('--require-client-cert', 'mutual TLS: refuse agents without a client certificate from the hub CA (see hub client-cert)')
    .addOption(new Option('--token-ttl <duration>', 'lifetime of access tokens (10s–24h)').argParser(tokenTtl).default(600, '10m'))
    .action(async (flags: { listen: string; insecureHttp?: boolean; requireClientCert?: boolean; tokenTtl: number }) => {
      const match = /^(.*):(\d+)$/.exec(flags.listen);
      if (!match) throw new InvalidArgumentError(`--listen "${flags.listen}" is not host:port`);
      closedPipeAborts = false;
      const onSignal = (): void => abort.abort();
      process.on('SIGINT', onSignal).on('SIGTERM', onSignal);
      code = await (await hubCli()).hubServeCommand(
        { hubDir: hubDir(), host: (match[1] ?? '').replace(/^\[|\]$/g, ''), port: Number(match[2]), insecureHttp: flags.insecureHttp === true, requireClientCert: flags.requireClientCert === true, tokenTtlSeconds: flags.tokenTtl },
        await env(false),
        abort.signal,
      );
    });
  hubCommand
    .command('client-cert')
    .description('issue a client certificate for an agent from the hub CA (for serve --require-client-cert)')
    .argument('<name>', 'a-z, 0-9, ".", "_", "-" (e.g. the agent host name)')
    .action(async (name: string) => {
      code = await (await hubCli()).hubClientCertCommand({ hubDir: hubDir(), name }, await env(false));
    });
  const infra = hubCommand.command('infra').description('infrastructures: one per agent');
  infra
    .command('create')
    .description('create an infrastructure; prints its id and access key once')
    .argument('<name>', 'a-z, 0-9, ".", "_", "-"')
    .action(async (name: string) => {
      code = (await hubCli()).hubInfraCreateCommand({ hubDir: hubDir(), name }, await env(false));
    });
  infra
    .command('list')
    .description('each infrastructure: CONNECTED / DISCONNECTED by heartbeat age, agent version, capabilities, last seen')
    .option('--json', 'machine-readable output')
    .action(async (flags: { json?: boolean }) => {
      code = (await hubCli()).hubInfraListCommand({ hubDir: hubDir(), json: flags.json === true }, await env(false));
    });
  infra
    .command('rotate-key')
    .description('give the infrastructure a new access key with its next token (the old key works until the agent confirms)')
    .argument('<name>')
    .action(async (name: string) => {
      code = (await hubCli()).hubInfraRotateKeyCommand({ hubDir: hubDir(), name }, await env(false));
    });

  hubCommand
    .command('run')
    .description('queue an experiment for an infrastructure (runs start one at a time, in order)')
    .requiredOption('--infra <name>', 'the infrastructure to run it on')
    .argument('<file>', 'faultd/v1 experiment, YAML or JSON')
    .action(async (file: string, flags: { infra: string }) => {
      code = await (await hubCli()).hubRunCommand({ hubDir: hubDir(), infra: flags.infra, file }, await env(false));
    });
  hubCommand
    .command('runs')
    .description('runs, newest first: state (queued, dispatched, running, finished, cancelled) and verdict')
    .option('--infra <name>', 'only this infrastructure')
    .option('--json', 'machine-readable output')
    .action(async (flags: { infra?: string; json?: boolean }) => {
      code = (await hubCli()).hubRunsCommand({ hubDir: hubDir(), ...(flags.infra ? { infra: flags.infra } : {}), json: flags.json === true }, await env(false));
    });
  hubCommand
    .command('logs')
    .description("a run's log lines as its agent shipped them")
    .argument('<run>', 'run id')
    .option('--follow', 'keep printing until the run has ended')
    .action(async (run: string, flags: { follow?: boolean }) => {
      const onSignal = (): void => abort.abort();
      process.on('SIGINT', onSignal).on('SIGTERM', onSignal);
      code = await (await hubCli()).hubLogsCommand({ hubDir: hubDir(), run, follow: flags.follow === true }, await env(false), abort.signal);
    });
  hubCommand
    .command('abort')
    .description('abort a run: a queued one is cancelled, a running one is aborted by its agent (which reverts)')
    .argument('<run>', 'run id')
    .option('--force', 'close a dispatched or running run at once without its agent (for an agent that is gone for good)')
    .action(async (run: string, flags: { force?: boolean }) => {
      code = (await hubCli()).hubAbortCommand({ hubDir: hubDir(), run, force: flags.force === true }, await env(false));
    });
  hubCommand
    .command('result')
    .description("a run's result: verdict, each fault and its revert, and the status history")
    .argument('<run>', 'run id')
    .option('--json', 'machine-readable output')
    .action(async (run: string, flags: { json?: boolean }) => {
      code = (await hubCli()).hubResultCommand({ hubDir: hubDir(), run, json: flags.json === true }, await env(false));
    });

  program.exitOverride();
  try {
    await program.parseAsync(argv);
  } catch (error) {
    const commanderCode = (error as { code?: unknown }).code;
    if (typeof commanderCode === 'string' && commanderCode.startsWith('commander.')) {
      const helpish = ['commander.helpDisplayed', 'commander.version', 'commander.help'].includes(commanderCode);
      return helpish ? EXIT.OK : EXIT.INVALID_INPUT;
    }
    process.stderr.write(`faultd: ${messageOf(error)}\n`);
    return exitCodeForError(error);
  }
  return code;
}

/**
 * A reader that goes away (`faultd run … | head`, `hub logs --follow | grep -m1`) is taken as
 * SIGPIPE is by other tools, but without dying before the revert: Node ignores SIGPIPE, so a
 * write to a closed pipe is an EPIPE error event, which would otherwise kill faultd with its
 * faults applied. The command is aborted instead (a run reverts and exits 3), and output to the
 * closed pipe is dropped.
 */
function dropOutputToClosedPipes(abort: AbortController): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EPIPE') throw error;
      if (!abort.signal.aborted && closedPipeAborts) abort.abort('SIGPIPE');
    });
  }
}

/**
 * Daemons (`agent`, `hub serve`) write to the journal, not to a reader who has left: a lost
 * stdout (journald restarting) only drops their output and never aborts an experiment.
 */
let closedPipeAborts = true;

/** How long the revert after an internal error may take before faultd exits anyway. */
const CRASH_REVERT_LIMIT_MS = 30_000;

/**
 * An internal error that escapes (uncaught exception, unhandled rejection) must not leave faults
 * applied: what this process holds is reverted (engine/crash-revert.ts), then faultd exits 1,
 * or 4 when a revert failed. A second error meanwhile is printed and the revert goes on.
 */
function revertOnInternalError(): void {
  let crashed = false;
  const onError = (error: unknown): void => {
    process.stderr.write(`faultd: internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    if (crashed) return;
    crashed = true;
    setTimeout(() => {
      process.stderr.write(`faultd: the revert after an internal error did not end within ${CRASH_REVERT_LIMIT_MS / 1000} s: run faultd revert --remnants\n`);
      process.exit(EXIT.FAILURE);
    }, CRASH_REVERT_LIMIT_MS);
    void revertAfterCrash().then(
      (outcome) => {
        if (outcome) {
          const left = outcome.failed > 0 ? `${outcome.failed} revert(s) failed: see faultd status for what is left and the fix` : 'nothing it applied is left';
          process.stderr.write(`faultd: after the internal error, the run was stopped and reverted; ${left}\n`);
        }
        process.exit(outcome && outcome.failed > 0 ? EXIT.REVERT_FAILED : EXIT.FAILURE);
      },
      (revertError: unknown) => {
        process.stderr.write(`faultd: the revert after an internal error failed: ${messageOf(revertError)}; run faultd revert --remnants\n`);
        process.exit(EXIT.REVERT_FAILED);
      },
    );
  };
  process.on('uncaughtException', onError).on('unhandledRejection', onError);
}

/**
 * Tests only: FAULTD_TEST_FAILPOINT=throw:<ms> or reject:<ms> raises an internal error that
 * nothing catches, <ms> after start, to prove the revert above.
 */
function armTestFailpoint(spec: string | undefined): void {
  const match = /^(throw|reject):(\d+)$/.exec(spec ?? '');
  if (!match) return;
  const error = new Error(`FAULTD_TEST_FAILPOINT ${spec ?? ''}`);
  setTimeout(() => {
    if (match[1] === 'throw') throw error;
    void Promise.reject(error);
  }, Number(match[2])).unref();
}

const stop = new AbortController();
dropOutputToClosedPipes(stop);
revertOnInternalError();
armTestFailpoint(process.env['FAULTD_TEST_FAILPOINT']);
process.exitCode = await main(process.argv, stop);
