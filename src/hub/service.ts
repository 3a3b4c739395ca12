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
import type { HubStore, InfraRecord, RunRecord } from './store.js';
import { steadyWallClock } from '../monotonic.js';

/** What the hub checks of a queued experiment; the agent validates it fully against its host. */
const QueuedExperiment = z.looseObject({ apiVersion: z.literal('faultd/v1'), kind: z.literal('Experiment') });

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

/** How often held calls look for changes made by another process (see onRunsChanged). */
export const RUNS_WATCH_MS = 25;

export class HubService {
  readonly #store: HubStore;
  readonly #listeners = new Set<() => void>();
  #watch: NodeJS.Timeout | undefined;
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
  createInfra(name: string): { id: string; accessKey: string } {
    if (!INFRA_NAME.test(name)) {
      throw new FaultdError('FAULTD_ERR_HUB_INPUT', `infrastructure name "${name}" must be 1–63 of a-z, 0-9, ".", "_", "-", starting with a letter or digit`);
    }
    if (this.#store.infraByName(name)) throw new FaultdError('FAULTD_ERR_HUB_INPUT', `infrastructure "${name}" already exists`);
    const accessKey = newAccessKey();
    const id = newId('inf_');
    this.#store.addInfra({ id, name, createdAt: this.#options.now(), key: hashKey(accessKey) });
    return { id, accessKey };
  }

  /**
   * Asks for a new key for `name`; the agent receives it with its next token. A rotation already
   * awaiting confirmation keeps its key: the agent may have stored it in place of the old one.
   */
  rotateKey(name: string): InfraRecord {
    const infra = this.#infra(name);
    this.#store.requestRotation(infra.id);
    return infra;
  }

  listInfras(): InfraView[] {
    const now = this.#options.now();
    return this.#store.listInfras().map((i) => ({
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
    }));
  }

  /**
   * Unbinds `name` from its agent instance, so the next agent to exchange a token (a
   * re-installed machine) binds it. Returns the binding it had, undefined if none.
   */
  releaseAgent(name: string): BindingView | undefined {
    const infra = this.#infra(name);
    const view = this.listInfras().find((i) => i.id === infra.id)?.binding;
    return this.#store.releaseAgent(infra.id) ? view : undefined;
  }

  /**
   * Admits `agent` on `infraId`: binds an unbound infrastructure to it, and throws
   * AgentBindingConflict (HTTP 409) if another instance is bound. No identity (faultd before
   * the binding): admitted while the infrastructure is unbound, refused once it is bound (else
   * a copied key in an older agent would sidestep the binding).
   */
  #admitAgent(infraId: string, agent: AgentIdentity | undefined): void {
    if (!agent) {
      const infra = this.#store.infraById(infraId);
      if (infra?.binding) throw identityLessConflict(infra, infra.binding);
      return;
    }
    for (let attempt = 0; attempt < 3; attempt += 1) {
      const infra = this.#store.infraById(infraId);
      if (!infra) return;
      if (infra.binding) {
        if (isBoundAgent(infra.binding, agent)) return;
        throw bindingConflict(infra, infra.binding, agent);
      }
      // Conditional in the store: of two agents binding at once, the first wins; read again.
      if (this.#store.bindAgent(infraId, bindingOf(agent, this.#options.now()))) return;
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
    const known = this.#store.infraById(request.infraId);
    if (!known) return undefined;
    const matchesCurrent = await keyMatches(request.accessKey, known.key);
    const matchesPending = !matchesCurrent && known.pendingKey !== undefined && (await keyMatches(request.accessKey, known.pendingKey));
    if (!matchesCurrent && !matchesPending) return undefined;
    // Before the rotation is confirmed: an agent without identity on a bound infrastructure must
    // not complete (and so clear the binding of) a rotation meant for the bound agent.
    if (!request.agent && known.binding) throw identityLessConflict(known, known.binding);
    // Conditional on the rotation id: a rotation that changed while scrypt ran is left alone.
    if (matchesPending && known.pendingKey) this.#store.confirmPendingKey(known.id, known.pendingKey.rotationId);
    // Read again: another exchange may have changed the rotation state while scrypt ran.
    const infra = this.#store.infraById(request.infraId);
    if (!infra) return undefined;
    // Checked after the key: an unknown caller learns nothing of the binding.
    this.#admitAgent(infra.id, request.agent);
    const now = this.#options.now();
    this.#store.pruneTokens(now);
    const accessToken = newAccessToken();
    const expiresAt = now + this.#options.tokenTtlSeconds * 1000;
    this.#store.addToken(tokenHash(accessToken), { infraId: infra.id, expiresAt, ...(request.agent ? { agentId: request.agent.id } : {}) });
    const response: TokenResponse = { accessToken, expiresAt: new Date(expiresAt).toISOString(), ttlSeconds: this.#options.tokenTtlSeconds };
    const rotation = this.#rotation(infra, request.accessKey);
    return rotation ? { ...response, rotation } : response;
  }

  /**
   * The rotated key to hand out with a token, if a rotation is open: the pending one when it
   * was sealed with `presentedKey` (the current key), else a new one, recorded only if no other
   * exchange recorded one meanwhile (checked by the store; that one is handed out then).
   */
  #rotation(infra: InfraRecord, presentedKey: string): TokenResponse['rotation'] {
    let current: InfraRecord | undefined = infra;
    for (let attempt = 0; current && attempt < 3; attempt += 1, current = this.#store.infraById(infra.id)) {
      if (!current.rotationRequested && !current.pendingKey) return undefined;
      const pending = current.pendingKey;
      const resent = pending?.sealed && openPendingKey(pending.sealed, presentedKey);
      if (pending && resent) return { rotationId: pending.rotationId, newAccessKey: resent };
      // No pending key, or one this key cannot open (recorded by a hub before schema version 2):
      // a new one replaces it.
      const newKey = newAccessKey();
      const rotationId = newId('rot_');
      if (this.#store.setPendingKey(infra.id, { ...hashKey(newKey), rotationId, sealed: sealPendingKey(newKey, presentedKey) }, pending?.rotationId)) {
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
  authenticate(token: string): string | undefined {
    const record = this.#store.token(tokenHash(token));
    if (!record || record.expiresAt <= this.#options.now()) return undefined;
    // Bound: only the bound agent's tokens. Unbound: only tokens of no agent (a released one's fail).
    const binding = this.#store.infraById(record.infraId)?.binding;
    if (binding ? binding.agentId !== record.agentId : record.agentId !== undefined) return undefined;
    return record.infraId;
  }

  confirmKey(infraId: string, rotationId: string): boolean {
    return this.#store.confirmPendingKey(infraId, rotationId);
  }

  /** Records a heartbeat; throws AgentBindingConflict (409) when another agent instance is bound. */
  heartbeat(infraId: string, request: HeartbeatRequest): HeartbeatResponse {
    this.#admitAgent(infraId, request.agent);
    const now = this.#options.now();
    this.#store.recordHeartbeat(infraId, now, { version: request.agentVersion, hostname: request.hostname, capabilities: request.capabilities });
    const abort = this.#store.abortRequested(infraId);
    // A run the hub has already closed (hub abort --force) but its agent still executes: stop it.
    const executing = request.runId === undefined ? undefined : this.#store.run(request.runId);
    if (executing && executing.infraId === infraId && (executing.state === 'finished' || executing.state === 'cancelled') && !abort.includes(executing.id)) abort.push(executing.id);
    return { serverTime: new Date(now).toISOString(), abort };
  }

  /**
   * Why the hub wants run `runId` of `infraId` aborted (an operator's abort, or the run closed
   * without its agent), or undefined while it may go on. A run of another infrastructure is
   * not found.
   */
  abortReason(infraId: string, runId: string): string | undefined {
    const run = this.#store.run(runId);
    if (!run || run.infraId !== infraId) throw new RunCallError('NOT_FOUND', `no run ${runId} for this infrastructure`);
    if (run.state === 'finished' || run.state === 'cancelled') return `the run is already ${run.state} on the hub`;
    return run.abortRequested ? 'aborted from the hub' : undefined;
  }

  /** Queues an experiment for the infrastructure named `infraName`; runs start one at a time, in order. */
  queueRun(infraName: string, experiment: unknown): RunRecord {
    const infra = this.#infra(infraName);
    const checked = QueuedExperiment.safeParse(experiment);
    if (!checked.success) throw new FaultdError('FAULTD_ERR_HUB_INPUT', `not a faultd/v1 experiment: ${checked.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    const id = newId('run_');
    this.#store.addRun({ id, infraId: infra.id, experiment: JSON.stringify(experiment), queuedAt: this.#options.now() });
    const run = this.#store.run(id);
    if (!run) throw new Error(`run ${id} vanished`);
    this.#runsChanged();
    return run;
  }

  /**
   * The next run for the agent of `infraId`, marked dispatched; none while another one is out.
   * `polledAt` is when the agent's poll arrived: a run dispatched `lostDispatchMs` before it and
   * never reported on was lost by an agent that stopped before recording it, and is closed as
   * `interrupted` so that the queue moves on.
   */
  nextTask(infraId: string, polledAt = this.#options.now()): TaskResponse | undefined {
    this.#closeLostDispatches(infraId, polledAt);
    // Most polls find nothing: a plain read answers them without taking the write lock.
    if (!this.#store.hasQueued(infraId)) return undefined;
    const run = this.#store.dispatchNext(infraId, this.#options.now());
    if (!run) return undefined;
    return { task: { runId: run.id, experiment: JSON.parse(run.experiment) as unknown, queuedAt: new Date(run.queuedAt).toISOString() } };
  }

  #closeLostDispatches(infraId: string, polledAt: number): void {
    for (const run of this.#store.unreportedDispatches(infraId, polledAt - this.#options.lostDispatchMs)) {
      const seconds = Math.round((polledAt - (run.dispatchedAt ?? polledAt)) / 1000);
      const reason =
        `lost: the agent asked for new work ${seconds} s after receiving this run and never reported on it ` +
        '(it stopped before recording the run); faultd reverts what its ledger holds when it starts, see the agent log';
      // Conditional in the store: a status or result arriving meanwhile wins.
      if (this.#store.closeRun(run.id, { verdict: 'interrupted', reason, faults: [] }, this.#options.now(), { unreportedOnly: true })) this.#runsChanged();
    }
  }

  /**
   * Closes, as `interrupted`, every dispatched or running run whose infrastructure has been
   * silent (no heartbeat) for `silentRunMs`, so a host that is gone for good does not hold its
   * queue until `hub abort --force`. Returns the ids closed. `hub serve` calls it every minute.
   */
  closeSilentRuns(): string[] {
    const now = this.#options.now();
    const closed: string[] = [];
    for (const run of this.#store.unfinishedRuns()) {
      const lastSeen = this.#store.infraById(run.infraId)?.lastSeen ?? run.dispatchedAt ?? run.queuedAt;
      const silentMs = now - Math.max(lastSeen, run.dispatchedAt ?? 0);
      if (silentMs < this.#options.silentRunMs) continue;
      const reason =
        `lost: no heartbeat from its agent for ${Math.round(silentMs / 60_000)} min; an agent that was only cut off ` +
        'has aborted and reverted on its own (disconnectTimeout), a host that is gone reverts at its next start';
      if (this.#store.closeRun(run.id, { verdict: 'interrupted', reason, faults: [] }, now)) closed.push(run.id);
    }
    if (closed.length) this.#runsChanged();
    return closed;
  }

  requestAbort(runId: string): 'cancelled' | 'requested' | 'finished' {
    if (!this.#store.run(runId)) throw new FaultdError('FAULTD_ERR_HUB_INPUT', `no run ${runId} (see faultd hub runs)`);
    const outcome = this.#store.requestAbort(runId, this.#options.now());
    this.#runsChanged();
    return outcome;
  }

  /**
   * Ends a dispatched or running run without its agent (verdict `aborted`, with `reason`), so the
   * infrastructure's queue moves on. False when the run had already ended or was still queued.
   */
  closeRun(runId: string, reason: string): boolean {
    const run = this.#store.run(runId);
    if (!run) throw new FaultdError('FAULTD_ERR_HUB_INPUT', `no run ${runId} (see faultd hub runs)`);
    if (run.state === 'queued') throw new FaultdError('FAULTD_ERR_HUB_INPUT', `run ${runId} is still queued: abort it without --force`);
    // Conditional in the store: a result arriving meanwhile is not overwritten.
    const closed = this.#store.closeRun(runId, { verdict: 'aborted', reason, faults: [] }, this.#options.now());
    if (closed) this.#runsChanged();
    return closed;
  }

  /**
   * Stores status events (a numbered one once); returns the acknowledged prefix of their
   * numbers. Accepted after the result too, like logs: events delivered late are not lost.
   */
  reportStatus(infraId: string, runId: string, request: StatusRequest): number {
    this.#ownRun(infraId, runId, false);
    return this.#store.addStatus(runId, request.events);
  }

  reportLogs(infraId: string, runId: string, request: LogsRequest): number {
    // Logs are accepted after the result too: a reconnecting agent sends what it buffered.
    this.#ownRun(infraId, runId, false);
    return this.#store.addLogs(runId, request.entries);
  }

  reportResult(infraId: string, runId: string, request: ResultRequest): void {
    this.#ownRun(infraId, runId, true);
    this.#store.setResult(runId, request, this.#options.now());
    this.#runsChanged(); // the infrastructure's next queued run may start now
  }

  /**
   * Calls `listener` when the runs may have changed: in this process (queued, aborted,
   * finished) or, checked every `everyMs` while anyone listens, by another process writing to
   * the store (`faultd hub abort` and `hub run` are other processes). The check is one
   * `PRAGMA data_version`, so it is cheap enough to run often: an abort reaches a held abort
   * call (and so the agent) within `everyMs`. Returns the unsubscribe function.
   */
  onRunsChanged(listener: () => void, everyMs = RUNS_WATCH_MS): () => void {
    this.#listeners.add(listener);
    if (!this.#watch) {
      let version = this.#store.externalVersion();
      this.#watch = setInterval(() => {
        let now: number;
        try {
          now = this.#store.externalVersion();
        } catch {
          // The store was closed under a waiting poll (the hub is stopping).
          clearInterval(this.#watch);
          this.#watch = undefined;
          return;
        }
        if (now === version) return;
        version = now;
        this.#runsChanged();
      }, everyMs);
      this.#watch.unref();
    }
    return () => {
      this.#listeners.delete(listener);
      if (this.#listeners.size === 0 && this.#watch) {
        clearInterval(this.#watch);
        this.#watch = undefined;
      }
    };
  }

  #runsChanged(): void {
    for (const listener of [...this.#listeners]) listener();
  }

  runs(infraName?: string): RunRecord[] {
    return this.#store.listRuns(infraName ? this.#infra(infraName).id : undefined);
  }

  run(runId: string): RunRecord | undefined {
    return this.#store.run(runId);
  }

  runLogs(runId: string, afterSeq: number, limit = 1000): LogEntry[] {
    return this.#store.logs(runId, afterSeq, limit);
  }

  runStatus(runId: string) {
    return this.#store.statusHistory(runId);
  }

  infraName(infraId: string): string | undefined {
    return this.#store.infraById(infraId)?.name;
  }

  #ownRun(infraId: string, runId: string, mustBeOpen: boolean): RunRecord {
    const run = this.#store.run(runId);
    if (!run || run.infraId !== infraId) throw new RunCallError('NOT_FOUND', `no run ${runId} for this infrastructure`);
    if (mustBeOpen && (run.state === 'finished' || run.state === 'cancelled')) throw new RunCallError('CONFLICT', `run ${runId} is already ${run.state}`);
    if (run.state === 'queued') throw new RunCallError('CONFLICT', `run ${runId} was not handed to this agent`);
    return run;
  }

  #infra(name: string): InfraRecord {
    const infra = this.#store.infraByName(name);
    if (!infra) throw new FaultdError('FAULTD_ERR_HUB_INPUT', `no infrastructure named "${name}" (see faultd hub infra list)`);
    return infra;
  }
}
