// SPDX-License-Identifier: Apache-2.0
/**
 * `faultd agent` as a child process for end-to-end tests against a test hub (test/helpers/hub.ts):
 * its key and configuration in a workspace, and its start with a teardown that kills it and
 * reverts what it left.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';

import { runCli, startCli, type CliChild, type Workspace } from './cli.js';
import type { TestHub } from './hub.js';

/** What an agent needs of a hub: where it is, its CA, and its service to create the infrastructure and read runs (a replica's too). */
export type AgentHub = Pick<TestHub, 'url' | 'ca' | 'service'>;
import { waitUntil } from './processes.js';

/** Creates infrastructure edge-1 on the hub and writes the agent's key and config into `ws` (`url`: the hub's, or a relay's). */
export interface AgentSettings {
  readonly disconnectTimeout?: string;
  /** The hub's URL, or a relay's in front of it. */
  readonly url?: string;
  /** While idle (1 s by default here); a running experiment beats every 1 s. */
  readonly heartbeatInterval?: string;
}

export async function configureAgent(hub: AgentHub, ws: Workspace, settings: AgentSettings = {}): Promise<string> {
  const { disconnectTimeout = '30s', url = hub.url, heartbeatInterval = '1s' } = settings;
  const { id, accessKey } = await hub.service.createInfra('edge-1');
  const keyFile = path.join(ws.dir, 'access-key');
  writeFileSync(keyFile, `${accessKey}\n`, { mode: 0o600 });
  const caFile = ws.file('ca.pem', hub.ca);
  ws.file('config.yaml', [
    'hub:', `  url: ${url}`, `  infraId: ${id}`, `  accessKeyFile: ${keyFile}`, `  caFile: ${caFile}`,
    'agent:', `  heartbeatInterval: ${heartbeatInterval}`, '  runningHeartbeatInterval: 1s', '  pollWait: 1s', `  disconnectTimeout: ${disconnectTimeout}`, '',
  ].join('\n'));
  return id;
}

export type Teardown = { teardown(fn: () => void | Promise<void>): void };

/** Starts `faultd agent` on the configuration in `ws`; at teardown it is killed and what it left reverted (a failed test leaves no cgroup). */
export function launchAgent(t: Teardown, ws: Workspace): CliChild {
  const child = startCli(['--log-format', 'json', 'agent'], ws.stateDir);
  t.teardown(async () => {
    child.kill('SIGKILL');
    await runCli(['revert', '--remnants', '--force'], ws.stateDir);
  });
  return child;
}

/** Like launchAgent, with extra environment variables. */
export function launchAgentWith(t: Teardown, ws: Workspace, env: Record<string, string>): CliChild {
  const child = startCli(['--log-format', 'json', 'agent'], ws.stateDir, undefined, env);
  t.teardown(async () => {
    child.kill('SIGKILL');
    await runCli(['revert', '--remnants', '--force'], ws.stateDir);
  });
  return child;
}


/** Resolves true once the run is in one of `states` (false after `timeoutMs`). */
export async function waitForState(hub: AgentHub, runId: string, states: readonly string[], timeoutMs: number): Promise<boolean> {
  return waitUntil(async () => states.includes((await hub.service.run(runId))?.state ?? ''), timeoutMs);
}

/** The agent suites' experiment: a CPU and a memory fault in parallel for `seconds`. */
export function cpuAndMemoryExperiment(seconds: number, name: string) {
  return {
    apiVersion: 'faultd/v1',
    kind: 'Experiment',
    metadata: { name },
    spec: { steps: [{ faults: [
      { kind: 'linux-cpu-stress', name: 'cpu', duration: `${seconds}s`, params: { load: 20, workers: 1 } },
      { kind: 'linux-memory-stress', name: 'mem', duration: `${seconds}s`, params: { memory: '32Mi', workers: 1 } },
    ] }] },
  };
}
