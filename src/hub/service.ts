// SPDX-License-Identifier: Apache-2.0
/**
 * What the hub does, independent of HTTP: infrastructures and their keys, token exchange with
 * key rotation, token authentication, heartbeats. server.ts maps the protocol onto it; the CLI
 * (`faultd hub infra …`) calls it directly on the same store.
 */
import { FaultdError } from '../errors.js';
import type { HeartbeatRequest, HeartbeatResponse, TokenRequest, TokenResponse } from '../protocol/messages.js';
import { hashKey, keyMatches, newAccessKey, newAccessToken, newId, tokenHash } from './credentials.js';
import type { HubStore, InfraRecord } from './store.js';

export interface HubOptions {
  /** Access token lifetime (default 10 min). */
  readonly tokenTtlSeconds: number;
  /** An infrastructure is CONNECTED while its last heartbeat is younger than this. */
  readonly connectedWithinMs: number;
  readonly now: () => number;
}

export const DEFAULT_HUB_OPTIONS: HubOptions = { tokenTtlSeconds: 600, connectedWithinMs: 30_000, now: () => Date.now() };

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
}

export class HubService {
  readonly #store: HubStore;
  readonly #options: HubOptions;

  constructor(store: HubStore, options: Partial<HubOptions> = {}) {
    this.#store = store;
    this.#options = { ...DEFAULT_HUB_OPTIONS, ...options };
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

  /** Asks for a new key for `name`; the agent receives it with its next token. */
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
    }));
  }

  /**
   * Exchanges an access key for a token. The current key and an unconfirmed rotated key both
   * work, so an agent that crashed between receiving and storing a new key is never locked out.
   * While a rotation is open, every response carries a fresh new key (the latest one counts).
   */
  exchangeToken(request: TokenRequest): TokenResponse | undefined {
    const infra = this.#store.infraById(request.infraId);
    if (!infra) return undefined;
    const valid = keyMatches(request.accessKey, infra.key) || (infra.pendingKey !== undefined && keyMatches(request.accessKey, infra.pendingKey));
    if (!valid) return undefined;
    const now = this.#options.now();
    this.#store.pruneTokens(now);
    const accessToken = newAccessToken();
    const expiresAt = now + this.#options.tokenTtlSeconds * 1000;
    this.#store.addToken(tokenHash(accessToken), { infraId: infra.id, expiresAt });
    const response: TokenResponse = { accessToken, expiresAt: new Date(expiresAt).toISOString(), ttlSeconds: this.#options.tokenTtlSeconds };
    if (!infra.rotationRequested && !infra.pendingKey) return response;
    const newKey = newAccessKey();
    const rotationId = newId('rot_');
    this.#store.setPendingKey(infra.id, { ...hashKey(newKey), rotationId });
    return { ...response, rotation: { rotationId, newAccessKey: newKey } };
  }

  /** The infrastructure a bearer token belongs to, if the token is known and not expired. */
  authenticate(token: string): string | undefined {
    const record = this.#store.token(tokenHash(token));
    if (!record || record.expiresAt <= this.#options.now()) return undefined;
    return record.infraId;
  }

  confirmKey(infraId: string, rotationId: string): boolean {
    return this.#store.confirmPendingKey(infraId, rotationId);
  }

  heartbeat(infraId: string, request: HeartbeatRequest): HeartbeatResponse {
    const now = this.#options.now();
    this.#store.recordHeartbeat(infraId, now, { version: request.agentVersion, hostname: request.hostname, capabilities: request.capabilities });
    return { serverTime: new Date(now).toISOString(), abort: [] };
  }

  #infra(name: string): InfraRecord {
    const infra = this.#store.infraByName(name);
    if (!infra) throw new FaultdError('FAULTD_ERR_HUB_INPUT', `no infrastructure named "${name}" (see faultd hub infra list)`);
    return infra;
  }
}
