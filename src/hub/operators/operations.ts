// SPDX-License-Identifier: Apache-2.0
/**
 * The hub's operations as the operator API answers them (JSON shapes of
 * operator-api-contract / README "Hub for teams"), with every change written to the audit log.
 * The API handlers (routes.ts) and the local CLI on the database file call these same methods,
 * and the remote CLI receives these same shapes over HTTPS: `faultd hub …` prints them with one
 * code path whichever way it reached the hub.
 */
import { RUN_VERDICTS, type LogEntry, type ResultRequest } from '../../protocol/messages.js';
import type { InfraView } from '../service.js';
import type { RunRecord, RunState, StoredStatus } from '../store.js';
import { OperatorError } from './operator-error.js';
import type { Actor, OperatorService } from './operator-service.js';

type MaybePromise<T> = T | Promise<T>;

/**
 * What the operations need of the hub service. Results may be promises, so the service can
 * become asynchronous (a server database) without changing this layer.
 */
export interface HubPort {
  now(): number;
  listInfras(): MaybePromise<InfraView[]>;
  /** The infrastructure with id `idOrName`, else the one named so. */
  findInfra(idOrName: string): MaybePromise<InfraView | undefined>;
  createInfra(name: string): MaybePromise<{ id: string; accessKey: string }>;
  rotateKey(name: string): MaybePromise<unknown>;
  releaseAgent(name: string): MaybePromise<InfraView['binding']>;
  queueRun(infraName: string, experiment: unknown): MaybePromise<RunRecord>;
  runs(infraName?: string, limit?: number): MaybePromise<RunRecord[]>;
  run(runId: string): MaybePromise<RunRecord | undefined>;
  runLogs(runId: string, afterSeq: number, limit?: number): MaybePromise<LogEntry[]>;
  runStatus(runId: string): MaybePromise<StoredStatus[]>;
  requestAbort(runId: string): MaybePromise<'cancelled' | 'requested' | 'finished'>;
  closeRun(runId: string, reason: string): MaybePromise<boolean>;
  onRunsChanged(listener: () => void, infraId?: string): () => void;
}

export const RUN_STATES: readonly RunState[] = ['queued', 'dispatched', 'running', 'finished', 'cancelled'];
export const MAX_RUNS_LIMIT = 500;
/** State and verdict filters look at this many of the newest runs. */
export const FILTERED_RUNS_WINDOW = 2000;
export const MAX_LOGS_LIMIT = 1000;

export interface InfraJson {
  readonly id: string;
  readonly name: string;
  readonly connected: boolean;
  readonly state: InfraView['state'];
  readonly lastSeen?: number;
  readonly agentVersion?: string;
  readonly hostname?: string;
  readonly capabilities: readonly string[];
  readonly currentRunId?: string;
  readonly keyRotation: InfraView['keyRotation'];
  readonly binding?: { readonly hostname: string; readonly agentId: string; readonly agentIdPrefix: string; readonly machineId?: string; readonly since: number };
}

export interface RunJson {
  readonly id: string;
  readonly infraId: string;
  readonly infraName: string;
  readonly experimentName: string;
  readonly state: RunState;
  readonly verdict?: string;
  readonly queuedAt: number;
  readonly dispatchedAt?: number;
  readonly finishedAt?: number;
  readonly resilienceScore?: number;
  readonly abortRequested: boolean;
}

export interface RunDetailJson {
  readonly run: RunJson & { readonly experiment: unknown };
  readonly status: StoredStatus[];
  readonly result?: ResultRequest;
}

export interface RunFilter {
  readonly infra?: string;
  readonly states?: readonly string[];
  readonly verdicts?: readonly string[];
  readonly limit?: number;
}

export type QueueRequest = { readonly infra: string; readonly experiment: string; readonly fileName?: string } | { readonly infra: string; readonly library: string };

function experimentName(experiment: string): string {
  try {
    const parsed = JSON.parse(experiment) as { metadata?: { name?: unknown } };
    return typeof parsed.metadata?.name === 'string' ? parsed.metadata.name : '';
  } catch {
    return '';
  }
}

