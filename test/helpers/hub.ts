// SPDX-License-Identifier: Apache-2.0
/** A real hub over TLS on 127.0.0.1 (port chosen by the kernel), with a CA made for the test. */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { pino } from 'pino';
import { Agent } from 'undici';

import type { AgentIdentity } from '../../src/protocol/messages.js';
import { HubClient } from '../../src/agent/hub-client.js';
import { HubLink } from '../../src/agent/hub-link.js';
import { TokenSource } from '../../src/agent/token-source.js';
import { startHubServer } from '../../src/hub/server.js';
import { HubService, type HubOptions } from '../../src/hub/service.js';
import { openHubStore, parseHubDatabase } from '../../src/hub/open-store.js';
import type { HubStore } from '../../src/hub/store.js';
import { initHubTls, readHubTls } from '../../src/hub/tls.js';
import { experimentTextChecker } from '../../src/experiment/load.js';
import { REGISTRY } from '../../src/faults/registry.js';
import type { AuthOptions } from '../../src/hub/operators/auth.js';
import type { EventStreamOptions } from '../../src/hub/operators/events.js';
import type { HubOperations } from '../../src/hub/operators/operations.js';
import { operatorApi } from '../../src/hub/operators/setup.js';
import { FAKE_VALIDATION } from './host.js';
import { SQLITE_BACKEND, storeBackend, type StoreBackend, type StoreName } from './hub-stores.js';

type Teardown = { teardown(fn: () => void | Promise<void>): void };

export const SILENT = pino({ level: 'silent' });

export interface TestHub {
  readonly dir: string;
  readonly url: string;
  /** PEM of the CA that signed the hub's certificate. */
  readonly ca: string;
  /** The store the hub runs on. */
  readonly backend: StoreName;
  /** Its database as `faultd hub --database` takes it (on SQLite the hub.db in `dir`). */
  readonly database: string;
  readonly service: HubService;
  /** The operator side on the same store (accounts, tokens, audit, library), as the operator API uses it. */
  readonly ops: HubOperations;
  /** An undici Agent trusting the CA. */
  readonly agent: Agent;
  /** Another store on the hub's database, as another process or replica has it; closed at teardown. */
  connect(): Promise<HubStore>;
  stop(): Promise<void>;
}

export interface StartHubOptions {
  /** The hub's directory (TLS files; hub.db on SQLite); a new temp dir, removed at teardown, by default. */
  readonly dir?: string;
  /** The store: SQLite (default) or PostgreSQL, on a new database (or `database`). */
  readonly backend?: StoreBackend | StoreName;
  /** An existing database to open (the `database` of an earlier hub, to restart it or start a replica). */
  readonly database?: string;
  readonly hub?: Partial<HubOptions>;
  readonly port?: number;
  readonly requireClientCert?: boolean;
  readonly auth?: Partial<AuthOptions>;
  readonly streams?: Partial<EventStreamOptions>;
}

function backendOf(database: string): StoreName {
  return database.startsWith('sqlite:') ? 'sqlite' : 'postgres';
}

/** Opens the store on `database` as `faultd hub` does (open-store.ts); closed at teardown. */
async function openStore(t: Teardown, database: string, dir: string, closeAtTeardown: boolean): Promise<HubStore> {
  const store = await openHubStore(parseHubDatabase(database, dir), dir);
  if (closeAtTeardown) t.teardown(() => store.close());
  return store;
}

/**
 * Starts a hub on its store (SQLite in `dir`'s hub.db by default, or `backend`, or the existing
 * `database`) over TLS; stopped, and its store closed, at stop or teardown.
 */
export async function startHub(t: Teardown, options: StartHubOptions = {}): Promise<TestHub> {
  const dir = options.dir ?? mkdtempSync(path.join(tmpdir(), 'faultd-hub-'));
  if (!options.dir) t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const { files } = await initHubTls(dir, []);
  const backend = typeof options.backend === 'string' ? storeBackend(options.backend) : (options.backend ?? SQLITE_BACKEND);
  const database = options.database ?? (await backend.hubDatabase(t, dir));
  const store = await openStore(t, database, dir, false);
  const service = new HubService(store, options.hub ?? {});
  const tls = readHubTls(dir, options.requireClientCert === true);
  // Experiments are validated against fixed host facts (test/helpers/host.ts), as faultd validate would on such a host.
  const api = operatorApi(
    { hub: service, store: store.operators(), validate: experimentTextChecker(REGISTRY, () => FAKE_VALIDATION), ...(options.auth ? { auth: options.auth } : {}), ...(options.streams ? { streams: options.streams } : {}) },
    { secureCookies: true, logger: SILENT },
  );
  const server = await startHubServer({
    service, logger: SILENT, host: '127.0.0.1', port: options.port ?? 0, operatorApi: api, tls: { key: tls.key, cert: tls.cert, ...(tls.ca === undefined ? {} : { clientCa: tls.ca }) },
  });
  const ca = readFileSync(files.caCert, 'utf8');
  const agent = new Agent({ connect: { ca } });
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await agent.close();
    await server.close();
    await store.close();
  };
  t.teardown(stop);
  return {
    dir, url: server.url, ca, backend: backendOf(database), database, service, ops: api.deps.ops, agent, stop,
    connect: () => openStore(t, database, dir, true),
  };
}

/** An infrastructure of `hub` and the agent's line to it (client, tokens, link), closed at teardown. */
/** A link to a new infrastructure `name`; with `identity`, its token exchanges carry it (as the agent's do). */
export async function linkTo(t: Teardown, hub: TestHub, name = 'edge-1', identity?: AgentIdentity): Promise<{ infraId: string; link: HubLink; client: HubClient; tokens: TokenSource }> {
  const { id, accessKey } = await hub.service.createInfra(name);
  const dir = mkdtempSync(path.join(tmpdir(), 'faultd-agent-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const keyFile = path.join(dir, 'access-key');
  writeFileSync(keyFile, `${accessKey}\n`, { mode: 0o600 });
  const client = new HubClient({ url: hub.url, caPem: hub.ca });
  t.teardown(() => client.close());
  const tokens = new TokenSource({ client, infraId: id, keyFile, logger: SILENT, ...(identity ? { agent: identity } : {}) });
  return { infraId: id, link: new HubLink(client, tokens), client, tokens };
}

/** A minimal valid experiment the hub accepts for queueing. */
export const QUEUED_EXPERIMENT = {
  apiVersion: 'faultd/v1',
  kind: 'Experiment',
  metadata: { name: 'x' },
  spec: { steps: [{ name: 's', faults: [{ kind: 'linux-cpu-stress', duration: '1s', params: { load: 10, workers: 1 } }] }] },
};

/** Queues a run on infrastructure `edge-1` and hands it to its agent, as a task poll would; returns its id. */
export async function dispatchRun(hub: TestHub, infraId: string): Promise<string> {
  const run = await hub.service.queueRun('edge-1', QUEUED_EXPERIMENT);
  await hub.service.nextTask(infraId);
  return run.id;
}
