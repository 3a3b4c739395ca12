// SPDX-License-Identifier: Apache-2.0
/**
 * Which HTTP forward proxy, if any, the agent's connection to the hub goes through: `hub.proxy`
 * from the configuration, else the environment (`https_proxy`/`HTTPS_PROXY` for an https:// hub,
 * `http_proxy`/`HTTP_PROXY` for an http:// one) unless `no_proxy`/`NO_PROXY` covers the hub.
 * `hub.proxy: none` means direct whatever the environment says. The proxy is only ever asked to
 * open a tunnel (CONNECT, proxy-tunnel.ts): TLS to the hub stays end to end.
 *
 * Refused: an https:// proxy URL (TLS to the proxy itself is not implemented) and credentials in
 * the URL (proxies that need authentication are not supported; a password would otherwise sit
 * in a configuration file or an environment variable and end up in logs).
 */
import { isIP } from 'node:net';

import { FaultdError } from '../errors.js';

/** The proxy the agent uses, and where it was configured (for the log: the URL never holds credentials). */
export interface HubProxy {
  /** `http://host:port` (port always present). */
  readonly url: string;
  /** `hub.proxy`, or the environment variable's name. */
  readonly source: string;
}

/** `hub.proxy` value meaning "connect directly, whatever the environment says". */
export const NO_PROXY_VALUE = 'none';

const DEFAULT_PROXY_PORT = 80;

/** What is wrong with `text` as the proxy's URL, or its normalized form `http://host:port`. */
export function parseProxyUrl(text: string): { url: string } | { problem: string } {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return { problem: 'must be an http:// URL such as http://proxy.example.com:3128' };
  }
  if (url.protocol === 'https:') {
    return { problem: "is https://: a TLS connection to the proxy itself is not supported; use the proxy's http:// port (the tunnel to the hub is TLS end to end either way)" };
  }
  if (url.protocol !== 'http:') return { problem: `must be an http:// URL such as http://proxy.example.com:3128 (not ${url.protocol}//)` };
  if (url.username !== '' || url.password !== '') {
    return { problem: 'carries credentials: proxies that need authentication are not supported (allow the agent by its address at the proxy)' };
  }
  if ((url.pathname !== '/' && url.pathname !== '') || url.search !== '' || url.hash !== '') return { problem: 'must be http://host:port, without a path or query' };
  if (url.hostname === '') return { problem: 'must name the proxy host' };
  return { url: `http://${url.hostname}:${url.port || DEFAULT_PROXY_PORT}` };
}

/** Bare host (IPv6 without brackets, lower case, no trailing dot). */
const bareHost = (host: string): string => host.replace(/^\[|\]$/g, '').replace(/\.$/, '').toLowerCase();

