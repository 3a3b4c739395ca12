// SPDX-License-Identifier: Apache-2.0
/**
 * `faultd hub …`: the reference control plane's commands (certificates, infrastructures, the
 * HTTPS API, runs, operators, tokens, audit). Their implementations (hub.ts) load SQLite and the
 * TLS code only when a hub command runs. With --hub-url (FAULTD_HUB_URL) the commands that make
 * sense remotely act on that hub through its operator API instead of the local database.
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

interface HubGlobalOptions {
  hubDir: string;
  database?: string;
  hubUrl?: string;
  tokenFile?: string;
  caFile?: string;
}

/** The hub flags of every subcommand: the local directory, or the remote hub when --hub-url is given. */
export type HubFlagsOf = () => import('./hub.js').HubFlags;

function hubFlagsOf(hubCommand: Command): HubFlagsOf {
  return () => {
    const o = hubCommand.opts<HubGlobalOptions>();
    const token = process.env['FAULTD_HUB_TOKEN'];
    return {
      hubDir: o.hubDir,
      ...(o.database === undefined ? {} : { database: o.database }),
      ...(o.hubUrl
        ? { remote: { hubUrl: o.hubUrl, ...(o.tokenFile ? { tokenFile: o.tokenFile } : {}), ...(token ? { token } : {}), ...(o.caFile ? { caFile: o.caFile } : {}) } }
        : {}),
    };
  };
}

function positiveInt(max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1 || n > max) throw new InvalidArgumentError(`must be a whole number 1–${max}`);
    return n;
  };
}

function list(value: string, previous: string[] = []): string[] {
  return [...previous, ...value.split(',').map((v) => v.trim()).filter(Boolean)];
}

function apiTokenTtl(value: string): number {
  const days = /^(\d{1,3})d$/.exec(value)?.[1];
  const ms = days === undefined ? parseDurationMs(value) : Number(days) * 86_400_000;
  if (ms === undefined || ms < 60_000 || ms > 730 * 86_400_000) throw new InvalidArgumentError('must be a duration in 1m–730d (e.g. 90d)');
  return ms;
}

export function registerHub(program: Command, host: CliHost): void {
  const hubCommand = program
    .command('hub')
    .description('the reference control plane: certificates, infrastructures, the HTTPS API')
    .addOption(new Option('--hub-dir <dir>', 'the hub state: hub.db (SQLite) and tls/').env('FAULTD_HUB_DIR').default(DEFAULT_HUB_DIR))
    .addOption(new Option('--database <url>', 'the hub database: postgres://user@host:port/db (several hub replicas on one PostgreSQL) or sqlite:<file> (default: <hub-dir>/hub.db)').env('FAULTD_HUB_DATABASE'))
    .addOption(new Option('--hub-url <url>', 'act on this remote hub through its operator API (every command but init, serve and client-cert; user and token need an admin token)').env('FAULTD_HUB_URL'))
    .addOption(new Option('--token-file <file>', 'with --hub-url: a file (mode 0600) holding an operator API token (faultd hub token create); or the token in FAULTD_HUB_TOKEN').env('FAULTD_HUB_TOKEN_FILE'))
    .addOption(new Option('--ca-file <file>', "with --hub-url: the hub's CA certificate (its tls/ca.pem); default: the system's CAs").env('FAULTD_HUB_CA_FILE'));
  const location = hubFlagsOf(hubCommand);
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
  registerOperators(hubCommand, host, location);
}

function registerInfra(hubCommand: Command, host: CliHost, hubFlags: HubFlagsOf): void {
  const env = () => host.env(false);
  const infra = hubCommand.command('infra').description('infrastructures: one per agent');
  infra
    .command('create')
    .description('create an infrastructure; prints its id and access key once')
    .argument('<name>', 'a-z, 0-9, ".", "_", "-"')
    .action(async (name: string) => {
      host.setExit(await (await hub()).hubInfraCreateCommand({ ...hubFlags(), name }, await env()));
    });
  infra
    .command('list')
    .description('each infrastructure: CONNECTED / DISCONNECTED by heartbeat age, agent version, the machine it is bound to, capabilities, last seen')
    .option('--json', 'machine-readable output')
    .action(async (flags: { json?: boolean }) => {
      host.setExit(await (await hub()).hubInfraListCommand({ ...hubFlags(), json: flags.json === true }, await env()));
    });
  infra
    .command('rotate-key')
    .description('give the infrastructure a new access key with its next token (the old key works until the agent confirms)')
    .argument('<name>')
    .action(async (name: string) => {
      host.setExit(await (await hub()).hubInfraRotateKeyCommand({ ...hubFlags(), name }, await env()));
    });
  infra
    .command('release')
    .description('unbind the infrastructure from its agent machine, so the next agent to use its key (a re-installed host) takes over')
    .argument('<name>')
    .action(async (name: string) => {
      host.setExit(await (await hub()).hubInfraReleaseCommand({ ...hubFlags(), name }, await env()));
    });
}

