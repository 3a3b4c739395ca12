// SPDX-License-Identifier: Apache-2.0
/**
 * `faultd hub …`: the reference control plane. `init` creates its CA and server certificate,
 * `serve` runs the HTTPS API, `infra create|list|rotate-key|release` manage infrastructures, and
 * `run|runs|logs|abort|result` manage runs, all on the same SQLite state (<hub-dir>/hub.db)
 * that `serve` uses (WAL: the CLI and a serving hub can use it at once).
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';

import { FaultdError, messageOf } from '../errors.js';
import { parseExperimentText } from '../experiment/load.js';
import { startHubServer } from '../hub/server.js';
import { HubService } from '../hub/service.js';
import { describeHubDatabase, openHubStore, parseHubDatabase } from '../hub/open-store.js';
import { initHubTls, issueClientCertificate, readHubTls } from '../hub/tls.js';
import type { ResultRequest } from '../protocol/messages.js';
import { percent } from './probe-text.js';
import type { CommandEnv } from './context.js';
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
}

async function openService(flags: HubFlags, tokenTtlSeconds?: number): Promise<{ service: HubService; close(): Promise<void> }> {
  const store = await openHubStore(parseHubDatabase(flags.database, flags.hubDir), flags.hubDir);
  return { service: new HubService(store, tokenTtlSeconds === undefined ? {} : { tokenTtlSeconds }), close: () => store.close() };
}

/**
 * Prints a line with the characters a terminal would act on escaped. Every line but `--json`
 * output goes through it: many hold agent-supplied text (host name, version, capabilities,
 * log lines, results). JSON is printed as it is: it escapes what it must, and is parsed.
 */
function printText(env: CommandEnv, line: string): void {
  env.print(escapeTerminalText(line));
}

/** Runs `use` on the hub's service and closes the store afterwards, whatever happens. */
async function withService<T>(flags: HubFlags, use: (service: HubService) => Promise<T>): Promise<T> {
  const hub = await openService(flags);
  try {
    return await use(hub.service);
  } finally {
    await hub.close();
  }
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
  return withService(flags, async (service) => {
    const { id, accessKey } = await service.createInfra(flags.name);
    printText(env, `Infrastructure "${flags.name}" created.`);
    printText(env, `infra id:   ${id}`);
    printText(env, `access key: ${accessKey}`);
    printText(env, 'The key is shown this once and stored only hashed: put it in a file of mode 0600 on the agent (config accessKeyFile).');
    return EXIT.OK;
  });
}

export async function hubInfraListCommand(flags: HubFlags & { json: boolean }, env: CommandEnv): Promise<ExitCode> {
  return withService(flags, async (service) => {
    const infras = await service.listInfras();
    if (flags.json) {
      env.print(JSON.stringify(infras, null, 2));
      return EXIT.OK;
    }
    if (infras.length === 0) printText(env, 'No infrastructure yet: faultd hub infra create <name>');
    for (const i of infras) {
      const agent = i.agentVersion ? `agent ${i.agentVersion} on ${i.hostname ?? '?'}` : 'no agent yet';
      const bound = i.binding ? `bound to ${i.binding.hostname} (agent ${i.binding.agentIdPrefix}, since ${i.binding.since})` : 'not bound';
      printText(env, `${i.name.padEnd(20)} ${i.state.padEnd(12)} ${i.id}  ${agent}; ${bound}; last seen ${i.lastSeen ?? 'never'}; key rotation: ${i.keyRotation}; capabilities: ${i.capabilities.join(', ') || '-'}`);
    }
    return EXIT.OK;
  });
}

export async function hubInfraRotateKeyCommand(flags: HubFlags & { name: string }, env: CommandEnv): Promise<ExitCode> {
  return withService(flags, async (service) => {
    await service.rotateKey(flags.name);
    printText(env, `Key rotation of "${flags.name}" requested: the agent receives its new key with its next token and confirms it; the old key works until then.`);
    return EXIT.OK;
  });
}

