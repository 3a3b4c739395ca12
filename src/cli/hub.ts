// SPDX-License-Identifier: Apache-2.0
/**
 * `faultd hub …`: the reference control plane. `init` creates its CA and server certificate,
 * `serve` runs the HTTPS API, `infra create|list|rotate-key` manage infrastructures on the
 * same SQLite state (<hub-dir>/hub.db) that `serve` uses.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';

import { FaultdError, messageOf } from '../errors.js';
import { startHubServer } from '../hub/server.js';
import { HubService } from '../hub/service.js';
import { SqliteHubStore } from '../hub/sqlite-store.js';
import { initHubTls, readHubTls } from '../hub/tls.js';
import type { CommandEnv } from './context.js';
import { EXIT, type ExitCode } from './exit-codes.js';

export interface HubFlags {
  readonly hubDir: string;
}

function openService(flags: HubFlags, tokenTtlSeconds?: number): { service: HubService; close(): void } {
  try {
    mkdirSync(flags.hubDir, { recursive: true, mode: 0o700 });
  } catch (error) {
    throw new FaultdError('FAULTD_ERR_STATE_DIR', `cannot create the hub directory ${flags.hubDir}: ${messageOf(error)}`, { cause: error });
  }
  const store = new SqliteHubStore(path.join(flags.hubDir, 'hub.db'));
  return { service: new HubService(store, tokenTtlSeconds === undefined ? {} : { tokenTtlSeconds }), close: () => store.close() };
}

export function hubInitCommand(flags: HubFlags & { sans: readonly string[] }, env: CommandEnv): ExitCode {
  const { files, created } = initHubTls(path.join(flags.hubDir, 'tls'), flags.sans);
  env.print(created ? 'Created the hub CA and server certificate.' : 'The hub certificates already exist; nothing changed.');
  env.print(`CA certificate for agents (config caFile): ${files.caCert}`);
  env.print(`Server certificate: ${files.serverCert} (key ${files.serverKey}, mode 0600)`);
  return EXIT.OK;
}

export function hubInfraCreateCommand(flags: HubFlags & { name: string }, env: CommandEnv): ExitCode {
  const hub = openService(flags);
  try {
    const { id, accessKey } = hub.service.createInfra(flags.name);
    env.print(`Infrastructure "${flags.name}" created.`);
    env.print(`infra id:   ${id}`);
    env.print(`access key: ${accessKey}`);
    env.print('The key is shown this once and stored only hashed: put it in a file of mode 0600 on the agent (config accessKeyFile).');
    return EXIT.OK;
  } finally {
    hub.close();
  }
}

export function hubInfraListCommand(flags: HubFlags & { json: boolean }, env: CommandEnv): ExitCode {
  const hub = openService(flags);
  try {
    const infras = hub.service.listInfras();
    if (flags.json) {
      env.print(JSON.stringify(infras, null, 2));
      return EXIT.OK;
    }
    if (infras.length === 0) env.print('No infrastructure yet: faultd hub infra create <name>');
    for (const i of infras) {
      const agent = i.agentVersion ? `agent ${i.agentVersion} on ${i.hostname ?? '?'}` : 'no agent yet';
      env.print(`${i.name.padEnd(20)} ${i.state.padEnd(12)} ${i.id}  ${agent}; last seen ${i.lastSeen ?? 'never'}; key rotation: ${i.keyRotation}; capabilities: ${i.capabilities.join(', ') || '-'}`);
    }
    return EXIT.OK;
  } finally {
    hub.close();
  }
}

export function hubInfraRotateKeyCommand(flags: HubFlags & { name: string }, env: CommandEnv): ExitCode {
  const hub = openService(flags);
  try {
    hub.service.rotateKey(flags.name);
    env.print(`Key rotation of "${flags.name}" requested: the agent receives its new key with its next token and confirms it; the old key works until then.`);
    return EXIT.OK;
  } finally {
    hub.close();
  }
}

export async function hubServeCommand(
  flags: HubFlags & { host: string; port: number; insecureHttp: boolean; tokenTtlSeconds: number },
  env: CommandEnv,
  signal: AbortSignal,
): Promise<ExitCode> {
  const hub = openService(flags, flags.tokenTtlSeconds);
  try {
    const tls = flags.insecureHttp ? undefined : readHubTls(path.join(flags.hubDir, 'tls'));
    const server = await startHubServer({ service: hub.service, logger: env.logger, host: flags.host, port: flags.port, ...(tls ? { tls } : { insecureHttp: true }) });
    env.print(`faultd hub serving on ${server.url} (state ${flags.hubDir}); Ctrl-C stops it`);
    await new Promise<void>((resolve) => {
      if (signal.aborted) resolve();
      signal.addEventListener('abort', () => resolve(), { once: true });
    });
    await server.close();
    return EXIT.OK;
  } finally {
    hub.close();
  }
}
