// SPDX-License-Identifier: Apache-2.0
/**
 * The hub's state behind one asynchronous interface: SQLite (the default, sqlite-store.ts) or
 * PostgreSQL (postgres-store.ts, for several hub replicas). Both are sql-store.ts with their own
 * driver: a new method is written once there, with `?` placeholders, and its table comes with
 * a migration in migrations.ts (one SQL text per dialect). Keys and tokens arrive here only as
 * hashes.
 */
import type { AgentIdentity, LogEntry, ResultRequest, StatusRequest } from '../protocol/messages.js';
import type { KeyHash } from './credentials.js';
import type { OperatorStore } from './operators/operator-store.js';
import type { TransactionOptions } from './sql-driver.js';

export interface InfraRecord {
  readonly id: string;
  readonly name: string;
  readonly createdAt: number;
  readonly key: KeyHash;
  /**
   * A rotated key handed to the agent and not yet confirmed; both keys are valid meanwhile.
   * `sealed` is the key itself sealed with the current key (credentials.ts sealPendingKey), so
   * every exchange with the current key hands out the same one; absent in rotations a hub
   * before schema version 2 opened.
   */
  readonly pendingKey?: PendingKey;
  /** `rotate-key` was asked; the next token exchange hands out a new key. */
  readonly rotationRequested: boolean;
  readonly lastSeen?: number;
  readonly agentVersion?: string;
  readonly hostname?: string;
  readonly capabilities: readonly string[];
  /** The agent instance this infrastructure is bound to (agent-binding.ts); absent while unbound. */
  readonly binding?: AgentBinding;
}

/** An agent instance an infrastructure is bound to, and since when (ms since the epoch). */
export interface AgentBinding {
  readonly agentId: string;
  readonly machineId?: string;
  readonly hostname: string;
  readonly since: number;
}

export interface PendingKey extends KeyHash {
  readonly rotationId: string;
  readonly sealed?: Buffer;
}

/** What a heartbeat says of its agent. */
export interface HeartbeatInfo {
  readonly version: string;
  readonly hostname: string;
  readonly capabilities: readonly string[];
}

export interface TokenRecord {
  readonly infraId: string;
  readonly expiresAt: number;
  /** The agent instance the token was handed to; absent for agents that send no identity. */
  readonly agentId?: string;
}

export type RunState = 'queued' | 'dispatched' | 'running' | 'finished' | 'cancelled';

export interface RunRecord {
  readonly id: string;
  readonly infraId: string;
  /** The experiment as JSON text. */
  readonly experiment: string;
  readonly state: RunState;
  readonly queuedAt: number;
  readonly dispatchedAt?: number;
  readonly finishedAt?: number;
  readonly abortRequested: boolean;
  readonly result?: ResultRequest;
}

export interface StoredStatus {
  /** The agent's number for the event; absent from agents before 2026-12. */
  readonly seq?: number;
  readonly at: string;
  readonly faultId?: string;
  readonly phase: string;
  readonly detail?: string;
}

/**
 * Told that runs changed: those of infrastructure `infraId`, or of any infrastructure when it is
 * undefined (a change the watcher cannot attribute, e.g. SQLite's data_version moving).
 */
export type RunsListener = (infraId: string | undefined) => void;

