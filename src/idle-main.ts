// SPDX-License-Identifier: Apache-2.0
/**
 * `faultd agent` as a process: the idle loop in a small process, which loads no zod, pino, yaml,
 * commander or fault module (README, "Footprint"), and workers for everything that touches the
 * host (worker-protocol.ts). Order at start: a prepare worker checks the configuration, reverts
 * remnants and reports earlier runs (its failure is the agent's exit code); then READY=1 and
 * polling. SIGINT/SIGTERM stop the running worker (it aborts, reverts, sends its logs) and wait
 * for it. The idle process is systemd's main pid: it alone notifies, and pings the watchdog only
 * while a running worker's event loop turns.
 */
import { HubClient } from './agent/hub-client.js';
import { HubLink } from './agent/hub-link.js';
import { IdleAgent } from './agent/idle-agent.js';
import { TokenSource } from './agent/token-source.js';
import { AgentWorkers, WorkerFailed } from './agent/workers.js';
import { readInvocation } from './command-verb.js';
import { messageOf } from './errors.js';
import { ServiceNotifier } from './host/systemd.js';
import { createLeanLogger } from './lean-log.js';
import type { LogSink } from './log-sink.js';
import { loadNative } from './native/load.js';

import { stopReasonNow } from './agent/worker-protocol.js';
/** How long an internal error of this process waits for the running worker to revert. */
const CRASH_STOP_LIMIT_MS = 30_000;

async function idleMain(): Promise<number> {
  const args = process.argv.slice(2);
  // A journal that restarts closes our stdout: that only drops lines.
  for (const stream of [process.stdout, process.stderr]) stream.on('error', () => undefined);
  const format = readInvocation(args).option('--log-format') === 'json' ? 'json' : 'text';
  let logger: LogSink = createLeanLogger({ format });
  const systemd = new ServiceNotifier(loadNative(), logger);
  const stop = new AbortController();
  const onSignal = (): void => {
    if (stop.signal.aborted) return;
    const reason = stopReasonNow(systemd.enabled);
    systemd.status(`stopping (${reason}): aborting and reverting a running experiment`);
    stop.abort(reason);
  };
  process.on('SIGINT', onSignal).on('SIGTERM', onSignal);
  const onInternalError = (error: unknown): void => {
    logger.error({ err: error instanceof Error ? (error.stack ?? error.message) : String(error) }, 'internal error of the idle agent process: stopping the running worker, then exiting');
    process.exitCode = 1;
    setTimeout(() => process.exit(1), CRASH_STOP_LIMIT_MS).unref();
    stop.abort('internal error');
  };
  process.on('uncaughtException', onInternalError).on('unhandledRejection', onInternalError);

  const watchdogMs = systemd.watchdogMs;
  const workers = new AgentWorkers(
    { execPath: process.execPath, args: [...process.execArgv, process.argv[1] ?? '', ...args], env: process.env, ...(watchdogMs ? { aliveMs: Math.max(50, Math.floor(watchdogMs / 4)) } : {}) },
    { onStatus: (text) => systemd.status(text), onStopping: (text) => systemd.stopping(text) },
    logger,
  );
  const stopWatchdog = systemd.startWatchdog(() => workers.healthy(watchdogMs ?? Infinity));
  try {
    systemd.status('reverting remnants of earlier runs');
    const settings = await workers.prepare(stop.signal);
    if (!settings) return 0;
    logger = createLeanLogger({ format: settings.logFormat });
    const client = new HubClient(settings.hub);
    const tokens = new TokenSource({ client, infraId: settings.infraId, keyFile: settings.keyFile, logger, agent: settings.identity });
    try {
      systemd.ready(`polling ${settings.hub.url} as ${settings.infraId}`);
      const { identity } = settings;
      logger.info({ hub: settings.hub.url, infraId: settings.infraId, agentId: identity.id, machineId: identity.machineId, systemd: systemd.enabled, watchdogMs, pid: process.pid }, 'agent started');
      const agent = new IdleAgent({ link: new HubLink(client, tokens), logger, settings, workers, onStatus: (text) => systemd.status(text) });
      await agent.run(stop.signal);
      systemd.stopping('the agent stopped');
      logger.info('agent stopped');
      return Number(process.exitCode ?? 0);
    } finally {
      await client.close();
    }
  } catch (error) {
    if (error instanceof WorkerFailed) return error.exit.code ?? 1;
    process.stderr.write(`faultd: ${messageOf(error)}\n`);
    return 1;
  } finally {
    stopWatchdog();
  }
}

process.exitCode = await idleMain();