/** An IPv4 or IPv6 address as a bigint and its width, or undefined. */
function addressBits(address: string): { value: bigint; bits: number } | undefined {
  const family = isIP(address);
  if (family === 4) return { value: address.split('.').reduce((acc, octet) => (acc << 8n) | BigInt(Number(octet)), 0n), bits: 32 };
  if (family !== 6) return undefined;
  // Expand "::" and an embedded IPv4 tail into eight groups.
  let text = address;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4?.[1]) {
    const octets = v4[1].split('.').map(Number);
    text = `${text.slice(0, -v4[1].length)}${(((octets[0] ?? 0) << 8) | (octets[1] ?? 0)).toString(16)}:${(((octets[2] ?? 0) << 8) | (octets[3] ?? 0)).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const groups = (part: string): string[] => (part === '' ? [] : part.split(':'));
  const all = tail === undefined ? groups(head) : [...groups(head), ...Array<string>(8 - groups(head).length - groups(tail).length).fill('0'), ...groups(tail)];
  return { value: all.reduce((acc, group) => (acc << 16n) | BigInt(parseInt(group, 16)), 0n), bits: 128 };
}

/** Whether address `host` lies in `entry` (an address, or address/prefix-length). */
function inCidr(host: string, entry: string): boolean {
  const [base = '', lengthText] = entry.split('/');
  const a = addressBits(host);
  const b = addressBits(bareHost(base));
  if (!a || !b || a.bits !== b.bits) return false;
  const length = lengthText === undefined ? a.bits : Number(lengthText);
  if (!Number.isInteger(length) || length < 0 || length > a.bits) return false;
  const shift = BigInt(a.bits - length);
  return a.value >> shift === b.value >> shift;
}

/** Splits an entry into host and optional port (`host:port`, `[v6]:port`; a bare IPv6 address has no port). */
function entryHostPort(entry: string): { host: string; port?: number } {
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(entry);
  if (bracketed) return { host: bracketed[1] ?? '', ...(bracketed[2] ? { port: Number(bracketed[2]) } : {}) };
  const hostPort = /^([^:]+):(\d+)$/.exec(entry);
  if (hostPort) return { host: hostPort[1] ?? '', port: Number(hostPort[2]) };
  return { host: entry };
}

/**
 * Whether `noProxy` (the value of NO_PROXY) says to connect to `host`:`port` directly, as curl
 * reads it: entries separated by commas or white space; `*` alone matches every host; a name
 * matches itself and every name below it (`example.com` and `.example.com` both match
 * `example.com` and `hub.example.com`; a leading `*.` is read as `.`); an IP address or CIDR
 * (`10.0.0.0/8`, `fd00::/8`) matches addresses in it, and names are never resolved for it.
 * Beyond curl: an entry may end in `:port` and then matches that port only.
 */
export function noProxyMatches(host: string, port: number, noProxy: string): boolean {
  const target = bareHost(host);
  const targetIsIp = isIP(target) !== 0;
  for (const raw of noProxy.split(/[\s,]+/)) {
    const token = raw.trim().toLowerCase();
    if (token === '') continue;
    if (token === '*') return true;
    const { host: entryHost, port: entryPort } = entryHostPort(token);
    if (entryPort !== undefined && entryPort !== port) continue;
    const name = bareHost(entryHost.replace(/^\*\./, '.').replace(/^\./, ''));
    if (name === '') continue;
    if (targetIsIp) {
      if (inCidr(target, name)) return true;
      continue;
    }
    if (target === name || target.endsWith(`.${name}`)) return true;
  }
  return false;
}

const firstSet = (env: NodeJS.ProcessEnv, names: readonly string[]): { name: string; value: string } | undefined => {
  for (const name of names) {
    const value = env[name]?.trim();
    if (value) return { name, value };
  }
  return undefined;
};

/**
 * The proxy for the hub at `hubUrl`: `configured` (hub.proxy, already validated) wins; `none`
 * means direct; otherwise the environment's, unless NO_PROXY covers the hub. An unusable
 * environment value is an error naming the variable (its value is not repeated: it may hold a password).
 */
export function selectHubProxy(hubUrl: URL, configured: string | undefined, env: NodeJS.ProcessEnv): HubProxy | undefined {
  if (configured !== undefined) {
    if (configured === NO_PROXY_VALUE) return undefined;
    const parsed = parseProxyUrl(configured);
    if ('problem' in parsed) throw new FaultdError('FAULTD_ERR_AGENT_CONFIG', `hub.proxy ${parsed.problem}`);
    return { url: parsed.url, source: 'hub.proxy' };
  }
  const names = hubUrl.protocol === 'https:' ? ['https_proxy', 'HTTPS_PROXY'] : ['http_proxy', 'HTTP_PROXY'];
  const found = firstSet(env, names);
  if (!found) return undefined;
  const noProxy = firstSet(env, ['no_proxy', 'NO_PROXY']);
  const port = Number(hubUrl.port || (hubUrl.protocol === 'https:' ? 443 : 80));
  if (noProxy && noProxyMatches(hubUrl.hostname, port, noProxy.value)) return undefined;
  // curl reads a proxy without a scheme as http://.
  const parsed = parseProxyUrl(found.value.includes('://') ? found.value : `http://${found.value}`);
  if ('problem' in parsed) throw new FaultdError('FAULTD_ERR_AGENT_CONFIG', `the environment variable ${found.name} ${parsed.problem} (set hub.proxy in the configuration to override it, or ${NO_PROXY_VALUE} for no proxy)`);
  return { url: parsed.url, source: found.name };
}