function registerRuns(hubCommand: Command, host: CliHost, hubFlags: HubFlagsOf): void {
  const env = () => host.env(false);
  hubCommand
    .command('run')
    .description('queue an experiment for an infrastructure (runs start one at a time, in order)')
    .requiredOption('--infra <name>', 'the infrastructure to run it on')
    .argument('[file]', 'faultd/v1 experiment, YAML or JSON (validated as faultd validate does)')
    .option('--library <name>', 'queue this experiment of the hub library instead of a file')
    .action(async (file: string | undefined, flags: { infra: string; library?: string }) => {
      host.setExit(await (await hub()).hubRunCommand({ ...hubFlags(), infra: flags.infra, ...(file === undefined ? {} : { file }), ...(flags.library === undefined ? {} : { library: flags.library }) }, await env()));
    });
  hubCommand
    .command('runs')
    .description('runs, newest first: state (queued, dispatched, running, finished, cancelled) and verdict')
    .option('--infra <name>', 'only this infrastructure')
    .option('--state <states>', 'only runs in these states (queued, dispatched, running, finished, cancelled; comma-separated)', list)
    .option('--verdict <verdicts>', 'only runs with these verdicts (comma-separated)', list)
    .addOption(new Option('--limit <n>', 'at most this many runs (1–500)').argParser(positiveInt(500)).default(100))
    .option('--json', 'machine-readable output')
    .action(async (flags: { infra?: string; state?: string[]; verdict?: string[]; limit: number; json?: boolean }) => {
      const filter = { ...(flags.infra ? { infra: flags.infra } : {}), states: flags.state ?? [], verdicts: flags.verdict ?? [], limit: flags.limit };
      host.setExit(await (await hub()).hubRunsCommand({ ...hubFlags(), ...filter, json: flags.json === true }, await env()));
    });
  hubCommand
    .command('logs')
    .description("a run's log lines as its agent shipped them")
    .argument('<run>', 'run id')
    .option('--follow', 'keep printing until the run has ended')
    .action(async (run: string, flags: { follow?: boolean }) => {
      abortOnSignals(host);
      host.setExit(await (await hub()).hubLogsCommand({ ...hubFlags(), run, follow: flags.follow === true }, await env(), host.abort.signal));
    });
  hubCommand
    .command('abort')
    .description('abort a run: a queued one is cancelled, a running one is aborted by its agent (which reverts)')
    .argument('<run>', 'run id')
    .option('--force', 'close a dispatched or running run at once without its agent (for an agent that is gone for good)')
    .action(async (run: string, flags: { force?: boolean }) => {
      host.setExit(await (await hub()).hubAbortCommand({ ...hubFlags(), run, force: flags.force === true }, await env()));
    });
  hubCommand
    .command('result')
    .description("a run's result: verdict, each fault and its revert, and the status history")
    .argument('<run>', 'run id')
    .option('--json', 'machine-readable output')
    .action(async (run: string, flags: { json?: boolean }) => {
      host.setExit(await (await hub()).hubResultCommand({ ...hubFlags(), run, json: flags.json === true }, await env()));
    });
}

