// SPDX-License-Identifier: Apache-2.0
/**
 * What the hub does, independent of HTTP: infrastructures and their keys, token exchange with
 * key rotation, token authentication, heartbeats. server.ts maps the protocol onto it; the CLI
 * (`faultd hub infra …`) calls it directly on the same store.
 */
import { FaultdError } from '../errors.js';
import { z } from 'zod';

import type { AgentIdentity, HeartbeatRequest, HeartbeatResponse, LogEntry, LogsRequest, ResultRequest, StatusRequest, TaskResponse, TokenRequest, TokenResponse } from '../protocol/messages.js';
import { hashKey, keyMatches, newAccessKey, newAccessToken, newId, openPendingKey, sealPendingKey, tokenHash } from './credentials.js';
import { AgentBindingConflict, agentIdPrefix, bindingConflict, bindingOf, identityLessConflict, isBoundAgent } from './agent-binding.js';
import type { KeyHash } from './credentials.js';
import type { HubStore, InfraRecord, RunRecord, StoredStatus } from './store.js';
import { steadyWallClock } from '../monotonic.js';

/** What the hub checks of a queued experiment; the agent validates it fully against its host. */
const QueuedExperiment = z.looseObject({ apiVersion: z.literal('faultd/v1'), kind: z.literal('Experiment') });
/** The key of listeners of every infrastructure's runs (onRunsChanged without an infrastructure). */
const ANY_INFRA = Symbol('any infrastructure');

/** A run call the hub refuses: the protocol code and why. */
export class RunCallError extends Error {
  readonly code: 'NOT_FOUND' | 'CONFLICT';

  constructor(code: 'NOT_FOUND' | 'CONFLICT', message: string) {
    super(message);
    this.code = code;
  }
}

export interface HubOptions {
  /** Access token lifetime (default 10 min). */
  readonly tokenTtlSeconds: number;
  /** An infrastructure is CONNECTED while its last heartbeat is younger than this. */
  readonly connectedWithinMs: number;
  /**
   * A run its agent received but never reported on is closed as lost when the same
   * infrastructure asks for new work this long after receiving it (an agent polls only when
   * idle, and reports a run within a second of receiving it).
   */
  readonly lostDispatchMs: number;
  /**
   * A run whose infrastructure has sent no heartbeat for this long is closed as lost (its host
   * is gone). Longer than the longest agent `disconnectTimeout` (1 h): an agent that was only
   * cut off has aborted and reverted on its own by then.
   */
  readonly silentRunMs: number;
  /**
   * The hub's time (ms since the epoch). By default the system clock at start advanced by
   * CLOCK_MONOTONIC (steadyWallClock): token expiry and a run's silence compare times the hub
   * made, and a step of its host's clock (a linux-time-chaos fault on the hub's own machine)
   * must neither expire every token nor close every run as lost.
   */
  readonly now: () => number;
}

export const DEFAULT_HUB_OPTIONS: HubOptions = { tokenTtlSeconds: 600, connectedWithinMs: 30_000, lostDispatchMs: 30_000, silentRunMs: 2 * 3600_000, now: steadyWallClock() };

const INFRA_NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;

export type InfraState = 'CONNECTED' | 'DISCONNECTED' | 'NEVER_SEEN';

export interface InfraView {
  readonly id: string;
  readonly name: string;
  readonly state: InfraState;
  readonly lastSeen?: string;
  readonly agentVersion?: string;
  readonly hostname?: string;
  readonly capabilities: readonly string[];
  readonly keyRotation: 'none' | 'requested' | 'awaiting confirmation';
  /** The agent instance the infrastructure is bound to (agent-binding.ts), if any. */
  readonly binding?: BindingView;
}

export interface BindingView {
  readonly hostname: string;
  readonly agentId: string;
  /** The first 8 characters of agentId, as text output shows it. */
  readonly agentIdPrefix: string;
  readonly machineId?: string;
  readonly since: string;
}

export class HubService {
  readonly #store: HubStore;
  /** Who waits for run changes: of one infrastructure (by its id), or of any (under ANY_INFRA). */
  readonly #listeners = new Map<string | typeof ANY_INFRA, Set<() => void>>();
  /** Stops watching the store for other processes' run changes; set while anyone listens. */
  #unwatch: (() => void) | undefined;
  readonly #options: HubOptions;

