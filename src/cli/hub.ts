// SPDX-License-Identifier: Apache-2.0
/**
 * `faultd hub …`: the reference control plane. `init` creates its CA and server certificate,
 * `serve` runs the HTTPS API (agent API and operator API), `infra create|list|rotate-key|release`
 * manage infrastructures, `run|runs|logs|abort|result` manage runs, `user|token` manage operator
 * accounts and API tokens, `audit` shows who changed what. They act on the SQLite state
 * (<hub-dir>/hub.db) that `serve` uses (WAL: the CLI and a serving hub can use it at once), or,
 * with --hub-url, on a remote hub through its operator API: either way through a HubBackend,
 * printed by the same code (hub-backend.ts). Changes made on the database file are audited as
 * `local:<unix user>`.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';

import { FaultdError, messageOf } from '../errors.js';
import { experimentTextChecker } from '../experiment/load.js';
import type { AuditEntry } from '../hub/operators/operator-store.js';
import { localActor, type ExperimentValidator } from '../hub/operators/operator-service.js';
import type { InfraJson, RunJson } from '../hub/operators/operations.js';
import { operatorApi, operatorOperations } from '../hub/operators/setup.js';
import { startHubServer } from '../hub/server.js';
import { HubService } from '../hub/service.js';
import { describeHubDatabase, openHubStore, parseHubDatabase } from '../hub/open-store.js';
import type { HubStore } from '../hub/store.js';
import { initHubTls, issueClientCertificate, readHubTls } from '../hub/tls.js';
import type { ResultRequest } from '../protocol/messages.js';
import { localBackend, type HubBackend } from './hub-backend.js';
import { remoteBackend, type RemoteHubFlags } from './hub-remote.js';
import { readPassword } from './password-input.js';
import { percent } from './probe-text.js';
import { validationContext, type CommandEnv } from './context.js';
import { EXIT, type ExitCode } from './exit-codes.js';
import { escapeTerminalText } from './terminal-text.js';

/** How often `hub serve` looks for runs whose agent has gone silent (HubService.closeSilentRuns). */
const SILENT_RUN_SWEEP_MS = 60_000;
/** How often `hub logs --follow` looks for new lines. */
const FOLLOW_POLL_MS = 500;

export interface HubFlags {
  readonly hubDir: string;
  /** `--database`: postgres://… or sqlite:<file>; absent: <hub-dir>/hub.db. */
  readonly database?: string;
  /** Set: the commands act on this remote hub through its operator API. */
  readonly remote?: RemoteHubFlags;
}

async function openService(flags: HubFlags, tokenTtlSeconds?: number): Promise<{ service: HubService; store: HubStore; close(): Promise<void> }> {
  const store = await openHubStore(parseHubDatabase(flags.database, flags.hubDir), flags.hubDir);
  return { service: new HubService(store, tokenTtlSeconds === undefined ? {} : { tokenTtlSeconds }), store, close: () => store.close() };
}

/**
 * `faultd validate`'s checks on an experiment's text, for the operator API and the library:
 * the same code (experiment/load.ts), the same lines, against this host's bounds.
 */
/** How long `hub serve` reuses the host facts and kernel feature probes it validates experiments against. */
const VALIDATION_CONTEXT_TTL_MS = 60_000;

function experimentValidator(env: CommandEnv): ExperimentValidator {
  // Probing kernel features can start the stressor; a burst of queued runs must not repeat it per run.
  let context: { value: ReturnType<typeof validationContext>; at: number } | undefined;
  return experimentTextChecker(env.registry, () => {
    const now = Date.now();
    if (!context || now - context.at > VALIDATION_CONTEXT_TTL_MS) context = { value: validationContext(env), at: now };
    return context.value;
  });
}

/** Where the commands act: the remote hub of --hub-url, or the database file in --hub-dir. */
async function openBackend(flags: HubFlags, env: CommandEnv): Promise<HubBackend> {
  if (flags.remote) {
    if (flags.database !== undefined) throw new FaultdError('FAULTD_ERR_HUB_INPUT', '--hub-url and --database exclude each other: a remote hub uses its own database');
    return remoteBackend(flags.remote);
  }
  const hub = await openService(flags);
  const ops = operatorOperations({ hub: hub.service, store: hub.store.operators(), validate: experimentValidator(env) });
  return localBackend(ops, localActor(), describeHubDatabase(parseHubDatabase(flags.database, flags.hubDir)), () => hub.close());
}

