// SPDX-License-Identifier: Apache-2.0
/**
 * `faultd hub … --hub-url <url>`: the hub commands through a remote hub's operator API (undici,
 * HTTPS with the hub's CA from --ca-file, or the system's), authenticated with an operator API
 * token (`fdo_…`) from --token-file or FAULTD_HUB_TOKEN. Refusals keep the hub's message.
 */
import { readFileSync, statSync } from 'node:fs';

import { Agent, request } from 'undici';

import { FaultdError, messageOf } from '../errors.js';
import type { HubBackend } from './hub-backend.js';

export interface RemoteHubFlags {
  readonly hubUrl: string;
  readonly tokenFile?: string;
  /** The token itself (FAULTD_HUB_TOKEN), when no file is given. */
  readonly token?: string;
  readonly caFile?: string;
}

const TIMEOUT_MS = 30_000;

function readToken(flags: RemoteHubFlags): string {
  let token = flags.token;
  if (flags.tokenFile !== undefined) {
    try {
      if ((statSync(flags.tokenFile).mode & 0o077) !== 0) {
        throw new FaultdError('FAULTD_ERR_HUB_INPUT', `${flags.tokenFile} is readable by others than its owner: chmod 600 it (it holds an operator API token)`);
      }
      token = readFileSync(flags.tokenFile, 'utf8').trim();
    } catch (error) {
      if (error instanceof FaultdError) throw error;
      throw new FaultdError('FAULTD_ERR_HUB_INPUT', `cannot read the token file ${flags.tokenFile}: ${messageOf(error)}`, { cause: error });
    }
  }
  if (!token) throw new FaultdError('FAULTD_ERR_HUB_INPUT', '--hub-url needs an operator API token: --token-file <file> or FAULTD_HUB_TOKEN (faultd hub token create on the hub)');
  if (!token.startsWith('fdo_')) throw new FaultdError('FAULTD_ERR_HUB_INPUT', 'the token is not an operator API token (fdo_…; agent keys and tokens do not work here)');
  return token;
}

function baseUrl(flags: RemoteHubFlags): URL {
  let url: URL;
  try {
    url = new URL(flags.hubUrl);
  } catch {
    throw new FaultdError('FAULTD_ERR_HUB_INPUT', `--hub-url "${flags.hubUrl}" is not a URL`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new FaultdError('FAULTD_ERR_HUB_INPUT', `--hub-url "${flags.hubUrl}" must be https:// (or http:// for a hub served with --insecure-http)`);
  return url;
}

interface ApiErrorBody {
  error?: { code?: string; message?: string; lines?: string[] };
}

export function remoteBackend(flags: RemoteHubFlags): HubBackend {
  const base = baseUrl(flags);
  const token = readToken(flags);
  let ca: string | undefined;
  if (flags.caFile !== undefined) {
    try {
      ca = readFileSync(flags.caFile, 'utf8');
    } catch (error) {
      throw new FaultdError('FAULTD_ERR_HUB_INPUT', `cannot read the CA file ${flags.caFile}: ${messageOf(error)}`, { cause: error });
    }
  }
  const dispatcher = new Agent({ connect: { ...(ca ? { ca } : {}), timeout: TIMEOUT_MS }, headersTimeout: TIMEOUT_MS, bodyTimeout: TIMEOUT_MS });

  async function call<T>(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown): Promise<T> {
    const url = new URL(`/api/v1${path}`, base);
    let response;
    try {
      response = await request(url, {
        method,
        dispatcher,
        headers: { authorization: `Bearer ${token}`, accept: 'application/json', ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch (error) {
      throw new FaultdError('FAULTD_ERR_HUB_REMOTE', `cannot reach the hub at ${base.origin}: ${messageOf(error)}`, { cause: error });
    }
    const text = await response.body.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      throw new FaultdError('FAULTD_ERR_HUB_REMOTE', `the hub at ${base.origin} answered ${response.statusCode} with a body that is not JSON (is it a faultd hub?)`);
    }
    if (response.statusCode < 300) return json as T;
    const problem = (json as ApiErrorBody | undefined)?.error;
    const message = problem?.lines?.length ? problem.lines.join('\n') : (problem?.message ?? `HTTP ${response.statusCode}`);
    if (response.statusCode === 401 || response.statusCode === 403) throw new FaultdError('FAULTD_ERR_HUB_AUTH', `the hub at ${base.origin} refused the call (${problem?.code ?? response.statusCode}): ${message}`);
    if (response.statusCode >= 400 && response.statusCode < 500) throw new FaultdError('FAULTD_ERR_HUB_INPUT', message);
    throw new FaultdError('FAULTD_ERR_HUB_REMOTE', `the hub at ${base.origin} failed the call (${response.statusCode}): ${message}`);
  }

  const id = encodeURIComponent;
  return {
    where: base.origin,
    listInfras: () => call('GET', '/infras'),
    createInfra: (name) => call('POST', '/infras', { name }),
    rotateKey: (name) => call('POST', `/infras/${id(name)}/rotate-key`),
    releaseInfra: (name) => call('POST', `/infras/${id(name)}/release`),
    queueRun: (infra, experiment, name) => call('POST', '/runs', { infra, experiment, name }),
    queueLibraryRun: (infra, library) => call('POST', '/runs', { infra, library }),
    listExperiments: () => call('GET', '/experiments'),
    experiment: (name) => call('GET', `/experiments/${id(name)}`),
    putExperiment: (name, text) => call('PUT', `/experiments/${id(name)}`, { text }),
    deleteExperiment: (name) => call('DELETE', `/experiments/${id(name)}`),
    listRuns: (filter) => {
      const query = new URLSearchParams();
      if (filter.infra) query.set('infra', filter.infra);
      if (filter.states?.length) query.set('state', filter.states.join(','));
      if (filter.verdicts?.length) query.set('verdict', filter.verdicts.join(','));
      if (filter.limit !== undefined) query.set('limit', String(filter.limit));
      return call('GET', `/runs?${query.toString()}`);
    },
    run: (runId) => call('GET', `/runs/${id(runId)}`),
    logs: (runId, after, limit) => call('GET', `/runs/${id(runId)}/logs?after=${after}&limit=${limit}`),
    abort: (runId, force) => call('POST', `/runs/${id(runId)}/abort`, force ? { force: true } : {}),
    audit: (limit, before) => call('GET', `/audit?limit=${limit}${before === undefined ? '' : `&before=${before}`}`),
    listUsers: () => call('GET', '/users'),
    addUser: (name, role, password) => call('POST', '/users', { name, role, password }),
    removeUser: (name) => call('DELETE', `/users/${id(name)}`),
    setPassword: (name, password) => call('PUT', `/users/${id(name)}/password`, { password }),
    setRole: (name, role) => call('PUT', `/users/${id(name)}/role`, { role }),
    setDisabled: (name, disabled) => call('PUT', `/users/${id(name)}/disabled`, { disabled }),
    createToken: (user, ttlMs) => call('POST', '/tokens', ttlMs === undefined ? { user, noExpiry: true } : { user, ttlMs }),
    listTokens: (user) => call('GET', `/tokens${user === undefined ? '' : `?user=${id(user)}`}`),
    revokeToken: (tokenId) => call('DELETE', `/tokens/${id(tokenId)}`),
    close: () => dispatcher.close(),
  };
}