export interface HubStore {
  /** Adds an infrastructure; false (nothing added) when one of that name exists, also one added meanwhile by another connection. */
  addInfra(infra: Pick<InfraRecord, 'id' | 'name' | 'createdAt' | 'key'>): Promise<boolean>;
  infraById(id: string): Promise<InfraRecord | undefined>;
  infraByName(name: string): Promise<InfraRecord | undefined>;
  listInfras(): Promise<InfraRecord[]>;
  /**
   * Inside a transaction: holds back every other transaction that locks or changes `infraId`
   * until this one ends (a row lock on PostgreSQL; SQLite's write transaction already does).
   */
  lockInfra(infraId: string): Promise<void>;
  requestRotation(infraId: string): Promise<void>;
  /**
   * Records the key handed out in a token response, only while the open rotation is still
   * `replaces` (none when absent): false when another exchange got there first.
   */
  setPendingKey(infraId: string, pending: PendingKey, replaces?: string): Promise<boolean>;
  /**
   * The agent stored the pending key: it becomes the key; the old one stops working, and the
   * agent binding is cleared (the next identity to use the new key binds).
   */
  confirmPendingKey(infraId: string, rotationId: string): Promise<boolean>;
  /** Binds `infraId` to `binding`, only if it is unbound: false when another binding got there first. */
  bindAgent(infraId: string, binding: AgentBinding): Promise<boolean>;
  /** Clears the binding of `infraId`; false if it had none. */
  releaseAgent(infraId: string): Promise<boolean>;
  recordHeartbeat(infraId: string, at: number, agent: HeartbeatInfo): Promise<void>;
  /**
   * The common heartbeat in one go: records it if the infrastructure's binding admits `agent` as
   * it stands (bound to that instance; or unbound, for an agent without identity) and answers the
   * ids of its runs to abort; undefined, with nothing written, when it does not (the caller then
   * binds or refuses the agent). Not durable (see TransactionOptions). One statement on PostgreSQL.
   */
  recordAdmittedHeartbeat(infraId: string, agent: Pick<AgentIdentity, 'id' | 'machineId'> | undefined, at: number, info: HeartbeatInfo): Promise<string[] | undefined>;
  addToken(hash: string, token: TokenRecord): Promise<void>;
  /** The token, with the agent its infrastructure is bound to now (one lookup: every agent call makes it). */
  token(hash: string): Promise<(TokenRecord & { readonly boundAgentId?: string }) | undefined>;
  /** Drops expired tokens; returns how many. */
  pruneTokens(now: number): Promise<number>;
  addRun(run: Pick<RunRecord, 'id' | 'infraId' | 'experiment' | 'queuedAt'>): Promise<void>;
  run(id: string): Promise<RunRecord | undefined>;
  /** Newest first; all infrastructures when `infraId` is absent. */
  listRuns(infraId?: string, limit?: number): Promise<RunRecord[]>;
  /**
   * Hands the oldest queued run of `infraId` to its agent, unless one is already dispatched or
   * running (one experiment at a time per infrastructure). Atomic, also between hub replicas
   * on one PostgreSQL: a run is handed out once.
   */
  dispatchNext(infraId: string, at: number): Promise<RunRecord | undefined>;
  /** A cheap read: is any run of `infraId` queued? (Long-polls ask this before dispatchNext.) */
  hasQueued(infraId: string): Promise<boolean>;
  /** Every dispatched or running run (a read). */
  unfinishedRuns(): Promise<RunRecord[]>;
  /** Runs of `infraId` dispatched at or before `cutoff` that its agent never reported on (a read). */
  unreportedDispatches(infraId: string, cutoff: number): Promise<RunRecord[]>;
  /** A queued run is cancelled at once; a dispatched or running one is marked for abort. */
  requestAbort(runId: string, at: number): Promise<'cancelled' | 'requested' | 'finished'>;
  abortRequested(infraId: string): Promise<string[]>;
  /**
   * Stores status events: a numbered one once (a resent seq is ignored), one without `seq` as
   * it comes. Returns the highest seq with every seq below it stored (or covered by a span).
   */
  addStatus(runId: string, events: StatusRequest['events']): Promise<number>;
  /** Unnumbered events in arrival order, then numbered ones in seq order. */
  statusHistory(runId: string): Promise<StoredStatus[]>;
  /** Stores new entries (duplicates ignored); returns the highest seq with every seq below it stored. */
  addLogs(runId: string, entries: readonly LogEntry[]): Promise<number>;
  logs(runId: string, afterSeq: number, limit: number): Promise<LogEntry[]>;
  /** Ends a dispatched or running run with `result`; false (nothing changed) when it had ended, also meanwhile through another connection. */
  setResult(runId: string, result: ResultRequest, at: number): Promise<boolean>;
  /**
   * Ends a dispatched or running run with `result` and marks it for abort (its agent, if alive,
   * reverts at its next heartbeat), atomically: false if it had ended or was still queued, or
   * with `unreportedOnly`, if its agent had reported on it.
   */
  closeRun(runId: string, result: ResultRequest, at: number, options?: { unreportedOnly?: boolean }): Promise<boolean>;
  /**
   * Runs `fn` on a store whose calls all belong to one transaction: committed when `fn`
   * resolves, rolled back when it throws. Inside `fn`, use only the store it is given. Keep it
   * short (no slow hashing, no network): on SQLite it holds the database's write lock.
   */
  transaction<T>(fn: (store: HubStore) => Promise<T>, options?: TransactionOptions): Promise<T>;
  /**
   * Calls `listener` when another process or hub replica may have queued, aborted or ended a
   * run (changes made through this store object are announced by its caller, HubService).
   * SQLite: a `PRAGMA data_version` check every `RUNS_WATCH_MS` while anyone watches (the
   * infrastructure is not known: undefined); PostgreSQL: LISTEN/NOTIFY, the notification
   * naming the run's infrastructure. Returns the function that stops watching.
   */
  watchRuns(listener: RunsListener): () => void;
  /** The operator side (accounts, sessions, API tokens, audit log, experiment library) on the same database. */
  operators(): OperatorStore;
  close(): Promise<void>;
}