async function withBackend<T>(flags: HubFlags, env: CommandEnv, use: (backend: HubBackend) => Promise<T>): Promise<T> {
  const backend = await openBackend(flags, env);
  try {
    return await use(backend);
  } finally {
    await backend.close();
  }
}

const iso = (ms: number | undefined): string | undefined => (ms === undefined ? undefined : new Date(ms).toISOString());

/**
 * Prints a line with the characters a terminal would act on escaped. Every line but `--json`
 * output goes through it: many hold agent-supplied text (host name, version, capabilities,
 * log lines, results). JSON is printed as it is: it escapes what it must, and is parsed.
 */
function printText(env: CommandEnv, line: string): void {
  env.print(escapeTerminalText(line));
}

export async function hubInitCommand(flags: HubFlags & { sans: readonly string[] }, env: CommandEnv): Promise<ExitCode> {
  const { files, created } = await initHubTls(path.join(flags.hubDir, 'tls'), flags.sans);
  printText(env, created ? 'Created the hub CA and server certificate.' : 'The hub certificates already exist; nothing changed.');
  printText(env, `CA certificate for agents (config caFile): ${files.caCert}`);
  printText(env, `Server certificate: ${files.serverCert} (key ${files.serverKey}, mode 0600)`);
  return EXIT.OK;
}

export async function hubClientCertCommand(flags: HubFlags & { name: string }, env: CommandEnv): Promise<ExitCode> {
  const { cert, key } = await issueClientCertificate(path.join(flags.hubDir, 'tls'), flags.name);
  printText(env, `Client certificate "${flags.name}" issued by the hub CA.`);
  printText(env, `certificate (agent config clientCertFile): ${cert}`);
  printText(env, `key (agent config clientKeyFile, keep it mode 0600): ${key}`);
  printText(env, 'The hub checks client certificates when served with --require-client-cert.');
  return EXIT.OK;
}

export async function hubInfraCreateCommand(flags: HubFlags & { name: string }, env: CommandEnv): Promise<ExitCode> {
  return withBackend(flags, env, async (backend) => {
    const { id, accessKey } = await backend.createInfra(flags.name);
    printText(env, `Infrastructure "${flags.name}" created.`);
    printText(env, `infra id:   ${id}`);
    printText(env, `access key: ${accessKey}`);
    printText(env, 'The key is shown this once and stored only hashed: put it in a file of mode 0600 on the agent (config accessKeyFile).');
    return EXIT.OK;
  });
}

/** `infra list --json`: the shape faultd printed before the operator API (ISO times). */
function infraListJson(i: InfraJson) {
  return {
    id: i.id,
    name: i.name,
    state: i.state,
    ...(i.lastSeen === undefined ? {} : { lastSeen: iso(i.lastSeen) }),
    ...(i.agentVersion === undefined ? {} : { agentVersion: i.agentVersion }),
    ...(i.hostname === undefined ? {} : { hostname: i.hostname }),
    capabilities: i.capabilities,
    keyRotation: i.keyRotation,
    ...(i.binding ? { binding: { ...i.binding, since: iso(i.binding.since) } } : {}),
  };
}

export async function hubInfraListCommand(flags: HubFlags & { json: boolean }, env: CommandEnv): Promise<ExitCode> {
  return withBackend(flags, env, async (backend) => {
    const infras = (await backend.listInfras()).infras.map(infraListJson);
    if (flags.json) {
      env.print(JSON.stringify(infras, null, 2));
      return EXIT.OK;
    }
    if (infras.length === 0) printText(env, 'No infrastructure yet: faultd hub infra create <name>');
    for (const i of infras) {
      const agent = i.agentVersion ? `agent ${i.agentVersion} on ${i.hostname ?? '?'}` : 'no agent yet';
      const bound = i.binding ? `bound to ${i.binding.hostname} (agent ${i.binding.agentIdPrefix}, since ${i.binding.since ?? '?'})` : 'not bound';
      printText(env, `${i.name.padEnd(20)} ${i.state.padEnd(12)} ${i.id}  ${agent}; ${bound}; last seen ${i.lastSeen ?? 'never'}; key rotation: ${i.keyRotation}; capabilities: ${i.capabilities.join(', ') || '-'}`);
    }
    return EXIT.OK;
  });
}

