// SPDX-License-Identifier: Apache-2.0
/**
 * The operator API (/api/v1, shared/operator-api-contract): its shapes as the console reads them
 * and one fetch wrapper. The session cookie goes with every call (same origin); state-changing
 * calls carry the CSRF token the login or the session answer gave.
 */

export type Role = 'viewer' | 'operator' | 'admin';
export interface Operator {
  readonly name: string;
  readonly role: Role;
}
export interface Session {
  readonly operator: Operator;
  readonly csrfToken: string;
}

export interface Infra {
  readonly id: string;
  readonly name: string;
  readonly connected: boolean;
  readonly lastSeen?: number;
  readonly agentVersion?: string;
  readonly hostname?: string;
  readonly capabilities: readonly string[];
  readonly currentRunId?: string;
}

export const RUN_STATES = ['queued', 'dispatched', 'running', 'finished', 'cancelled'] as const;
export const VERDICTS = ['completed', 'failed', 'aborted', 'revert-failed', 'rejected', 'interrupted'] as const;

export interface RunSummary {
  readonly id: string;
  readonly infraId: string;
  readonly infraName: string;
  readonly experimentName: string;
  readonly state: string;
  readonly verdict?: string;
  readonly queuedAt: number;
  readonly dispatchedAt?: number;
  readonly finishedAt?: number;
  readonly resilienceScore?: number;
}

/** A status event: `at` is ms since the epoch (or an ISO date, as agents send it). */
export interface StatusEvent {
  readonly seq?: number;
  readonly at: number | string;
  readonly faultId?: string;
  readonly phase: string;
  readonly detail?: string;
}

export interface LogEntry {
  readonly seq: number;
  readonly at: number | string;
  readonly level: string;
  readonly message: string;
  readonly fields?: Record<string, unknown>;
}

export interface FaultOutcome {
  readonly faultId: string;
  readonly kind: string;
  readonly status: string;
  readonly revert?: string;
  readonly error?: string;
  readonly weight?: number;
  readonly probeSuccessPercent?: number;
}

export interface ProbeOutcome {
  readonly name: string;
  readonly type: string;
  readonly mode: string;
  readonly scope: string;
  readonly evaluations: number;
  readonly passed: number;
  readonly successPercent?: number;
  readonly last?: string;
  readonly firstFailure?: string;
  readonly stoppedExperiment: boolean;
}

export interface RunResult {
  readonly verdict: string;
  readonly reason?: string;
  readonly faults: readonly FaultOutcome[];
  readonly resilienceScore?: number;
  readonly probes?: readonly ProbeOutcome[];
  readonly stoppedBy?: { readonly probe: string; readonly detail: string };
}

export interface RunDetail {
  readonly run: RunSummary & { readonly experiment?: unknown };
  readonly status: readonly StatusEvent[];
  readonly result?: RunResult;
}

export interface ExperimentSummary {
  readonly name: string;
  readonly updatedAt: number;
  readonly updatedBy: string;
  readonly faults: number;
}

export interface ExperimentText {
  readonly name: string;
  readonly text: string;
  readonly updatedAt: number;
  readonly updatedBy: string;
}

export interface AuditEntry {
  readonly id: number;
  readonly at: number;
  readonly actor: string;
  readonly role: string;
  readonly action: string;
  readonly target?: string;
  readonly remote: string;
  readonly detail?: string;
}

export interface UserView {
  readonly name: string;
  readonly role: Role;
  readonly createdAt: number;
  readonly lastLogin?: number;
  /** Present while the account is disabled. */
  readonly disabledAt?: number;
}

/** An operator API token as listed: its id, never the token. */
export interface TokenView {
  readonly id: string;
  readonly user: string;
  readonly createdAt: number;
  readonly expiresAt?: number;
  readonly lastUsed?: number;
}

/** A token just created: the `fdo_…` token is in this answer only. */
export interface CreatedToken extends TokenView {
  readonly token: string;
}

