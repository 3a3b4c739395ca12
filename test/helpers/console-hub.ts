// SPDX-License-Identifier: Apache-2.0
/**
 * A real hub over TLS on 127.0.0.1 with the operator API (src/hub/operators) and the web console
 * on its listener, as `faultd hub serve` wires them, for the browser tests; operators are added
 * straight to its store. Experiments are validated by the real validator against fixed host
 * facts (the agent validates them again against its host).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { Agent } from 'undici';

import { isFaultdError } from '../../src/errors.js';
import { validateExperimentText } from '../../src/experiment/load.js';
import { REGISTRY } from '../../src/faults/registry.js';
import type { ExperimentValidator } from '../../src/hub/operators/operator-service.js';
import { localActor } from '../../src/hub/operators/operator-service.js';
import { operatorApi, operatorOperations } from '../../src/hub/operators/setup.js';
import { startHubServer } from '../../src/hub/server.js';
import { HubService } from '../../src/hub/service.js';
import { SqliteHubStore } from '../../src/hub/sqlite-store.js';
import { initHubTls, readHubTls } from '../../src/hub/tls.js';
import { FAKE_VALIDATION } from './host.js';
import { SILENT, type TestHub } from './hub.js';

const validate: ExperimentValidator = (text, name) => {
  try {
    const { experiment, raw } = validateExperimentText(text, name, REGISTRY, FAKE_VALIDATION);
    return { ok: true, experiment: raw, faults: experiment.steps.reduce((n, s) => n + s.faults.length, 0) };
  } catch (error) {
    if (isFaultdError(error, 'FAULTD_ERR_INPUT_SYNTAX', 'FAULTD_ERR_INPUT_INVALID')) return { ok: false, lines: error.message.split('\n') };
    throw error;
  }
};

export interface ConsoleHub extends TestHub {
  /** Adds an operator account. */
  addOperator(name: string, role: 'viewer' | 'operator' | 'admin', password: string): Promise<void>;
}

export async function startConsoleHub(t: { teardown(fn: () => void | Promise<void>): void }): Promise<ConsoleHub> {
  const dir = mkdtempSync(path.join(tmpdir(), 'faultd-console-hub-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const { files } = await initHubTls(dir, []);
  const store = new SqliteHubStore(path.join(dir, 'hub.db'));
  const service = new HubService(store);
  const setup = { hub: service, store: store.operators(), validate };
  const api = operatorApi(setup, { secureCookies: true, logger: SILENT });
  const ops = operatorOperations(setup);
  const tls = readHubTls(dir, false);
  const server = await startHubServer({ service, logger: SILENT, host: '127.0.0.1', port: 0, tls: { key: tls.key, cert: tls.cert }, operatorApi: api });
  const ca = readFileSync(files.caCert, 'utf8');
  const agent = new Agent({ connect: { ca } });
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await agent.close();
    await server.close();
    store.close();
  };
  t.teardown(stop);
  return {
    dir, url: server.url, ca, service, agent, stop,
    addOperator: async (name, role, password) => {
      await ops.operators.addUser(localActor(), name, role, password);
    },
  };
}