export async function hubInfraRotateKeyCommand(flags: HubFlags & { name: string }, env: CommandEnv): Promise<ExitCode> {
  return withBackend(flags, env, async (backend) => {
    await backend.rotateKey(flags.name);
    printText(env, `Key rotation of "${flags.name}" requested: the agent receives its new key with its next token and confirms it; the old key works until then.`);
    return EXIT.OK;
  });
}

export async function hubInfraReleaseCommand(flags: HubFlags & { name: string }, env: CommandEnv): Promise<ExitCode> {
  return withBackend(flags, env, async (backend) => {
    const { released } = await backend.releaseInfra(flags.name);
    printText(
      env,
      released
        ? `"${flags.name}" released from the agent on ${released.hostname} (agent ${released.agentIdPrefix}, bound since ${iso(released.since) ?? '?'}): the next agent to use its key binds it.`
        : `"${flags.name}" was not bound to an agent; nothing changed.`,
    );
    return EXIT.OK;
  });
}

export async function hubServeCommand(
  flags: HubFlags & { host: string; port: number; insecureHttp: boolean; requireClientCert: boolean; tokenTtlSeconds: number },
  env: CommandEnv,
  signal: AbortSignal,
): Promise<ExitCode> {
  const hub = await openService(flags, flags.tokenTtlSeconds);
  try {
    if (flags.insecureHttp && flags.requireClientCert) throw new FaultdError('FAULTD_ERR_HUB_INPUT', '--require-client-cert needs TLS: drop --insecure-http');
    const files = flags.insecureHttp ? undefined : readHubTls(path.join(flags.hubDir, 'tls'), flags.requireClientCert);
    const tls = files && { key: files.key, cert: files.cert, ...(files.ca === undefined ? {} : { clientCa: files.ca }) };
    const api = operatorApi({ hub: hub.service, store: hub.store.operators(), validate: experimentValidator(env) }, { secureCookies: tls !== undefined, logger: env.logger });
    const server = await startHubServer({ service: hub.service, logger: env.logger, host: flags.host, port: flags.port, operatorApi: api, ...(tls ? { tls } : { insecureHttp: true }) });
    const database = parseHubDatabase(flags.database, flags.hubDir);
    printText(env, `faultd hub serving on ${server.url} (state ${database.kind === 'sqlite' && flags.database === undefined ? flags.hubDir : describeHubDatabase(database)}); Ctrl-C stops it`);
    const closeSilent = async (): Promise<void> => {
      try {
        for (const run of await hub.service.closeSilentRuns()) env.logger.warn({ run }, 'run closed as lost: its agent has sent no heartbeat for 2 h');
      } catch (error) {
        env.logger.error({ err: error }, 'the sweep for silent runs failed; it runs again in a minute');
      }
    };
    await closeSilent();
    const sweep = setInterval(() => void closeSilent(), SILENT_RUN_SWEEP_MS);
    await new Promise<void>((resolve) => {
      if (signal.aborted) resolve();
      signal.addEventListener('abort', () => resolve(), { once: true });
    });
    clearInterval(sweep);
    await server.close();
    return EXIT.OK;
  } finally {
    await hub.close();
  }
}

async function readExperimentFile(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    throw new FaultdError('FAULTD_ERR_INPUT_FILE', `cannot read ${file}: ${messageOf(error)}`, { cause: error });
  }
}

export async function hubRunCommand(flags: HubFlags & { infra: string; file?: string; library?: string }, env: CommandEnv): Promise<ExitCode> {
  if ((flags.file === undefined) === (flags.library === undefined)) throw new FaultdError('FAULTD_ERR_HUB_INPUT', 'give an experiment file or --library <name>, not both');
  const text = flags.file === undefined ? undefined : await readExperimentFile(flags.file);
  return withBackend(flags, env, async (backend) => {
    const { id, ahead } = text === undefined || flags.file === undefined ? await backend.queueLibraryRun(flags.infra, flags.library ?? '') : await backend.queueRun(flags.infra, text, flags.file);
    printText(env, `Queued run ${id} for "${flags.infra}"${ahead ? ` (${ahead} run(s) ahead of it)` : ''}. Follow it: faultd hub logs ${id} --follow`);
    return EXIT.OK;
  });
}