function infraJson(view: InfraView, currentRunId: string | undefined): InfraJson {
  const b = view.binding;
  return {
    id: view.id,
    name: view.name,
    connected: view.state === 'CONNECTED',
    state: view.state,
    ...(view.lastSeen === undefined ? {} : { lastSeen: Date.parse(view.lastSeen) }),
    ...(view.agentVersion === undefined ? {} : { agentVersion: view.agentVersion }),
    ...(view.hostname === undefined ? {} : { hostname: view.hostname }),
    capabilities: view.capabilities,
    ...(currentRunId === undefined ? {} : { currentRunId }),
    keyRotation: view.keyRotation,
    ...(b ? { binding: { hostname: b.hostname, agentId: b.agentId, agentIdPrefix: b.agentIdPrefix, ...(b.machineId === undefined ? {} : { machineId: b.machineId }), since: Date.parse(b.since) } } : {}),
  };
}

export class HubOperations {
  readonly #hub: HubPort;
  readonly #operators: OperatorService;

  constructor(hub: HubPort, operators: OperatorService) {
    this.#hub = hub;
    this.#operators = operators;
  }

  get operators(): OperatorService {
    return this.#operators;
  }

  get hub(): HubPort {
    return this.#hub;
  }

  /** The infrastructure with id or name `idOrName`; NOT_FOUND otherwise. */
  async infra(idOrName: string): Promise<InfraView> {
    const found = await this.#hub.findInfra(idOrName);
    if (!found) throw new OperatorError('NOT_FOUND', `no infrastructure named "${idOrName}" (see faultd hub infra list)`);
    return found;
  }

  async listInfras(): Promise<{ infras: InfraJson[] }> {
    const infras = await this.#hub.listInfras();
    const current = new Map<string, string>();
    for (const run of await this.#hub.runs()) {
      if ((run.state === 'dispatched' || run.state === 'running') && !current.has(run.infraId)) current.set(run.infraId, run.id);
    }
    return { infras: infras.map((i) => infraJson(i, current.get(i.id))) };
  }

  async createInfra(actor: Actor, name: string): Promise<{ id: string; name: string; accessKey: string }> {
    const { id, accessKey } = await this.#hub.createInfra(name);
    await this.#operators.audit(actor, 'infra.create', name, id);
    return { id, name, accessKey };
  }

  async rotateKey(actor: Actor, idOrName: string): Promise<{ id: string; name: string }> {
    const infra = await this.infra(idOrName);
    await this.#hub.rotateKey(infra.name);
    await this.#operators.audit(actor, 'infra.rotate-key', infra.name, infra.id);
    return { id: infra.id, name: infra.name };
  }

  async releaseInfra(actor: Actor, idOrName: string): Promise<{ id: string; name: string; released?: NonNullable<InfraJson['binding']> }> {
    const infra = await this.infra(idOrName);
    const released = await this.#hub.releaseAgent(infra.name);
    await this.#operators.audit(actor, 'infra.release', infra.name, released ? `was bound to ${released.hostname} (agent ${released.agentIdPrefix})` : 'was not bound');
    const binding = released && infraJson({ ...infra, binding: released }, undefined).binding;
    return { id: infra.id, name: infra.name, ...(binding ? { released: binding } : {}) };
  }

  async listRuns(filter: RunFilter = {}): Promise<{ runs: RunJson[] }> {
    const limit = filter.limit ?? 50;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_RUNS_LIMIT) throw new OperatorError('BAD_REQUEST', `limit must be 1–${MAX_RUNS_LIMIT}`);
    for (const s of filter.states ?? []) if (!(RUN_STATES as readonly string[]).includes(s)) throw new OperatorError('BAD_REQUEST', `state "${s}" must be one of ${RUN_STATES.join(', ')}`);
    for (const v of filter.verdicts ?? []) if (!(RUN_VERDICTS as readonly string[]).includes(v)) throw new OperatorError('BAD_REQUEST', `verdict "${v}" must be one of ${RUN_VERDICTS.join(', ')}`);
    const infra = filter.infra === undefined ? undefined : await this.infra(filter.infra);
    const filtered = (filter.states?.length ?? 0) > 0 || (filter.verdicts?.length ?? 0) > 0;
    const runs = (await this.#hub.runs(infra?.name, filtered ? FILTERED_RUNS_WINDOW : limit))
      .filter((r) => !filter.states?.length || filter.states.includes(r.state))
      .filter((r) => !filter.verdicts?.length || (r.result !== undefined && filter.verdicts.includes(r.result.verdict)))
      .slice(0, limit);
    const names = await this.#infraNames(runs.map((r) => r.infraId));
    return { runs: runs.map((r) => this.#runJson(r, names.get(r.infraId) ?? r.infraId)) };
  }

  /** The names of these infrastructures (by id), looked up one by one: a page of runs, not the fleet. */
  async #infraNames(ids: readonly string[]): Promise<Map<string, string>> {
    const unique = [...new Set(ids)];
    const found = await Promise.all(unique.map(async (id) => {
      const infra = await this.#hub.findInfra(id);
      // A removed infrastructure keeps its id; so does one whose id is some other one's name.
      return [id, infra?.id === id ? infra.name : id] as const;
    }));
    return new Map(found);
  }

  #runJson(r: RunRecord, infraName: string): RunJson {
    return {
      id: r.id,
      infraId: r.infraId,
      infraName,
      experimentName: experimentName(r.experiment),
      state: r.state,
      ...(r.result ? { verdict: r.result.verdict } : {}),
      queuedAt: r.queuedAt,
      ...(r.dispatchedAt === undefined ? {} : { dispatchedAt: r.dispatchedAt }),
      ...(r.finishedAt === undefined ? {} : { finishedAt: r.finishedAt }),
      ...(r.result?.resilienceScore === undefined ? {} : { resilienceScore: r.result.resilienceScore }),
      abortRequested: r.abortRequested,
    };
  }