export async function hubInfraReleaseCommand(flags: HubFlags & { name: string }, env: CommandEnv): Promise<ExitCode> {
  return withService(flags, async (service) => {
    const released = await service.releaseAgent(flags.name);
    printText(
      env,
      released
        ? `"${flags.name}" released from the agent on ${released.hostname} (agent ${released.agentIdPrefix}, bound since ${released.since}): the next agent to use its key binds it.`
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
    const server = await startHubServer({ service: hub.service, logger: env.logger, host: flags.host, port: flags.port, ...(tls ? { tls } : { insecureHttp: true }) });
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

export async function hubRunCommand(flags: HubFlags & { infra: string; file: string }, env: CommandEnv): Promise<ExitCode> {
  let text: string;
  try {
    text = await readFile(flags.file, 'utf8');
  } catch (error) {
    throw new FaultdError('FAULTD_ERR_INPUT_FILE', `cannot read ${flags.file}: ${messageOf(error)}`, { cause: error });
  }
  const experiment = parseExperimentText(text, flags.file);
  const hub = await openService(flags);
  try {
    const run = await hub.service.queueRun(flags.infra, experiment);
    const ahead = (await hub.service.runs(flags.infra)).filter((r) => r.id !== run.id && ['queued', 'dispatched', 'running'].includes(r.state)).length;
    printText(env, `Queued run ${run.id} for "${flags.infra}"${ahead ? ` (${ahead} run(s) ahead of it)` : ''}. Follow it: faultd hub logs ${run.id} --follow`);
    return EXIT.OK;
  } finally {
    await hub.close();
  }
}

export async function hubRunsCommand(flags: HubFlags & { infra?: string; json: boolean }, env: CommandEnv): Promise<ExitCode> {
  return withService(flags, async (service) => {
    const names = new Map((await service.listInfras()).map((i) => [i.id, i.name]));
    const runs = (await service.runs(flags.infra)).map((r) => ({
      id: r.id,
      infra: names.get(r.infraId) ?? r.infraId,
      state: r.state,
      queuedAt: new Date(r.queuedAt).toISOString(),
      ...(r.finishedAt === undefined ? {} : { finishedAt: new Date(r.finishedAt).toISOString() }),
      ...(r.result ? { verdict: r.result.verdict } : {}),
      ...(r.result?.resilienceScore === undefined ? {} : { resilienceScore: r.result.resilienceScore }),
      abortRequested: r.abortRequested,
    }));
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
  return withService(flags, async (service) => {
    if (flags.force) {
      const closed = await service.closeRun(flags.run, 'closed by the operator (hub abort --force): its agent never reported it');
      printText(env, closed ? `Run ${flags.run} closed as aborted; the infrastructure's next run can start. If its agent still runs it, the agent's late result is refused (409).` : `Run ${flags.run} has already ended.`);
      return EXIT.OK;
    }
    const outcome = await service.requestAbort(flags.run);
    printText(
      env,
      outcome === 'cancelled'
        ? `Run ${flags.run} was still queued: cancelled.`
        : outcome === 'requested'
          ? `Abort of run ${flags.run} requested: its agent learns it with its next heartbeat and reverts.`
          : `Run ${flags.run} has already ended.`,
    );
    return EXIT.OK;
  });
}

export async function hubResultCommand(flags: HubFlags & { run: string; json: boolean }, env: CommandEnv): Promise<ExitCode> {
  return withService(flags, async (service) => {
    const run = await service.run(flags.run);
    if (!run) throw new FaultdError('FAULTD_ERR_HUB_INPUT', `no run ${flags.run} (see faultd hub runs)`);
    const status = await service.runStatus(run.id);
    if (flags.json) {
      env.print(JSON.stringify({ id: run.id, state: run.state, result: run.result, status }, null, 2));
      return EXIT.OK;
    }
    printText(env, `Run ${run.id}: ${run.state}${run.result ? `, verdict ${run.result.verdict}${run.result.reason ? ` (${run.result.reason})` : ''}` : ''}`);
    for (const f of run.result?.faults ?? []) {
      const probes = f.weight === undefined ? '' : `; weight ${f.weight}, probe success ${percent(f.probeSuccessPercent)}`;
      printText(env, `  ${f.faultId} ${f.kind}: ${f.status}${f.revert ? `; revert: ${f.revert}` : ''}${f.error ? `; error: ${f.error}` : ''}${probes}`);
    }
    for (const line of resultProbeLines(run.result)) printText(env, line);
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
  const hub = await openService(flags);
  try {
    if (!(await hub.service.run(flags.run))) throw new FaultdError('FAULTD_ERR_HUB_INPUT', `no run ${flags.run} (see faultd hub runs)`);
    let after = 0;
    for (;;) {
      for (const e of await hub.service.runLogs(flags.run, after)) {
        printText(env, `${e.at} ${e.level.toUpperCase().padEnd(5)} ${e.message}${e.fields ? ` ${JSON.stringify(e.fields)}` : ''}`);
        after = e.seq;
      }
      const state = (await hub.service.run(flags.run))?.state;
      const ended = state === 'finished' || state === 'cancelled';
      if (!flags.follow || signal.aborted || (ended && (await hub.service.runLogs(flags.run, after, 1)).length === 0)) return EXIT.OK;
      await new Promise((resolve) => setTimeout(resolve, FOLLOW_POLL_MS));
    }
  } finally {
    await hub.close();
  }
}