export async function hubExperimentListCommand(flags: HubFlags & { json: boolean }, env: CommandEnv): Promise<ExitCode> {
  return withBackend(flags, env, async (backend) => {
    const { experiments } = await backend.listExperiments();
    if (flags.json) {
      env.print(JSON.stringify(experiments, null, 2));
      return EXIT.OK;
    }
    if (experiments.length === 0) printText(env, 'The experiment library is empty: faultd hub experiment put <name> <file>');
    for (const e of experiments) printText(env, `${e.name.padEnd(24)} ${String(e.faults).padStart(3)} fault(s)  updated ${iso(e.updatedAt) ?? ''} by ${e.updatedBy}`);
    return EXIT.OK;
  });
}

export async function hubExperimentShowCommand(flags: HubFlags & { name: string }, env: CommandEnv): Promise<ExitCode> {
  return withBackend(flags, env, async (backend) => {
    const { text } = await backend.experiment(flags.name);
    // The stored text as uploaded, escaped like every other line printed.
    for (const line of text.replace(/\n$/, '').split('\n')) printText(env, line);
    return EXIT.OK;
  });
}

export async function hubExperimentPutCommand(flags: HubFlags & { name: string; file: string }, env: CommandEnv): Promise<ExitCode> {
  const text = await readExperimentFile(flags.file);
  return withBackend(flags, env, async (backend) => {
    const { created } = await backend.putExperiment(flags.name, text);
    printText(env, `Experiment "${flags.name}" ${created ? 'added to' : 'replaced in'} the library (validated as faultd validate does). Queue it: faultd hub run --infra <name> --library ${flags.name}`);
    return EXIT.OK;
  });
}

export async function hubExperimentDeleteCommand(flags: HubFlags & { name: string }, env: CommandEnv): Promise<ExitCode> {
  return withBackend(flags, env, async (backend) => {
    await backend.deleteExperiment(flags.name);
    printText(env, `Experiment "${flags.name}" deleted from the library.`);
    return EXIT.OK;
  });
}

/** `runs --json`: the shape faultd printed before the operator API (ISO times). */
function runListJson(r: RunJson) {
  return {
    id: r.id,
    infra: r.infraName,
    state: r.state,
    queuedAt: iso(r.queuedAt) ?? '',
    ...(r.finishedAt === undefined ? {} : { finishedAt: iso(r.finishedAt) }),
    ...(r.verdict === undefined ? {} : { verdict: r.verdict }),
    ...(r.resilienceScore === undefined ? {} : { resilienceScore: r.resilienceScore }),
    abortRequested: r.abortRequested,
  };
}

export async function hubRunsCommand(flags: HubFlags & { infra?: string; states: string[]; verdicts: string[]; limit: number; json: boolean }, env: CommandEnv): Promise<ExitCode> {
  return withBackend(flags, env, async (backend) => {
    const filter = { ...(flags.infra ? { infra: flags.infra } : {}), states: flags.states, verdicts: flags.verdicts, limit: flags.limit };
    const runs = (await backend.listRuns(filter)).runs.map(runListJson);
    if (flags.json) {
      env.print(JSON.stringify(runs, null, 2));
      return EXIT.OK;
    }
    if (runs.length === 0) printText(env, 'No run yet: faultd hub run --infra <name> <experiment.yaml>');
    for (const r of runs) {
      const score = r.resilienceScore === undefined ? '' : ` score ${r.resilienceScore}`;
      printText(env, `${r.id}  ${r.infra.padEnd(16)} ${r.state.padEnd(10)} ${r.verdict ?? ''}${score}${r.abortRequested && r.state !== 'cancelled' ? ' (abort requested)' : ''}  queued ${r.queuedAt}`);
    }
    return EXIT.OK;
  });
}

export async function hubAbortCommand(flags: HubFlags & { run: string; force: boolean }, env: CommandEnv): Promise<ExitCode> {
  return withBackend(flags, env, async (backend) => {
    const { outcome } = await backend.abort(flags.run, flags.force);
    printText(
      env,
      outcome === 'closed'
        ? `Run ${flags.run} closed as aborted; the infrastructure's next run can start. If its agent still runs it, the agent's late result is refused (409).`
        : outcome === 'cancelled'
          ? `Run ${flags.run} was still queued: cancelled.`
          : outcome === 'requested'
            ? `Abort of run ${flags.run} requested: its agent learns it with its next heartbeat and reverts.`
            : `Run ${flags.run} has already ended.`,
    );
    return EXIT.OK;
  });
}

