// SPDX-License-Identifier: Apache-2.0
/**
 * Targeting tunables in Harness's forms: `destinationIPs` entries with optional `|port|port`
 * suffixes (`1.1.1.1,35.24.108.92|3000|8080`, CIDRs and IPv6 too), port lists where a leading
 * `!` exempts instead of targets (`!5000,8080`), and host names resolved once at start.
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';

import { FaultdError } from '../../errors.js';
import { listOf } from '../../units.js';

export interface IpTarget {
  readonly address: string;
  readonly prefixLen: number;
  readonly version: 4 | 6;
  /** Ports of this destination only (`ip|port`); empty = the global port selection. */
  readonly ports: readonly number[];
}

export interface PortSelection {
  readonly include: readonly number[];
  readonly exclude: readonly number[];
}

export const NO_PORTS: PortSelection = { include: [], exclude: [] };

function port(text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < 1 || n > 65535) throw new Error(`port "${text}" is not in 1–65535`);
  return n;
}

/** Parses `10.0.0.1`, `10.0.0.0/24|80|443`, `fd00::/64`. Throws with the offending entry. */
export function parseIpTargets(value: string | readonly string[]): IpTarget[] {
  return listOf(value).map((entry) => {
    const [cidr = '', ...ports] = entry.split('|');
    const [address = '', prefix] = cidr.split('/');
    const version = isIP(address);
    if (version !== 4 && version !== 6) throw new Error(`"${entry}" is not an IPv4/IPv6 address or CIDR`);
    const max = version === 4 ? 32 : 128;
    const prefixLen = prefix === undefined ? max : Number(prefix);
    if (!Number.isInteger(prefixLen) || prefixLen < 1 || prefixLen > max) throw new Error(`"${entry}" has a prefix outside 1–${max}`);
    return { address, prefixLen, version, ports: ports.map(port) };
  });
}

/** Parses a port list; a leading `!` (on the list or an item) marks exemptions. */
export function parsePortSelection(value: string | readonly string[]): PortSelection {
  const raw = typeof value === 'string' ? value.trim() : '';
  const listNegated = raw.startsWith('!');
  const include: number[] = [];
  const exclude: number[] = [];
  for (const item of listOf(listNegated ? raw.slice(1) : value)) {
    const negated = listNegated || item.startsWith('!');
    (negated ? exclude : include).push(port(negated && item.startsWith('!') ? item.slice(1) : item));
  }
  return { include, exclude };
}

const HOSTNAME = /^(?=.{1,253}$)([a-zA-Z0-9_]([a-zA-Z0-9_-]{0,61}[a-zA-Z0-9])?)(\.[a-zA-Z0-9_]([a-zA-Z0-9_-]{0,61}[a-zA-Z0-9])?)*\.?$/;

export function parseHostnames(value: string | readonly string[]): string[] {
  return listOf(value).map((host) => {
    if (!HOSTNAME.test(host)) throw new Error(`"${host}" is not a host name`);
    return host;
  });
}

/** Resolves host names once (all addresses); the result goes into the ledger and the log. */
export async function resolveHosts(hosts: readonly string[]): Promise<IpTarget[]> {
  const targets: IpTarget[] = [];
  for (const host of hosts) {
    let addresses;
    try {
      addresses = await lookup(host, { all: true });
    } catch (error) {
      throw new FaultdError('FAULTD_ERR_FAULT_APPLY', `cannot resolve destinationHosts entry "${host}": ${error instanceof Error ? error.message : String(error)}`);
    }
    for (const a of addresses) {
      const version = a.family === 6 ? 6 : 4;
      targets.push({ address: a.address, prefixLen: version === 4 ? 32 : 128, version, ports: [] });
    }
  }
  return targets;
}

export function formatTarget(t: IpTarget): string {
  const host = t.prefixLen === (t.version === 4 ? 32 : 128) ? t.address : `${t.address}/${t.prefixLen}`;
  return t.ports.length ? `${host}|${t.ports.join('|')}` : host;
}
