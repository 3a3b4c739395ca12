// SPDX-License-Identifier: Apache-2.0
/**
 * The host's network safety settings, gathered once at start: the control plane's addresses
 * (the configured hub URL, its host name resolved here, and the forward proxy the agent reaches
 * it through: hub.proxy or HTTPS_PROXY, as hub-proxy.ts chooses), the configured `safety.excludeIPs` and
 * this host's SSH ports. The network faults keep all of it out of their effect
 * (faults/network/safety.ts); the configuration only supplies the values.
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';

import type { Logger } from 'pino';

import { hostTarget, type IpTarget } from './addresses.js';
import { selectHubProxy } from './hub-proxy.js';

/** SSH ports kept out of network faults unless configured otherwise (Harness spares 22 and 2222). */
export const DEFAULT_SSH_PORTS = [22, 2222] as const;

export interface Exclusion {
  readonly target: IpTarget;
  /** Why it is excluded, for --dry-run and the log (`control plane hub:8443`, `safety.excludeIPs`). */
  readonly reason: string;
}

export interface NetworkSafety {
  readonly controlPlane: readonly Exclusion[];
  /** Set when a hub is configured but its host name did not resolve: its traffic cannot be excluded. */
  readonly controlPlaneUnresolved?: string;
  /** The control plane's host name (a hub URL with a name, not an address): DNS faults never touch it. */
  readonly controlPlaneName?: string;
  readonly configured: readonly Exclusion[];
  readonly sshPorts: readonly number[];
}

export const DEFAULT_NETWORK_SAFETY: NetworkSafety = { controlPlane: [], configured: [], sshPorts: DEFAULT_SSH_PORTS };

/** What the safety settings are built from (the configuration's `hub` and `safety`). */
export interface NetworkSafetySettings {
  readonly hub?: { readonly url: string; readonly proxy?: string | undefined } | undefined;
  readonly safety: { readonly excludeIPs: readonly IpTarget[]; readonly sshPorts: readonly number[] };
}

const RESOLVE_TIMEOUT_MS = 3000;

/** The addresses of `host` (an address, or a name resolved once within 3 s). */
async function addressesOf(host: string): Promise<string[]> {
  if (isIP(host)) return [host];
  const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no answer within ${RESOLVE_TIMEOUT_MS} ms`)), RESOLVE_TIMEOUT_MS).unref());
  const addresses = await Promise.race([lookup(host, { all: true }), timeout]);
  return addresses.map((a) => a.address);
}

/** The proxy the agent would use (`env`: the environment it reads); one it would refuse counts as none here. */
function hubProxyOf(hub: NonNullable<NetworkSafetySettings['hub']>, env: NodeJS.ProcessEnv): URL | undefined {
  try {
    const proxy = selectHubProxy(new URL(hub.url), hub.proxy, env);
    return proxy ? new URL(proxy.url) : undefined;
  } catch {
    return undefined;
  }
}

/** Builds the safety settings, resolving the hub's (and its proxy's) host name once (within 3 s). */
export async function resolveNetworkSafety(settings: NetworkSafetySettings, logger: Logger, env: NodeJS.ProcessEnv = {}): Promise<NetworkSafety> {
  const configured = settings.safety.excludeIPs.map((target) => ({ target, reason: 'safety.excludeIPs' }));
  const controlPlane: Exclusion[] = [];
  let controlPlaneUnresolved: string | undefined;
  if (settings.hub) {
    const url = new URL(settings.hub.url);
    const proxy = hubProxyOf(settings.hub, env);
    const endpoints = [{ url, what: 'control plane', reason: `control plane ${url.host}` }, ...(proxy ? [{ url: proxy, what: 'hub proxy', reason: `control plane proxy ${proxy.host}` }] : [])];
    for (const endpoint of endpoints) {
      const host = endpoint.url.hostname.replace(/^\[|\]$/g, '');
      try {
        for (const address of await addressesOf(host)) controlPlane.push({ target: hostTarget(address), reason: endpoint.reason });
      } catch (error) {
        controlPlaneUnresolved ??= `the ${endpoint.what} host ${host} did not resolve (${error instanceof Error ? error.message : String(error)})`;
        logger.warn({ host, err: error }, `cannot resolve the ${endpoint.what} host: network faults are refused unless allowControlPlaneImpact`);
      }
    }
  }
  const hubHost = settings.hub ? new URL(settings.hub.url).hostname.replace(/^\[|\]$/g, '') : undefined;
  const controlPlaneName = hubHost && !isIP(hubHost) ? hubHost : undefined;
  return {
    controlPlane,
    configured,
    sshPorts: settings.safety.sshPorts,
    ...(controlPlaneUnresolved ? { controlPlaneUnresolved } : {}),
    ...(controlPlaneName ? { controlPlaneName } : {}),
  };
}