export async function hubResultCommand(flags: HubFlags & { run: string; json: boolean }, env: CommandEnv): Promise<ExitCode> {
  return withBackend(flags, env, async (backend) => {
    const { run, status, result } = await backend.run(flags.run);
    if (flags.json) {
      env.print(JSON.stringify({ id: run.id, state: run.state, result, status }, null, 2));
      return EXIT.OK;
    }
    printText(env, `Run ${run.id}: ${run.state}${result ? `, verdict ${result.verdict}${result.reason ? ` (${result.reason})` : ''}` : ''}`);
    for (const f of result?.faults ?? []) {
      const probes = f.weight === undefined ? '' : `; weight ${f.weight}, probe success ${percent(f.probeSuccessPercent)}`;
      printText(env, `  ${f.faultId} ${f.kind}: ${f.status}${f.revert ? `; revert: ${f.revert}` : ''}${f.error ? `; error: ${f.error}` : ''}${probes}`);
    }
    for (const line of resultProbeLines(result)) printText(env, line);
    for (const s of status) printText(env, `  ${s.at} ${s.faultId ?? 'run'} ${s.phase}${s.detail ? ` ${s.detail}` : ''}`);
    return EXIT.OK;
  });
}

/** A result's probes, the probe that stopped it and its resilience score (nothing for a run without probes). */
function resultProbeLines(result: ResultRequest | undefined): string[] {
  if (!result?.probes) return [];
  const lines: string[] = [];
  if (result.stoppedBy) lines.push(`  STOPPED BY PROBE ${result.stoppedBy.probe}: ${result.stoppedBy.detail}`);
  for (const p of result.probes) lines.push(`  probe ${p.name} (${p.type}, ${p.mode}, ${p.scope}): ${p.passed}/${p.evaluations} passed${p.firstFailure && p.passed < p.evaluations ? `; first failure ${p.firstFailure}` : ''}`);
  lines.push(`  resilience score: ${result.resilienceScore ?? 'none (no probe evaluation applied to a fault)'}`);
  return lines;
}

/** Prints a run's log lines; with `follow`, keeps printing until the run has ended (or `signal`). */
export async function hubLogsCommand(flags: HubFlags & { run: string; follow: boolean }, env: CommandEnv, signal: AbortSignal): Promise<ExitCode> {
  return withBackend(flags, env, async (backend) => {
    await backend.run(flags.run); // an unknown run is refused before anything is printed
    let after = 0;
    for (;;) {
      for (const e of (await backend.logs(flags.run, after, 1000)).entries) {
        printText(env, `${e.at} ${e.level.toUpperCase().padEnd(5)} ${e.message}${e.fields ? ` ${JSON.stringify(e.fields)}` : ''}`);
        after = e.seq;
      }
      const { state } = (await backend.run(flags.run)).run;
      const ended = state === 'finished' || state === 'cancelled';
      if (!flags.follow || signal.aborted || (ended && (await backend.logs(flags.run, after, 1)).entries.length === 0)) return EXIT.OK;
      await new Promise((resolve) => setTimeout(resolve, FOLLOW_POLL_MS));
    }
  });
}

export async function hubAuditCommand(flags: HubFlags & { limit: number; before?: number; json: boolean }, env: CommandEnv): Promise<ExitCode> {
  return withBackend(flags, env, async (backend) => {
    const { entries } = await backend.audit(flags.limit, flags.before);
    if (flags.json) {
      env.print(JSON.stringify(entries, null, 2));
      return EXIT.OK;
    }
    if (entries.length === 0) printText(env, 'The audit log is empty.');
    for (const e of entries) printText(env, auditLine(e));
    return EXIT.OK;
  });
}

function auditLine(e: AuditEntry): string {
  return `#${e.id} ${iso(e.at) ?? ''} ${e.actor} (${e.role}) from ${e.remote}: ${e.action}${e.target === undefined ? '' : ` ${e.target}`}${e.detail === undefined ? '' : ` (${e.detail})`}`;
}

export async function hubUserAddCommand(flags: HubFlags & { name: string; role: string; passwordFile?: string }, env: CommandEnv): Promise<ExitCode> {
  const password = await readPassword(flags.passwordFile, flags.name);
  return withBackend(flags, env, async (backend) => {
    const user = await backend.addUser(flags.name, flags.role, password);
    printText(env, `Operator "${user.name}" created with role ${user.role}. They log in to the console at https://<hub>/ui/; for the CLI: faultd hub token create --user ${user.name}`);
    return EXIT.OK;
  });
}

