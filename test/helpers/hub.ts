// SPDX-License-Identifier: Apache-2.0
/** A real hub over TLS on 127.0.0.1 (port chosen by the kernel), with a CA made for the test. */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { pino } from 'pino';
import { Agent } from 'undici';

import { startHubServer } from '../../src/hub/server.js';
import { HubService, type HubOptions } from '../../src/hub/service.js';
import { SqliteHubStore } from '../../src/hub/sqlite-store.js';
import { initHubTls, readHubTls } from '../../src/hub/tls.js';

export const SILENT = pino({ level: 'silent' });

export interface TestHub {
  readonly dir: string;
  readonly url: string;
  /** PEM of the CA that signed the hub's certificate. */
  readonly ca: string;
  readonly service: HubService;
  /** An undici Agent trusting the CA. */
  readonly agent: Agent;
  stop(): Promise<void>;
}

/** Starts a hub in `dir` (a new temp dir by default, removed at teardown); stopped at teardown. */
export async function startHub(t: { teardown(fn: () => void | Promise<void>): void }, options: { dir?: string; hub?: Partial<HubOptions>; port?: number; requireClientCert?: boolean } = {}): Promise<TestHub> {
  const dir = options.dir ?? mkdtempSync(path.join(tmpdir(), 'faultd-hub-'));
  if (!options.dir) t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const { files } = await initHubTls(dir, []);
  const store = new SqliteHubStore(path.join(dir, 'hub.db'));
  const service = new HubService(store, options.hub ?? {});
  const tls = readHubTls(dir, options.requireClientCert === true);
  const server = await startHubServer({ service, logger: SILENT, host: '127.0.0.1', port: options.port ?? 0, tls: { key: tls.key, cert: tls.cert, ...(tls.ca === undefined ? {} : { clientCa: tls.ca }) } });
  const ca = readFileSync(files.caCert, 'utf8');
  const agent = new Agent({ connect: { ca } });
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await agent.close();
    await server.close();
    store.close();
  };
  t.teardown(stop);
  return { dir, url: server.url, ca, service, agent, stop };
}
