// SPDX-License-Identifier: Apache-2.0
/**
 * `faultd hub …`: the reference control plane's commands (certificates, infrastructures, the
 * HTTPS API, runs). Their implementations (hub.ts) load SQLite and the TLS code only when a hub
 * command runs.
 */
import { InvalidArgumentError, Option, type Command } from 'commander';

import { parseDurationMs } from '../units.js';
import { abortOnSignals, type CliHost } from './cli-host.js';

const DEFAULT_HUB_DIR = '/var/lib/faultd/hub';

function tokenTtl(value: string): number {
  const ms = parseDurationMs(value);
  if (ms === undefined || ms < 10_000 || ms > 86_400_000) throw new InvalidArgumentError('must be a duration in 10s–24h');
  return Math.round(ms / 1000);
}

const hub = () => import('./hub.js');

/** Where a hub command finds the hub: its directory (TLS files, default hub.db) and its database. */
interface HubLocation {
  readonly hubDir: string;
  readonly database?: string;
}

export function registerHub(program: Command, host: CliHost): void {
  const hubCommand = program
    .command('hub')
    .description('the reference control plane: certificates, infrastructures, the HTTPS API')
    .addOption(new Option('--hub-dir <dir>', 'the hub state: hub.db (SQLite) and tls/').env('FAULTD_HUB_DIR').default(DEFAULT_HUB_DIR))
    .addOption(new Option('--database <url>', 'the hub database: postgres://user@host:port/db (several hub replicas on one PostgreSQL) or sqlite:<file> (default: <hub-dir>/hub.db)').env('FAULTD_HUB_DATABASE'));
  const location = (): HubLocation => {
    const { hubDir: dir, database } = hubCommand.opts<{ hubDir: string; database?: string }>();
    return { hubDir: dir, ...(database === undefined ? {} : { database }) };
  };
  const env = () => host.env(false);
  hubCommand
    .command('init')
    .description('create a private CA and a server certificate for the hub (never overwrites); prints the CA path for agents')
    .option('--san <name...>', 'extra DNS names or IP addresses for the server certificate (localhost, 127.0.0.1, ::1 and the host name are always in)')
    .action(async (flags: { san?: string[] }) => {
      host.setExit(await (await hub()).hubInitCommand({ ...location(), sans: flags.san ?? [] }, await env()));
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
      host.runAsDaemon();
      abortOnSignals(host);
      const listen = { host: (match[1] ?? '').replace(/^\[|\]$/g, ''), port: Number(match[2]) };
      const options = { ...location(), ...listen, insecureHttp: flags.insecureHttp === true, requireClientCert: flags.requireClientCert === true, tokenTtlSeconds: flags.tokenTtl };
      host.setExit(await (await hub()).hubServeCommand(options, await env(), host.abort.signal));
    });
  hubCommand
    .command('client-cert')
    .description('issue a client certificate for an agent from the hub CA (for serve --require-client-cert)')
    .argument('<name>', 'a-z, 0-9, ".", "_", "-" (e.g. the agent host name)')
    .action(async (name: string) => {
      host.setExit(await (await hub()).hubClientCertCommand({ ...location(), name }, await env()));
    });
  registerInfra(hubCommand, host, location);
  registerRuns(hubCommand, host, location);
}

function registerInfra(hubCommand: Command, host: CliHost, location: () => HubLocation): void {
  const env = () => host.env(false);
  const infra = hubCommand.command('infra').description('infrastructures: one per agent');
  infra
    .command('create')
    .description('create an infrastructure; prints its id and access key once')
    .argument('<name>', 'a-z, 0-9, ".", "_", "-"')
    .action(async (name: string) => {
      host.setExit(await (await hub()).hubInfraCreateCommand({ ...location(), name }, await env()));
    });
  infra
    .command('list')
    .description('each infrastructure: CONNECTED / DISCONNECTED by heartbeat age, agent version, the machine it is bound to, capabilities, last seen')
    .option('--json', 'machine-readable output')
    .action(async (flags: { json?: boolean }) => {
      host.setExit(await (await hub()).hubInfraListCommand({ ...location(), json: flags.json === true }, await env()));
    });
  infra
    .command('rotate-key')
    .description('give the infrastructure a new access key with its next token (the old key works until the agent confirms)')
    .argument('<name>')
    .action(async (name: string) => {
      host.setExit(await (await hub()).hubInfraRotateKeyCommand({ ...location(), name }, await env()));
    });
  infra
    .command('release')
    .description('unbind the infrastructure from its agent machine, so the next agent to use its key (a re-installed host) takes over')
    .argument('<name>')
    .action(async (name: string) => {
      host.setExit(await (await hub()).hubInfraReleaseCommand({ ...location(), name }, await env()));
    });
}

function registerRuns(hubCommand: Command, host: CliHost, location: () => HubLocation): void {
  const env = () => host.env(false);
  hubCommand
    .command('run')
    .description('queue an experiment for an infrastructure (runs start one at a time, in order)')
    .requiredOption('--infra <name>', 'the infrastructure to run it on')
    .argument('<file>', 'faultd/v1 experiment, YAML or JSON')
    .action(async (file: string, flags: { infra: string }) => {
      host.setExit(await (await hub()).hubRunCommand({ ...location(), infra: flags.infra, file }, await env()));
    });
  hubCommand
    .command('runs')
    .description('runs, newest first: state (queued, dispatched, running, finished, cancelled) and verdict')
    .option('--infra <name>', 'only this infrastructure')
    .option('--json', 'machine-readable output')
    .action(async (flags: { infra?: string; json?: boolean }) => {
      host.setExit(await (await hub()).hubRunsCommand({ ...location(), ...(flags.infra ? { infra: flags.infra } : {}), json: flags.json === true }, await env()));
    });
  hubCommand
    .command('logs')
    .description("a run's log lines as its agent shipped them")
    .argument('<run>', 'run id')
    .option('--follow', 'keep printing until the run has ended')
    .action(async (run: string, flags: { follow?: boolean }) => {
      abortOnSignals(host);
      host.setExit(await (await hub()).hubLogsCommand({ ...location(), run, follow: flags.follow === true }, await env(), host.abort.signal));
    });
  hubCommand
    .command('abort')
    .description('abort a run: a queued one is cancelled, a running one is aborted by its agent (which reverts)')
    .argument('<run>', 'run id')
    .option('--force', 'close a dispatched or running run at once without its agent (for an agent that is gone for good)')
    .action(async (run: string, flags: { force?: boolean }) => {
      host.setExit(await (await hub()).hubAbortCommand({ ...location(), run, force: flags.force === true }, await env()));
    });
  hubCommand
    .command('result')
    .description("a run's result: verdict, each fault and its revert, and the status history")
    .argument('<run>', 'run id')
    .option('--json', 'machine-readable output')
    .action(async (run: string, flags: { json?: boolean }) => {
      host.setExit(await (await hub()).hubResultCommand({ ...location(), run, json: flags.json === true }, await env()));
    });
}
