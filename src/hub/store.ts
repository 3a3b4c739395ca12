// SPDX-License-Identifier: Apache-2.0
/**
 * The hub's state behind one interface, so a fleet setup can swap SQLite (the default,
 * sqlite-store.ts) for a server database. Keys and tokens arrive here only as hashes.
 */
import type { LogEntry, ResultRequest, StatusRequest } from '../protocol/messages.js';
import type { KeyHash } from './credentials.js';

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

export interface HubStore {
  addInfra(infra: Pick<InfraRecord, 'id' | 'name' | 'createdAt' | 'key'>): void;
  infraById(id: string): InfraRecord | undefined;
  infraByName(name: string): InfraRecord | undefined;
  listInfras(): InfraRecord[];
  requestRotation(infraId: string): void;
  /**
   * Records the key handed out in a token response, only while the open rotation is still
   * `replaces` (none when absent): false when another exchange got there first.
   */
  setPendingKey(infraId: string, pending: PendingKey, replaces?: string): boolean;
  /**
   * The agent stored the pending key: it becomes the key; the old one stops working, and the
   * agent binding is cleared (the next identity to use the new key binds).
   */
  confirmPendingKey(infraId: string, rotationId: string): boolean;
  /** Binds `infraId` to `binding`, only if it is unbound: false when another binding got there first. */
  bindAgent(infraId: string, binding: AgentBinding): boolean;
  /** Clears the binding of `infraId`; false if it had none. */
  releaseAgent(infraId: string): boolean;
  recordHeartbeat(infraId: string, at: number, agent: { version: string; hostname: string; capabilities: readonly string[] }): void;
  addToken(hash: string, token: TokenRecord): void;
  token(hash: string): TokenRecord | undefined;
  /** Drops expired tokens; returns how many. */
  pruneTokens(now: number): number;
  addRun(run: Pick<RunRecord, 'id' | 'infraId' | 'experiment' | 'queuedAt'>): void;
  run(id: string): RunRecord | undefined;
  /** Newest first; all infrastructures when `infraId` is absent. */
  listRuns(infraId?: string, limit?: number): RunRecord[];
  /**
   * Hands the oldest queued run of `infraId` to its agent, unless one is already dispatched or
   * running (one experiment at a time per infrastructure). Atomic.
   */
  dispatchNext(infraId: string, at: number): RunRecord | undefined;
  /** A cheap read: is any run of `infraId` queued? (Long-polls ask this before dispatchNext.) */
  hasQueued(infraId: string): boolean;
  /** Every dispatched or running run (a read). */
  unfinishedRuns(): RunRecord[];
  /** Runs of `infraId` dispatched at or before `cutoff` that its agent never reported on (a read). */
  unreportedDispatches(infraId: string, cutoff: number): RunRecord[];
  /** A queued run is cancelled at once; a dispatched or running one is marked for abort. */
  requestAbort(runId: string, at: number): 'cancelled' | 'requested' | 'finished';
  abortRequested(infraId: string): string[];
  /**
   * Stores status events: a numbered one once (a resent seq is ignored), one without `seq` as
   * it comes. Returns the highest seq with every seq below it stored (or covered by a span).
   */
  addStatus(runId: string, events: StatusRequest['events']): number;
  /** Unnumbered events in arrival order, then numbered ones in seq order. */
  statusHistory(runId: string): StoredStatus[];
  /** Stores new entries (duplicates ignored); returns the highest seq with every seq below it stored. */
  addLogs(runId: string, entries: readonly LogEntry[]): number;
  logs(runId: string, afterSeq: number, limit: number): LogEntry[];
  setResult(runId: string, result: ResultRequest, at: number): void;
  /**
   * Ends a dispatched or running run with `result` and marks it for abort (its agent, if alive,
   * reverts at its next heartbeat), atomically: false if it had ended or was still queued, or
   * with `unreportedOnly`, if its agent had reported on it.
   */
  closeRun(runId: string, result: ResultRequest, at: number, options?: { unreportedOnly?: boolean }): boolean;
  /**
   * A number that changes when another process (e.g. `faultd hub run`) has written to the
   * store since the last call; waiting long-polls recheck their queue only when it moves.
   */
  externalVersion(): number;
  close(): void;
}