  constructor(store: HubStore, options: Partial<HubOptions> = {}) {
    this.#store = store;
    this.#options = { ...DEFAULT_HUB_OPTIONS, ...options };
  }

  /** The hub's clock (ms since the epoch). */
  now(): number {
    return this.#options.now();
  }

  /** Creates an infrastructure; its access key is returned once and stored only hashed. */
  async createInfra(name: string): Promise<{ id: string; accessKey: string }> {
    if (!INFRA_NAME.test(name)) {
      throw new FaultdError('FAULTD_ERR_HUB_INPUT', `infrastructure name "${name}" must be 1–63 of a-z, 0-9, ".", "_", "-", starting with a letter or digit`);
    }
    const accessKey = newAccessKey();
    const id = newId('inf_');
    const key = hashKey(accessKey);
    // Conditional in the store: of two creates at once (two operators, CLIs or replicas), one adds it.
    if (!(await this.#store.addInfra({ id, name, createdAt: this.#options.now(), key }))) {
      throw new FaultdError('FAULTD_ERR_HUB_INPUT', `infrastructure "${name}" already exists`);
    }
    return { id, accessKey };
  }

  /**
   * Asks for a new key for `name`; the agent receives it with its next token. A rotation already
   * awaiting confirmation keeps its key: the agent may have stored it in place of the old one.
   */
  async rotateKey(name: string): Promise<InfraRecord> {
    return this.#store.transaction(async (store) => {
      const infra = await this.#infra(name, store);
      await store.requestRotation(infra.id);
      return infra;
    });
  }

  async listInfras(): Promise<InfraView[]> {
    return (await this.#store.listInfras()).map((i) => this.#infraView(i));
  }

  /** The infrastructure with id `idOrName`, else the one named so (two indexed lookups, not a list of the fleet). */
  async findInfra(idOrName: string): Promise<InfraView | undefined> {
    const infra = (await this.#store.infraById(idOrName)) ?? (await this.#store.infraByName(idOrName));
    return infra && this.#infraView(infra);
  }

  #infraView(i: InfraRecord): InfraView {
    const now = this.#options.now();
    return {
      id: i.id,
      name: i.name,
      state: i.lastSeen === undefined ? 'NEVER_SEEN' : now - i.lastSeen <= this.#options.connectedWithinMs ? 'CONNECTED' : 'DISCONNECTED',
      ...(i.lastSeen === undefined ? {} : { lastSeen: new Date(i.lastSeen).toISOString() }),
      ...(i.agentVersion === undefined ? {} : { agentVersion: i.agentVersion }),
      ...(i.hostname === undefined ? {} : { hostname: i.hostname }),
      capabilities: i.capabilities,
      keyRotation: i.pendingKey ? 'awaiting confirmation' : i.rotationRequested ? 'requested' : 'none',
      ...(i.binding
        ? {
            binding: {
              hostname: i.binding.hostname,
              agentId: i.binding.agentId,
              agentIdPrefix: agentIdPrefix(i.binding.agentId),
              ...(i.binding.machineId === undefined ? {} : { machineId: i.binding.machineId }),
              since: new Date(i.binding.since).toISOString(),
            },
          }
        : {}),
    };
  }

  /**
   * Unbinds `name` from its agent instance, so the next agent to exchange a token (a
   * re-installed machine) binds it. Returns the binding it had, undefined if none.
   */
  async releaseAgent(name: string): Promise<BindingView | undefined> {
    return this.#store.transaction(async (store) => {
      const infra = await this.#infra(name, store);
      await store.lockInfra(infra.id);
      const view = this.#infraView((await store.infraById(infra.id)) ?? infra).binding;
      return (await store.releaseAgent(infra.id)) ? view : undefined;
    });
  }

  /**
   * Admits `agent` on `infraId`: binds an unbound infrastructure to it, and throws
   * AgentBindingConflict (HTTP 409) if another instance is bound. No identity (faultd before
   * the binding): admitted while the infrastructure is unbound, refused once it is bound (else
   * a copied key in an older agent would sidestep the binding).
   */
  async #admitAgent(store: HubStore, infraId: string, agent: AgentIdentity | undefined): Promise<void> {
    if (!agent) {
      const infra = await store.infraById(infraId);
      if (infra?.binding) throw identityLessConflict(infra, infra.binding);
      return;
    }
    for (let attempt = 0; attempt < 3; attempt += 1) {
      const infra = await store.infraById(infraId);
      if (!infra) return;
      if (infra.binding) {
        if (isBoundAgent(infra.binding, agent)) return;
        throw bindingConflict(infra, infra.binding, agent);
      }
      // Conditional in the store: of two agents binding at once, the first wins; read again.
      if (await store.bindAgent(infraId, bindingOf(agent, this.#options.now()))) return;
    }
    // Bound and released over and over while we looked: refuse rather than admit unbound.
    throw new AgentBindingConflict(`the binding of infrastructure ${infraId} kept changing; try again`);
  }

  /**
   * Exchanges an access key for a token. The current key and an unconfirmed rotated key both
   * work, so an agent that crashed between receiving and storing a new key is never locked out.
   * While a rotation is open, every exchange with the current key gets the same new key, until
   * it is confirmed: overlapping exchanges (a retry while the first answer is in flight) cannot
   * leave the agent holding a key a later exchange replaced. An exchange with the pending key
   * proves the agent stored it: the pending key becomes the key then, as a confirmation would
   * make it, and no new rotation starts (else a lost answer would leave the agent holding a key
   * the hub had already replaced).
   */
  async exchangeToken(request: TokenRequest): Promise<TokenResponse | undefined> {
    const known = await this.#store.infraById(request.infraId);
    if (!known) return undefined;
    // The key is checked outside the transaction (a key of an earlier faultd takes tens of ms of
    // scrypt); the transaction then checks that the key it matched is still the current or the
    // pending one.
    const matchesCurrent = await keyMatches(request.accessKey, known.key);
    const matchesPending = !matchesCurrent && known.pendingKey !== undefined && (await keyMatches(request.accessKey, known.pendingKey));
    if (!matchesCurrent && !matchesPending) return undefined;
    const matched = matchesCurrent ? known.key : known.pendingKey;
    return this.#store.transaction(async (store) => {
      await store.lockInfra(request.infraId);
      let infra = await store.infraById(request.infraId);
      if (!infra || !matched) return undefined;
      const stillCurrent = sameKey(infra.key, matched);
      const stillPending = infra.pendingKey !== undefined && sameKey(infra.pendingKey, matched);
      // Replaced while the key was checked (a confirmation by another exchange made the pending key the key: still valid).
      if (!stillCurrent && !stillPending) return undefined;
      // Before the rotation is confirmed: an agent without identity on a bound infrastructure must
      // not complete (and so clear the binding of) a rotation meant for the bound agent.
      if (!request.agent && infra.binding) throw identityLessConflict(infra, infra.binding);
      if (stillPending && infra.pendingKey) {
        await store.confirmPendingKey(infra.id, infra.pendingKey.rotationId);
        infra = await store.infraById(request.infraId);
        if (!infra) return undefined;
      }
      // Checked after the key: an unknown caller learns nothing of the binding.
      await this.#admitAgent(store, infra.id, request.agent);
      const now = this.#options.now();
      await store.pruneTokens(now);
      const accessToken = newAccessToken();
      const expiresAt = now + this.#options.tokenTtlSeconds * 1000;
      await store.addToken(tokenHash(accessToken), { infraId: infra.id, expiresAt, ...(request.agent ? { agentId: request.agent.id } : {}) });
      const response: TokenResponse = { accessToken, expiresAt: new Date(expiresAt).toISOString(), ttlSeconds: this.#options.tokenTtlSeconds };
      const rotation = await this.#rotation(store, infra, request.accessKey);
      return rotation ? { ...response, rotation } : response;
    });
  }

  /**
   * The rotated key to hand out with a token, if a rotation is open: the pending one when it
   * was sealed with `presentedKey` (the current key), else a new one, recorded only if no other
   * exchange recorded one meanwhile (checked by the store; that one is handed out then).
   */
  async #rotation(store: HubStore, infra: InfraRecord, presentedKey: string): Promise<TokenResponse['rotation']> {
    let current: InfraRecord | undefined = infra;
    for (let attempt = 0; current && attempt < 3; attempt += 1, current = await store.infraById(infra.id)) {
      if (!current.rotationRequested && !current.pendingKey) return undefined;
      const pending = current.pendingKey;
      const resent = pending?.sealed && openPendingKey(pending.sealed, presentedKey);
      if (pending && resent) return { rotationId: pending.rotationId, newAccessKey: resent };
      // No pending key, or one this key cannot open (recorded by a hub before schema version 2):
      // a new one replaces it.
      const newKey = newAccessKey();
      const rotationId = newId('rot_');
      if (await store.setPendingKey(infra.id, { ...hashKey(newKey), rotationId, sealed: sealPendingKey(newKey, presentedKey) }, pending?.rotationId)) {
        return { rotationId, newAccessKey: newKey };
      }
    }
    return undefined;
  }

  /**
   * The infrastructure a bearer token belongs to, if the token is known and not expired. A token
   * handed to an identified agent works only while that agent is the bound one: after a release
   * or a rotation its agent gets 401, exchanges again and is bound or refused. A token handed to
   * an agent without identity stops working once the infrastructure is bound.
   */
  async authenticate(token: string): Promise<string | undefined> {
    const record = await this.#store.token(tokenHash(token));
    if (!record || record.expiresAt <= this.#options.now()) return undefined;
    // Bound: only the bound agent's tokens. Unbound: only tokens of no agent (a released one's fail).
    if (record.boundAgentId !== undefined ? record.boundAgentId !== record.agentId : record.agentId !== undefined) return undefined;
    return record.infraId;
  }

  confirmKey(infraId: string, rotationId: string): Promise<boolean> {
    return this.#store.confirmPendingKey(infraId, rotationId);
  }

  /** Records a heartbeat; throws AgentBindingConflict (409) when another agent instance is bound. */
  async heartbeat(infraId: string, request: HeartbeatRequest): Promise<HeartbeatResponse> {
    // Not durable: a heartbeat lost to a power cut is replaced by the next one (10 s later), and
    // waiting for the disk on each would bound a fleet's heartbeats by the disk's sync rate.
    const now = this.#options.now();
    const info = { version: request.agentVersion, hostname: request.hostname, capabilities: request.capabilities };
    // Almost every heartbeat comes from the agent the infrastructure is bound to: one store call.
    // The first one of an agent (it binds) or one from another instance (refused) goes the long way.
    const abort =
      (await this.#store.recordAdmittedHeartbeat(infraId, request.agent, now, info)) ??
      (await this.#store.transaction(async (store) => {
        await this.#admitAgent(store, infraId, request.agent);
        await store.recordHeartbeat(infraId, now, info);
        return store.abortRequested(infraId);
      }, { durable: false }));
    // A run the hub has already closed (hub abort --force) but its agent still executes: stop it.
    const executing = request.runId === undefined ? undefined : await this.#store.run(request.runId);
    if (executing && executing.infraId === infraId && (executing.state === 'finished' || executing.state === 'cancelled') && !abort.includes(executing.id)) abort.push(executing.id);
    return { serverTime: new Date(now).toISOString(), abort };
  }

  /**
   * Why the hub wants run `runId` of `infraId` aborted (an operator's abort, or the run closed
   * without its agent), or undefined while it may go on. A run of another infrastructure is
   * not found.
   */
  async abortReason(infraId: string, runId: string): Promise<string | undefined> {
    const run = await this.#store.run(runId);
    if (!run || run.infraId !== infraId) throw new RunCallError('NOT_FOUND', `no run ${runId} for this infrastructure`);
    if (run.state === 'finished' || run.state === 'cancelled') return `the run is already ${run.state} on the hub`;
    return run.abortRequested ? 'aborted from the hub' : undefined;
  }

  /** Queues an experiment for the infrastructure named `infraName`; runs start one at a time, in order. */
  async queueRun(infraName: string, experiment: unknown): Promise<RunRecord> {
    const checked = QueuedExperiment.safeParse(experiment);
    const run = await this.#store.transaction(async (store) => {
      const infra = await this.#infra(infraName, store);
      if (!checked.success) throw new FaultdError('FAULTD_ERR_HUB_INPUT', `not a faultd/v1 experiment: ${checked.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
      const id = newId('run_');
      await store.addRun({ id, infraId: infra.id, experiment: JSON.stringify(experiment), queuedAt: this.#options.now() });
      const queued = await store.run(id);
      if (!queued) throw new Error(`run ${id} vanished`);
      return queued;
    });
    this.#runsChanged(run.infraId);
    return run;
  }

  /**
   * The next run for the agent of `infraId`, marked dispatched; none while another one is out.
   * `polledAt` is when the agent's poll arrived: a run dispatched `lostDispatchMs` before it and
   * never reported on was lost by an agent that stopped before recording it, and is closed as
   * `interrupted` so that the queue moves on.
   */
  async nextTask(infraId: string, polledAt = this.#options.now()): Promise<TaskResponse | undefined> {
    await this.#closeLostDispatches(infraId, polledAt);
    // Most polls find nothing: a plain read answers them without taking the write lock.
    if (!(await this.#store.hasQueued(infraId))) return undefined;
    const run = await this.#store.dispatchNext(infraId, this.#options.now());
    if (!run) return undefined;
    return { task: { runId: run.id, experiment: JSON.parse(run.experiment) as unknown, queuedAt: new Date(run.queuedAt).toISOString() } };
  }

  async #closeLostDispatches(infraId: string, polledAt: number): Promise<void> {
    for (const run of await this.#store.unreportedDispatches(infraId, polledAt - this.#options.lostDispatchMs)) {
      const seconds = Math.round((polledAt - (run.dispatchedAt ?? polledAt)) / 1000);
      const reason =
        `lost: the agent asked for new work ${seconds} s after receiving this run and never reported on it ` +
        '(it stopped before recording the run); faultd reverts what its ledger holds when it starts, see the agent log';
      // Conditional in the store: a status or result arriving meanwhile wins.
      if (await this.#store.closeRun(run.id, { verdict: 'interrupted', reason, faults: [] }, this.#options.now(), { unreportedOnly: true })) this.#runsChanged(infraId);
    }
  }

  /**
   * Closes, as `interrupted`, every dispatched or running run whose infrastructure has been
   * silent (no heartbeat) for `silentRunMs`, so a host that is gone for good does not hold its
   * queue until `hub abort --force`. Returns the ids closed. `hub serve` calls it every minute.
   */
  async closeSilentRuns(): Promise<string[]> {
    const now = this.#options.now();
    const closed: string[] = [];
    for (const run of await this.#store.unfinishedRuns()) {
      const lastSeen = (await this.#store.infraById(run.infraId))?.lastSeen ?? run.dispatchedAt ?? run.queuedAt;
      const silentMs = now - Math.max(lastSeen, run.dispatchedAt ?? 0);
      if (silentMs < this.#options.silentRunMs) continue;
      const reason =
        `lost: no heartbeat from its agent for ${Math.round(silentMs / 60_000)} min; an agent that was only cut off ` +
        'has aborted and reverted on its own (disconnectTimeout), a host that is gone reverts at its next start';
      if (await this.#store.closeRun(run.id, { verdict: 'interrupted', reason, faults: [] }, now)) {
        closed.push(run.id);
        this.#runsChanged(run.infraId);
      }
    }
    return closed;
  }

  async requestAbort(runId: string): Promise<'cancelled' | 'requested' | 'finished'> {
    const { outcome, infraId } = await this.#store.transaction(async (store) => {
      const run = await store.run(runId);
      if (!run) throw new FaultdError('FAULTD_ERR_HUB_INPUT', `no run ${runId} (see faultd hub runs)`);
      return { outcome: await store.requestAbort(runId, this.#options.now()), infraId: run.infraId };
    });
    this.#runsChanged(infraId);
    return outcome;
  }

  /**
   * Ends a dispatched or running run without its agent (verdict `aborted`, with `reason`), so the
   * infrastructure's queue moves on. False when the run had already ended or was still queued.
   */
  async closeRun(runId: string, reason: string): Promise<boolean> {
    const { closed, infraId } = await this.#store.transaction(async (store) => {
      const run = await store.run(runId);
      if (!run) throw new FaultdError('FAULTD_ERR_HUB_INPUT', `no run ${runId} (see faultd hub runs)`);
      if (run.state === 'queued') throw new FaultdError('FAULTD_ERR_HUB_INPUT', `run ${runId} is still queued: abort it without --force`);
      // Conditional in the store: a result arriving meanwhile is not overwritten.
      return { closed: await store.closeRun(runId, { verdict: 'aborted', reason, faults: [] }, this.#options.now()), infraId: run.infraId };
    });
    if (closed) this.#runsChanged(infraId);
    return closed;
  }

  /**
   * Stores status events (a numbered one once); returns the acknowledged prefix of their
   * numbers. Accepted after the result too, like logs: events delivered late are not lost.
   */
  async reportStatus(infraId: string, runId: string, request: StatusRequest): Promise<number> {
    return this.#store.transaction(async (store) => {
      await this.#ownRun(store, infraId, runId, false);
      return store.addStatus(runId, request.events);
    });
  }

  async reportLogs(infraId: string, runId: string, request: LogsRequest): Promise<number> {
    // Logs are accepted after the result too: a reconnecting agent sends what it buffered.
    return this.#store.transaction(async (store) => {
      await this.#ownRun(store, infraId, runId, false);
      return store.addLogs(runId, request.entries);
    });
  }

  async reportResult(infraId: string, runId: string, request: ResultRequest): Promise<void> {
    await this.#store.transaction(async (store) => {
      const run = await this.#ownRun(store, infraId, runId, true);
      // Conditional in the store: on PostgreSQL another delivery of the result, or a close, may
      // have ended the run since #ownRun read it (READ COMMITTED); that call was the one stored.
      if (!(await store.setResult(runId, request, this.#options.now()))) throw new RunCallError('CONFLICT', `run ${runId} is already ${(await store.run(runId))?.state ?? run.state}`);
    });
    this.#runsChanged(infraId); // the infrastructure's next queued run may start now
  }

  /**
   * Calls `listener` when the runs of infrastructure `infraId` (of any, without it) may have
   * changed: in this process (queued, aborted, finished) or in another process or hub replica
   * writing to the store (`faultd hub abort` and `hub run` are other processes), as the
   * store's `watchRuns` tells: an abort reaches a held abort call (and so the agent) within the
   * store's watch delay (SQLite: RUNS_WATCH_MS; PostgreSQL: a NOTIFY). A change wakes only the
   * listeners of its infrastructure, so a run queued in a fleet of thousands of held long-polls
   * wakes one. Returns the unsubscribe function.
   */
  onRunsChanged(listener: () => void, infraId?: string): () => void {
    const key = infraId ?? ANY_INFRA;
    const listeners = this.#listeners.get(key) ?? new Set();
    this.#listeners.set(key, listeners);
    listeners.add(listener);
    this.#unwatch ??= this.#store.watchRuns((changed) => this.#runsChanged(changed));
    return () => {
      listeners.delete(listener);
      if (listeners.size === 0 && this.#listeners.get(key) === listeners) this.#listeners.delete(key);
      if (this.#listeners.size === 0 && this.#unwatch) {
        this.#unwatch();
        this.#unwatch = undefined;
      }
    };
  }

  /** Wakes the listeners of `infraId` and those of any infrastructure; every listener without it. */
  #runsChanged(infraId: string | undefined): void {
    const woken = infraId === undefined ? [...this.#listeners.values()] : [this.#listeners.get(infraId), this.#listeners.get(ANY_INFRA)];
    for (const listeners of woken) for (const listener of [...(listeners ?? [])]) listener();
  }

  /** Newest first, at most `limit` (the store's default: 100). */
  async runs(infraName?: string, limit?: number): Promise<RunRecord[]> {
    return this.#store.listRuns(infraName ? (await this.#infra(infraName)).id : undefined, limit);
  }

  run(runId: string): Promise<RunRecord | undefined> {
    return this.#store.run(runId);
  }

  runLogs(runId: string, afterSeq: number, limit = 1000): Promise<LogEntry[]> {
    return this.#store.logs(runId, afterSeq, limit);
  }

  runStatus(runId: string): Promise<StoredStatus[]> {
    return this.#store.statusHistory(runId);
  }

  async infraName(infraId: string): Promise<string | undefined> {
    return (await this.#store.infraById(infraId))?.name;
  }

  async #ownRun(store: HubStore, infraId: string, runId: string, mustBeOpen: boolean): Promise<RunRecord> {
    const run = await store.run(runId);
    if (!run || run.infraId !== infraId) throw new RunCallError('NOT_FOUND', `no run ${runId} for this infrastructure`);
    if (mustBeOpen && (run.state === 'finished' || run.state === 'cancelled')) throw new RunCallError('CONFLICT', `run ${runId} is already ${run.state}`);
    if (run.state === 'queued') throw new RunCallError('CONFLICT', `run ${runId} was not handed to this agent`);
    return run;
  }

  async #infra(name: string, store: HubStore = this.#store): Promise<InfraRecord> {
    const infra = await store.infraByName(name);
    if (!infra) throw new FaultdError('FAULTD_ERR_HUB_INPUT', `no infrastructure named "${name}" (see faultd hub infra list)`);
    return infra;
  }
}

/** Whether two stored keys are the same one (same salt and hash). */
function sameKey(a: KeyHash, b: KeyHash): boolean {
  return a.salt.equals(b.salt) && a.hash.equals(b.hash);
}