  /**
   * Queues an experiment (text, validated as `faultd validate` does: INVALID_EXPERIMENT with its
   * lines) or a library experiment by name. Returns the run id and how many runs are ahead of it.
   */
  async queueRun(actor: Actor, request: QueueRequest): Promise<{ id: string; infraName: string; ahead: number }> {
    const infra = await this.infra(request.infra);
    const fromLibrary = 'library' in request;
    const text = fromLibrary ? (await this.#operators.experiment(request.library)).text : request.experiment;
    const source = fromLibrary ? `library:${request.library}` : (request.fileName ?? 'experiment');
    const { experiment } = this.#operators.checkExperiment(text, source);
    const run = await this.#hub.queueRun(infra.name, experiment);
    const ahead = (await this.#hub.runs(infra.name)).filter((r) => r.id !== run.id && ['queued', 'dispatched', 'running'].includes(r.state)).length;
    await this.#operators.audit(actor, 'run.queue', run.id, `infra ${infra.name}, ${source}`);
    return { id: run.id, infraName: infra.name, ahead };
  }

  async #run(runId: string): Promise<RunRecord> {
    const run = await this.#hub.run(runId);
    if (!run) throw new OperatorError('NOT_FOUND', `no run ${runId} (see faultd hub runs)`);
    return run;
  }

  async run(runId: string): Promise<RunDetailJson> {
    const run = await this.#run(runId);
    const names = await this.#infraNames([run.infraId]);
    const status = await this.#hub.runStatus(runId);
    return {
      run: { ...this.#runJson(run, names.get(run.infraId) ?? run.infraId), experiment: JSON.parse(run.experiment) as unknown },
      status,
      ...(run.result ? { result: run.result } : {}),
    };
  }

  async logs(runId: string, after = 0, limit = MAX_LOGS_LIMIT): Promise<{ entries: LogEntry[] }> {
    if (!Number.isInteger(after) || after < 0) throw new OperatorError('BAD_REQUEST', 'after must be a whole number ≥ 0');
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LOGS_LIMIT) throw new OperatorError('BAD_REQUEST', `limit must be 1–${MAX_LOGS_LIMIT}`);
    await this.#run(runId);
    return { entries: await this.#hub.runLogs(runId, after, limit) };
  }

  /**
   * Aborts a run (a queued one is cancelled, a running one is aborted by its agent); with
   * `force`, closes a dispatched or running run at once without its agent (outcome `closed`).
   */
  async abort(actor: Actor, runId: string, force = false): Promise<{ outcome: 'cancelled' | 'requested' | 'finished' | 'closed' }> {
    const run = await this.#run(runId);
    if (force) {
      if (run.state === 'queued') throw new OperatorError('CONFLICT', `run ${runId} is still queued: abort it without --force`);
      const closed = await this.#hub.closeRun(runId, `closed by ${actor.name} (hub abort --force): its agent never reported it`);
      await this.#operators.audit(actor, 'run.close', runId, closed ? 'closed as aborted' : 'had already ended');
      return { outcome: closed ? 'closed' : 'finished' };
    }
    const outcome = await this.#hub.requestAbort(runId);
    await this.#operators.audit(actor, 'run.abort', runId, outcome);
    return { outcome };
  }
}
