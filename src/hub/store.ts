// SPDX-License-Identifier: Apache-2.0
/**
 * The hub's state behind one interface, so a fleet setup can swap SQLite (the default,
 * sqlite-store.ts) for a server database. Keys and tokens arrive here only as hashes.
 */
import type { KeyHash } from './credentials.js';

export interface InfraRecord {
  readonly id: string;
  readonly name: string;
  readonly createdAt: number;
  readonly key: KeyHash;
  /** A rotated key handed to the agent and not yet confirmed; both keys are valid meanwhile. */
  readonly pendingKey?: KeyHash & { readonly rotationId: string };
  /** `rotate-key` was asked; the next token exchange hands out a new key. */
  readonly rotationRequested: boolean;
  readonly lastSeen?: number;
  readonly agentVersion?: string;
  readonly hostname?: string;
  readonly capabilities: readonly string[];
}

export interface TokenRecord {
  readonly infraId: string;
  readonly expiresAt: number;
}

export interface HubStore {
  addInfra(infra: Pick<InfraRecord, 'id' | 'name' | 'createdAt' | 'key'>): void;
  infraById(id: string): InfraRecord | undefined;
  infraByName(name: string): InfraRecord | undefined;
  listInfras(): InfraRecord[];
  requestRotation(infraId: string): void;
  /** Records the key handed out in a token response (replacing an earlier unconfirmed one). */
  setPendingKey(infraId: string, pending: KeyHash & { rotationId: string }): void;
  /** The agent stored the pending key: it becomes the key; the old one stops working. */
  confirmPendingKey(infraId: string, rotationId: string): boolean;
  recordHeartbeat(infraId: string, at: number, agent: { version: string; hostname: string; capabilities: readonly string[] }): void;
  addToken(hash: string, token: TokenRecord): void;
  token(hash: string): TokenRecord | undefined;
  /** Drops expired tokens; returns how many. */
  pruneTokens(now: number): number;
  close(): void;
}
