// SPDX-License-Identifier: Apache-2.0
/**
 * `faultd agent`: checks the configuration and credentials, reverts remnants of earlier runs
 * (as `faultd run` does), tells systemd it is ready (Type=notify; a no-op elsewhere), then polls
 * the hub until SIGINT/SIGTERM, which aborts and reverts a run in progress before the process
 * exits. The systemd watchdog is pinged from the event loop throughout.
 *
 * The same command is each worker of the idle agent process (idle-main.ts): a `prepare` worker
 * stops after the remnants and earlier runs and hands over the settings; a `run` worker executes
 * the one task it is given. In `FAULTD_AGENT_ONE_PROCESS=1` mode it does everything itself.
 */
import { readFileSync } from 'node:fs';

import { Agent } from '../agent/agent.js';
import { loadAgentIdentity } from '../agent/agent-identity.js';
import { HubClient } from '../agent/hub-client.js';
import { readAccessKey } from '../agent/key-file.js';
import { selectHubProxy } from '../net/hub-proxy.js';
import { TokenSource } from '../agent/token-source.js';
import { FaultdError, messageOf } from '../errors.js';
import { ServiceNotifier } from '../host/systemd.js';
import { faultContext, openSession, type CommandEnv } from './context.js';
import { EXIT, type ExitCode } from './exit-codes.js';
import { WorkerLink, type AgentNotifier } from '../agent/worker-link.js';
import { stopReasonNow, workerRole, type IdleSettings } from '../agent/worker-protocol.js';
import type { HubConnection } from '../agent/hub-client.js';

function readPem(file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    throw new FaultdError('FAULTD_ERR_AGENT_CONFIG', `cannot read ${what} ${file}: ${messageOf(error)}`, { cause: error });
  }
}

export { STOP_REASON } from '../agent/worker-protocol.js';

export async function agentCommand(env: CommandEnv, stopSignal: AbortSignal): Promise<ExitCode> {
  const { config, configPath } = env.options;
  const hub = config.hub;
  const missing = !hub ? ['hub.url', 'hub.infraId', 'hub.accessKeyFile'] : [...(hub.infraId ? [] : ['hub.infraId']), ...(hub.accessKeyFile ? [] : ['hub.accessKeyFile'])];
  if (!hub?.infraId || !hub.accessKeyFile) {
    throw new FaultdError('FAULTD_ERR_AGENT_CONFIG', `${configPath}: the agent needs ${missing.join(', ')} (see README, "The agent")`);
  }
  readAccessKey(hub.accessKeyFile); // refuses an unsafe key file before anything else
  if (hub.insecure && workerRole() !== 'run') env.logger.warn({ hub: hub.url }, 'INSECURE: hub.insecure is set and hub.url is http://, so the access key and tokens cross the network unencrypted; use https:// outside tests');
  // hub.proxy wins over HTTPS_PROXY/NO_PROXY; the choice is made once, here, for every process of the agent.
  const proxy = selectHubProxy(new URL(hub.url), hub.proxy, process.env);
  // This instance, for the hub's one-machine-per-infrastructure binding (README, "Hub and agent").
  const identity = loadAgentIdentity({ stateDir: env.options.stateDir });
  if (proxy && workerRole() !== 'run') env.logger.info({ hub: hub.url, proxy: proxy.url, from: proxy.source }, 'the hub is reached through a forward proxy (CONNECT tunnel)');
  const connection: HubConnection = {
    url: hub.url,
    insecure: hub.insecure,
    ...(proxy ? { proxy } : {}),
    ...(hub.requestTimeout === undefined ? {} : { timeoutMs: hub.requestTimeout }),
    ...(hub.caFile ? { caPem: readPem(hub.caFile, 'the CA file') } : {}),
    ...(hub.pinSha256 ? { pinSha256: hub.pinSha256 } : {}),
    ...(hub.clientCertFile && hub.clientKeyFile ? { clientCert: { cert: readPem(hub.clientCertFile, 'the client certificate'), key: readPem(hub.clientKeyFile, 'the client key') } } : {}),
  };
  const client = new HubClient(connection);
  const tokens = new TokenSource({ client, infraId: hub.infraId, keyFile: hub.accessKeyFile, logger: env.logger, agent: identity });
  const ctx = faultContext(env);
  const role = workerRole();
  const worker = role ? new WorkerLink((parent) => ctx.native.dieWithParent(parent)) : undefined;
  const systemd: AgentNotifier = worker ? worker.notifier() : new ServiceNotifier(ctx.native, env.logger);
  const stopWatchdog = systemd.startWatchdog();
  const stopping = new AbortController();
  const signal = stopping.signal;
  const stopWith = (reason: string): void => {
    systemd.status(`stopping (${reason}): aborting and reverting a running experiment`);
    stopping.abort(reason);
  };
  const onStop = (): void => stopWith(stopReasonNow(systemd.enabled));
  if (stopSignal.aborted) onStop();
  stopSignal.addEventListener('abort', onStop, { once: true });
  // A worker stops when the idle process asks, with the reason it found.
  worker?.onStop(stopWith);
  // After an internal error the agent stops polling, as for a stop, and its run reports why.
  const session = openSession(env, ctx, { onCrash: () => stopping.abort('internal error') });
  systemd.status('reverting remnants of earlier runs');
  try {
    const remnants = await session.open();
    if (remnants.length) env.logger.info({ count: remnants.length }, 'remnants of earlier runs reverted before polling');
    const timing = {
      heartbeatMs: config.agent.heartbeatInterval,
      runningHeartbeatMs: config.agent.runningHeartbeatInterval,
      pollWaitMs: config.agent.pollWait,
      disconnectTimeoutMs: config.agent.disconnectTimeout,
    };
    const agent = new Agent({
      client,
      tokens,
      logger: env.logger,
      session,
      timing,
      abortCall: config.agent.abortCall,
      version: env.options.version,
      identity,
      stateDir: env.options.stateDir,
      onStatus: (text) => systemd.status(text),
      onStopping: () => systemd.stopping('faults reverted; sending the last logs and the result'),
    });
    if (worker && role === 'prepare') {
      await agent.finishEarlierRuns(signal);
      const settings: IdleSettings = { logFormat: env.options.logFormat, hub: connection, infraId: hub.infraId, keyFile: hub.accessKeyFile, identity, version: env.options.version, capabilities: session.capabilities(), timing };
      if (!signal.aborted) worker.send({ kind: 'settings', settings });
      return EXIT.OK;
    }
    if (worker && role === 'run') {
      const task = await worker.task(signal);
      if (task) await agent.executeOne(task, signal);
      return EXIT.OK;
    }
    // Startup order: remnants reverted (above), then READY, then polling.
    systemd.ready(`polling ${hub.url} as ${hub.infraId}`);
    env.logger.info({ hub: hub.url, infraId: hub.infraId, agentId: identity.id, machineId: identity.machineId, systemd: systemd.enabled, watchdogMs: systemd.watchdogMs }, 'agent started');
    await agent.run(signal);
    env.logger.info('agent stopped');
    return EXIT.OK;
  } finally {
    stopWatchdog();
    stopSignal.removeEventListener('abort', onStop);
    await session.close();
    await client.close();
    worker?.close();
  }
}