/** An API refusal: HTTP status, the error code and message, and validation lines if any. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly lines: readonly string[];

  constructor(status: number, code: string, message: string, lines: readonly string[] = []) {
    super(message);
    this.status = status;
    this.code = code;
    this.lines = lines;
  }
}

let csrfToken = '';

export function setCsrfToken(token: string): void {
  csrfToken = token;
}

const BASE = '/api/v1';

async function errorOf(response: Response): Promise<ApiError> {
  try {
    const body = (await response.json()) as { error?: { code?: string; message?: string; lines?: string[] } };
    return new ApiError(response.status, body.error?.code ?? 'HTTP', body.error?.message ?? response.statusText, body.error?.lines ?? []);
  } catch {
    return new ApiError(response.status, 'HTTP', `${response.status} ${response.statusText}`);
  }
}

export async function call<T>(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && csrfToken) headers['x-csrf-token'] = csrfToken;
  const response = await fetch(`${BASE}${path}`, { method, headers, credentials: 'same-origin', ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  if (!response.ok) throw await errorOf(response);
  if (response.status === 204) return undefined as T;
  const text = await response.text();
  return (text ? JSON.parse(text) : undefined) as T;
}

export const api = {
  session: () => call<Session>('GET', '/session'),
  login: (name: string, password: string) => call<Session>('POST', '/login', { name, password }),
  logout: () => call<undefined>('POST', '/logout'),
  infras: () => call<{ infras: Infra[] }>('GET', '/infras'),
  createInfra: (name: string) => call<{ id: string; name: string; accessKey: string }>('POST', '/infras', { name }),
  rotateKey: (id: string) => call<{ id: string }>('POST', `/infras/${encodeURIComponent(id)}/rotate-key`),
  runs: (query: URLSearchParams) => call<{ runs: RunSummary[] }>('GET', `/runs${query.size ? `?${query.toString()}` : ''}`),
  run: (id: string) => call<RunDetail>('GET', `/runs/${encodeURIComponent(id)}`),
  queueRun: (body: { infra: string; experiment: string } | { infra: string; library: string }) => call<{ id: string }>('POST', '/runs', body),
  abortRun: (id: string) => call<{ outcome: 'cancelled' | 'requested' | 'finished' }>('POST', `/runs/${encodeURIComponent(id)}/abort`),
  experiments: () => call<{ experiments: ExperimentSummary[] }>('GET', '/experiments'),
  experiment: (name: string) => call<ExperimentText>('GET', `/experiments/${encodeURIComponent(name)}`),
  saveExperiment: (name: string, text: string) => call<unknown>('PUT', `/experiments/${encodeURIComponent(name)}`, { text }),
  deleteExperiment: (name: string) => call<undefined>('DELETE', `/experiments/${encodeURIComponent(name)}`),
  audit: (before?: number) => call<{ entries: AuditEntry[] }>('GET', `/audit?limit=100${before === undefined ? '' : `&before=${before}`}`),
  users: () => call<{ users: UserView[] }>('GET', '/users'),
  addUser: (name: string, role: Role, password: string) => call<unknown>('POST', '/users', { name, role, password }),
  removeUser: (name: string) => call<undefined>('DELETE', `/users/${encodeURIComponent(name)}`),
  setRole: (name: string, role: Role) => call<undefined>('PUT', `/users/${encodeURIComponent(name)}/role`, { role }),
  setDisabled: (name: string, disabled: boolean) => call<undefined>('PUT', `/users/${encodeURIComponent(name)}/disabled`, { disabled }),
  setPassword: (name: string, password: string) => call<undefined>('PUT', `/users/${encodeURIComponent(name)}/password`, { password }),
  /** The caller's own password; the session continues as a new one (its CSRF token in the answer). */
  changeOwnPassword: (currentPassword: string, password: string) => call<Session>('PUT', '/session/password', { currentPassword, password }),
  tokens: () => call<{ tokens: TokenView[] }>('GET', '/tokens'),
  /** `ttlMs` null: no expiry. */
  createToken: (user: string, ttlMs: number | null) => call<CreatedToken>('POST', '/tokens', ttlMs === null ? { user, noExpiry: true } : { user, ttlMs }),
  revokeToken: (id: string) => call<undefined>('DELETE', `/tokens/${encodeURIComponent(id)}`),
  releaseInfra: (id: string) => call<{ id: string; name: string; released?: { hostname: string } }>('POST', `/infras/${encodeURIComponent(id)}/release`),
};

/** The URL of a run's event stream (server-sent events). */
export function runEventsUrl(id: string): string {
  return `${BASE}/runs/${encodeURIComponent(id)}/events`;
}

const RANK: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 };

/** True when `operator` has `role` or a higher one. */
export function can(operator: Operator, role: Role): boolean {
  return RANK[operator.role] >= RANK[role];
}