export async function hubUserListCommand(flags: HubFlags & { json: boolean }, env: CommandEnv): Promise<ExitCode> {
  return withBackend(flags, env, async (backend) => {
    const { users } = await backend.listUsers();
    if (flags.json) {
      env.print(JSON.stringify(users, null, 2));
      return EXIT.OK;
    }
    if (users.length === 0) printText(env, 'No operator yet: faultd hub user add <name> --role admin');
    for (const u of users) printText(env, `${u.name.padEnd(20)} ${u.role.padEnd(9)} created ${iso(u.createdAt) ?? ''}; last login ${iso(u.lastLogin) ?? 'never'}${u.disabledAt === undefined ? '' : `; DISABLED since ${iso(u.disabledAt) ?? ''}`}`);
    return EXIT.OK;
  });
}

export async function hubUserRemoveCommand(flags: HubFlags & { name: string }, env: CommandEnv): Promise<ExitCode> {
  return withBackend(flags, env, async (backend) => {
    await backend.removeUser(flags.name);
    printText(env, `Operator "${flags.name}" removed, with their sessions and API tokens.`);
    return EXIT.OK;
  });
}

export async function hubUserPasswdCommand(flags: HubFlags & { name: string; passwordFile?: string }, env: CommandEnv): Promise<ExitCode> {
  const password = await readPassword(flags.passwordFile, flags.name);
  return withBackend(flags, env, async (backend) => {
    await backend.setPassword(flags.name, password);
    printText(env, `Password of "${flags.name}" changed; their console sessions have ended.`);
    return EXIT.OK;
  });
}

export async function hubUserRoleCommand(flags: HubFlags & { name: string; role: string }, env: CommandEnv): Promise<ExitCode> {
  return withBackend(flags, env, async (backend) => {
    await backend.setRole(flags.name, flags.role);
    printText(env, `"${flags.name}" now has role ${flags.role} (their sessions and tokens too).`);
    return EXIT.OK;
  });
}

export async function hubUserDisableCommand(flags: HubFlags & { name: string; disabled: boolean }, env: CommandEnv): Promise<ExitCode> {
  return withBackend(flags, env, async (backend) => {
    await backend.setDisabled(flags.name, flags.disabled);
    printText(env, flags.disabled ? `Operator "${flags.name}" disabled: no login, their console sessions have ended and their API tokens are refused until faultd hub user enable ${flags.name}.` : `Operator "${flags.name}" enabled: they log in again and their API tokens work again.`);
    return EXIT.OK;
  });
}

export async function hubTokenCreateCommand(flags: HubFlags & { user: string; ttlMs?: number; noExpiry: boolean }, env: CommandEnv): Promise<ExitCode> {
  return withBackend(flags, env, async (backend) => {
    const created = await backend.createToken(flags.user, flags.noExpiry ? undefined : flags.ttlMs);
    printText(env, `API token ${created.id} for "${created.user}"${created.expiresAt === undefined ? ', no expiry' : `, expires ${iso(created.expiresAt) ?? ''}`}:`);
    printText(env, created.token);
    printText(env, 'It is shown this once and stored only hashed: put it in a file of mode 0600 and use faultd hub --hub-url <url> --token-file <file> …');
    return EXIT.OK;
  });
}

export async function hubTokenListCommand(flags: HubFlags & { user?: string; json: boolean }, env: CommandEnv): Promise<ExitCode> {
  return withBackend(flags, env, async (backend) => {
    const { tokens } = await backend.listTokens(flags.user);
    if (flags.json) {
      env.print(JSON.stringify(tokens, null, 2));
      return EXIT.OK;
    }
    if (tokens.length === 0) printText(env, 'No API token.');
    for (const t of tokens) printText(env, `${t.id}  ${t.user.padEnd(20)} created ${iso(t.createdAt) ?? ''}; expires ${iso(t.expiresAt) ?? 'never'}; last used ${iso(t.lastUsed) ?? 'never'}`);
    return EXIT.OK;
  });
}

export async function hubTokenRevokeCommand(flags: HubFlags & { id: string }, env: CommandEnv): Promise<ExitCode> {
  return withBackend(flags, env, async (backend) => {
    await backend.revokeToken(flags.id);
    printText(env, `API token ${flags.id} revoked.`);
    return EXIT.OK;
  });
}
