// SPDX-License-Identifier: Apache-2.0
/**
 * Where `faultd hub` commands act: on the hub's database file in this process (local), or on a
 * remote hub through its operator API (hub-remote.ts). Both answer with the operator API's
 * JSON shapes (hub/operators/operations.ts), so each command prints with one code path.
 */
import type { LogEntry } from '../protocol/messages.js';
import type { AuditEntry } from '../hub/operators/operator-store.js';
import type { Actor, TokenView, UserView } from '../hub/operators/operator-service.js';
import type { HubOperations, InfraJson, RunDetailJson, RunFilter, RunJson } from '../hub/operators/operations.js';

export interface ExperimentSummary {
  readonly name: string;
  readonly updatedAt: number;
  readonly updatedBy: string;
  readonly faults: number;
}

export interface HubBackend {
  /** How the commands reached the hub, for messages: the database file or the URL. */
  readonly where: string;
  listInfras(): Promise<{ infras: InfraJson[] }>;
  createInfra(name: string): Promise<{ id: string; name: string; accessKey: string }>;
  rotateKey(name: string): Promise<{ id: string; name: string }>;
  releaseInfra(name: string): Promise<{ id: string; name: string; released?: NonNullable<InfraJson['binding']> }>;
  queueRun(infra: string, text: string, fileName: string): Promise<{ id: string; ahead: number }>;
  queueLibraryRun(infra: string, library: string): Promise<{ id: string; ahead: number }>;
  listExperiments(): Promise<{ experiments: ExperimentSummary[] }>;
  experiment(name: string): Promise<{ name: string; text: string; updatedAt: number; updatedBy: string }>;
  putExperiment(name: string, text: string): Promise<{ name: string; created: boolean }>;
  deleteExperiment(name: string): Promise<void>;
  listRuns(filter: RunFilter): Promise<{ runs: RunJson[] }>;
  run(runId: string): Promise<RunDetailJson>;
  logs(runId: string, after: number, limit: number): Promise<{ entries: LogEntry[] }>;
  abort(runId: string, force: boolean): Promise<{ outcome: 'cancelled' | 'requested' | 'finished' | 'closed' }>;
  audit(limit: number, before?: number): Promise<{ entries: AuditEntry[] }>;
  listUsers(): Promise<{ users: UserView[] }>;
  addUser(name: string, role: string, password: string): Promise<UserView>;
  removeUser(name: string): Promise<void>;
  setPassword(name: string, password: string): Promise<void>;
  setRole(name: string, role: string): Promise<void>;
  setDisabled(name: string, disabled: boolean): Promise<void>;
  /** `ttlMs` undefined: no expiry. The token is in the answer this once. */
  createToken(user: string, ttlMs: number | undefined): Promise<TokenView & { token: string }>;
  listTokens(user?: string): Promise<{ tokens: TokenView[] }>;
  revokeToken(id: string): Promise<void>;
  close(): Promise<void>;
}

/** The hub's operations on its database file, as `actor` (local:<unix user>). */
export function localBackend(ops: HubOperations, actor: Actor, where: string, close: () => Promise<void>): HubBackend {
  return {
    where,
    listInfras: () => ops.listInfras(),
    createInfra: (name) => ops.createInfra(actor, name),
    rotateKey: (name) => ops.rotateKey(actor, name),
    releaseInfra: (name) => ops.releaseInfra(actor, name),
    queueRun: (infra, text, fileName) => ops.queueRun(actor, { infra, experiment: text, fileName }),
    queueLibraryRun: (infra, library) => ops.queueRun(actor, { infra, library }),
    listExperiments: async () => ({ experiments: (await ops.operators.listExperiments()).map(({ name, updatedAt, updatedBy, faults }) => ({ name, updatedAt, updatedBy, faults })) }),
    experiment: async (name) => {
      const { text, updatedAt, updatedBy } = await ops.operators.experiment(name);
      return { name, text, updatedAt, updatedBy };
    },
    putExperiment: async (name, text) => ({ name, created: await ops.operators.putExperiment(actor, name, text) }),
    deleteExperiment: (name) => ops.operators.deleteExperiment(actor, name),
    listRuns: (filter) => ops.listRuns(filter),
    run: (runId) => ops.run(runId),
    logs: (runId, after, limit) => ops.logs(runId, after, limit),
    abort: (runId, force) => ops.abort(actor, runId, force),
    audit: async (limit, before) => ({ entries: await ops.operators.listAudit(limit, before) }),
    listUsers: async () => ({ users: await ops.operators.listUsers() }),
    addUser: (name, role, password) => ops.operators.addUser(actor, name, role, password),
    removeUser: (name) => ops.operators.removeUser(actor, name),
    setPassword: (name, password) => ops.operators.setPassword(actor, name, password),
    setRole: (name, role) => ops.operators.setRole(actor, name, role),
    setDisabled: (name, disabled) => ops.operators.setDisabled(actor, name, disabled),
    createToken: async (user, ttlMs) => {
      const { token, view } = await ops.operators.createToken(actor, user, ttlMs ?? null);
      return { ...view, token };
    },
    listTokens: async (user) => ({ tokens: await ops.operators.listTokens(user) }),
    revokeToken: (id) => ops.operators.revokeToken(actor, id),
    close,
  };
}
