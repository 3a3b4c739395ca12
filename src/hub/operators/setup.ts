// SPDX-License-Identifier: Apache-2.0
/** Puts the operator side together on a hub service and an OperatorStore. */
import type { Logger } from 'pino';

import { OperatorApi } from './api.js';
import { OperatorAuth, type AuthOptions } from './auth.js';
import { EventStreams, type EventStreamOptions } from './events.js';
import { HubOperations, type HubPort } from './operations.js';
import type { OperatorStore } from './operator-store.js';
import { OperatorService, type ExperimentValidator } from './operator-service.js';

export interface OperatorSetup {
  readonly hub: HubPort;
  readonly store: OperatorStore;
  readonly validate?: ExperimentValidator;
  readonly auth?: Partial<AuthOptions>;
  readonly streams?: Partial<EventStreamOptions>;
}

/** The operations (for the local CLI): no HTTP. */
export function operatorOperations(setup: Pick<OperatorSetup, 'hub' | 'store' | 'validate'>): HubOperations {
  const now = () => setup.hub.now();
  return new HubOperations(setup.hub, new OperatorService(setup.store, { now, ...(setup.validate ? { validate: setup.validate } : {}) }));
}

/** The operator API for the hub's listener; `secureCookies` false only on a plain-HTTP hub. */
export function operatorApi(setup: OperatorSetup, options: { secureCookies: boolean; logger: Logger }): OperatorApi {
  const ops = operatorOperations(setup);
  const auth = new OperatorAuth(setup.store, { now: () => setup.hub.now(), ...setup.auth });
  const sessionTtlSeconds = Math.round((setup.auth?.sessionTtlMs ?? 12 * 3600_000) / 1000);
  return new OperatorApi({ ops, auth, secureCookies: options.secureCookies, sessionTtlSeconds, streams: new EventStreams(ops, setup.streams) }, options.logger);
}