function registerOperators(hubCommand: Command, host: CliHost, hubFlags: HubFlagsOf): void {
  const env = () => host.env(false);
  const user = hubCommand.command('user').description('operator accounts for the console and the operator API (roles: viewer < operator < admin)');
  user
    .command('add')
    .description('create an operator; the password comes from --password-file, the terminal (asked twice, not echoed) or the first line of stdin, never from the command line')
    .argument('<name>', 'a-z, 0-9, ".", "_", "-"')
    .addOption(new Option('--role <role>', 'viewer reads; operator also queues/aborts runs and manages the experiment library; admin also manages infrastructures, keys, users and reads the audit log').choices(['viewer', 'operator', 'admin']).makeOptionMandatory())
    .option('--password-file <file>', 'read the password from the first line of this file')
    .action(async (name: string, flags: { role: string; passwordFile?: string }) => {
      host.setExit(await (await hub()).hubUserAddCommand({ ...hubFlags(), name, role: flags.role, ...(flags.passwordFile ? { passwordFile: flags.passwordFile } : {}) }, await env()));
    });
  user
    .command('list')
    .description('operators, their roles and last login')
    .option('--json', 'machine-readable output')
    .action(async (flags: { json?: boolean }) => {
      host.setExit(await (await hub()).hubUserListCommand({ ...hubFlags(), json: flags.json === true }, await env()));
    });
  user
    .command('remove')
    .description('remove an operator with their sessions and API tokens')
    .argument('<name>')
    .action(async (name: string) => {
      host.setExit(await (await hub()).hubUserRemoveCommand({ ...hubFlags(), name }, await env()));
    });
  user
    .command('disable')
    .description('disable an operator: no login, their sessions end, their API tokens are refused (all kept for user enable; the audit log keeps their name)')
    .argument('<name>')
    .action(async (name: string) => {
      host.setExit(await (await hub()).hubUserDisableCommand({ ...hubFlags(), name, disabled: true }, await env()));
    });
  user
    .command('enable')
    .description('enable a disabled operator again (their API tokens work again; they log in anew)')
    .argument('<name>')
    .action(async (name: string) => {
      host.setExit(await (await hub()).hubUserDisableCommand({ ...hubFlags(), name, disabled: false }, await env()));
    });
  user
    .command('passwd')
    .description("set an operator's password (as user add reads it); ends their console sessions")
    .argument('<name>')
    .option('--password-file <file>', 'read the password from the first line of this file')
    .action(async (name: string, flags: { passwordFile?: string }) => {
      host.setExit(await (await hub()).hubUserPasswdCommand({ ...hubFlags(), name, ...(flags.passwordFile ? { passwordFile: flags.passwordFile } : {}) }, await env()));
    });
  user
    .command('role')
    .description("change an operator's role")
    .argument('<name>')
    .argument('<role>', 'viewer, operator or admin')
    .action(async (name: string, role: string) => {
      host.setExit(await (await hub()).hubUserRoleCommand({ ...hubFlags(), name, role }, await env()));
    });
  const token = hubCommand.command('token').description('operator API tokens (fdo_…) for the CLI with --hub-url and for automation');
  token
    .command('create')
    .description('create an API token acting as an operator (with their role); printed once, stored hashed')
    .requiredOption('--user <name>', 'the operator the token acts as')
    .addOption(new Option('--ttl <duration>', 'lifetime (1m–730d)').argParser(apiTokenTtl).default(90 * 86_400_000, '90d'))
    .option('--no-expiry', 'a token that never expires (revoke it when no longer needed)')
    .action(async (flags: { user: string; ttl: number; expiry: boolean }) => {
      host.setExit(await (await hub()).hubTokenCreateCommand({ ...hubFlags(), user: flags.user, ttlMs: flags.ttl, noExpiry: !flags.expiry }, await env()));
    });
  token
    .command('list')
    .description('API tokens (ids, not the tokens), their operator, expiry and last use')
    .option('--user <name>', 'only this operator')
    .option('--json', 'machine-readable output')
    .action(async (flags: { user?: string; json?: boolean }) => {
      host.setExit(await (await hub()).hubTokenListCommand({ ...hubFlags(), ...(flags.user ? { user: flags.user } : {}), json: flags.json === true }, await env()));
    });
  token
    .command('revoke')
    .description('revoke an API token by id (tok_…)')
    .argument('<id>')
    .action(async (id: string) => {
      host.setExit(await (await hub()).hubTokenRevokeCommand({ ...hubFlags(), id }, await env()));
    });
  const library = hubCommand.command('experiment').description('the experiment library: stored experiments operators queue by name (the console lists them too)');
  library
    .command('list')
    .description('stored experiments: name, number of faults, last update and by whom')
    .option('--json', 'machine-readable output')
    .action(async (flags: { json?: boolean }) => {
      host.setExit(await (await hub()).hubExperimentListCommand({ ...hubFlags(), json: flags.json === true }, await env()));
    });
  library
    .command('show')
    .description('print a stored experiment as uploaded')
    .argument('<name>')
    .action(async (name: string) => {
      host.setExit(await (await hub()).hubExperimentShowCommand({ ...hubFlags(), name }, await env()));
    });
  library
    .command('put')
    .description('store (or replace) an experiment under a name, after validating it as faultd validate does')
    .argument('<name>', 'A-Z, a-z, 0-9, ".", "_", "-"')
    .argument('<file>', 'faultd/v1 experiment, YAML or JSON')
    .action(async (name: string, file: string) => {
      host.setExit(await (await hub()).hubExperimentPutCommand({ ...hubFlags(), name, file }, await env()));
    });
  library
    .command('delete')
    .description('delete a stored experiment')
    .argument('<name>')
    .action(async (name: string) => {
      host.setExit(await (await hub()).hubExperimentDeleteCommand({ ...hubFlags(), name }, await env()));
    });
  hubCommand
    .command('audit')
    .description('the audit log, newest first: who (operator or local:<unix user>), when, what, from where')
    .addOption(new Option('--limit <n>', 'at most this many entries (1–1000)').argParser(positiveInt(1000)).default(50))
    .addOption(new Option('--before <id>', 'only entries older than this id (paging)').argParser(positiveInt(Number.MAX_SAFE_INTEGER)))
    .option('--json', 'machine-readable output')
    .action(async (flags: { limit: number; before?: number; json?: boolean }) => {
      host.setExit(await (await hub()).hubAuditCommand({ ...hubFlags(), limit: flags.limit, ...(flags.before === undefined ? {} : { before: flags.before }), json: flags.json === true }, await env()));
    });
}
