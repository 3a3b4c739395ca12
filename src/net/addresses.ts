// SPDX-License-Identifier: Apache-2.0
/**
 * Address, CIDR, port and host-name lists in the forms faultd's inputs take (the configuration's
 * `safety.excludeIPs`, the network faults' targeting): `destinationIPs` entries with optional
 * `|port|port` suffixes (`1.1.1.1,35.24.108.92|3000|8080`, CIDRs and IPv6 too), port lists as
 * comma text, YAML numbers or YAML lists where a leading `!` exempts instead of targets
 * (`!5000,8080`), and host names. Pure parsing: nothing here resolves names or touches the host,
 * so the configuration and the faults can both use it.
 */
import { BlockList, isIP } from 'node:net';

import { listOf } from '../units.js';

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

/** A port list as written: `"80,443"`, `"!22"`, `80`, `[80, 443]`, `["!22", 8080]`. */
export type PortListInput = string | number | readonly (string | number)[];

/** A TCP/UDP port, 1–65535. */
const MAX_PORT = 65535;

function port(value: string | number): number {
  const text = String(value).trim();
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < 1 || n > MAX_PORT) throw new Error(`port ${typeof value === 'string' ? `"${text}"` : text} is not in 1–${MAX_PORT}`);
  return n;
}

/** A single host address as a full-length target (`/32`, `/128`), without ports. */
export function hostTarget(address: string): IpTarget {
  const version = isIP(address) === 6 ? 6 : 4;
  return { address, prefixLen: version === 4 ? 32 : 128, version, ports: [] };
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

/**
 * Parses a port list: comma text, a YAML number or a YAML list of numbers and strings. A leading
 * `!` (on the whole text or on an item) marks exemptions.
 */
export function parsePortSelection(value: PortListInput): PortSelection {
  const raw = typeof value === 'string' ? value.trim() : '';
  const listNegated = raw.startsWith('!');
  const items = typeof value === 'number' ? [value] : typeof value === 'string' ? listOf(listNegated ? raw.slice(1) : raw) : value;
  const include: number[] = [];
  const exclude: number[] = [];
  for (const item of items) {
    if (typeof item === 'string' && item.trim() === '') continue;
    const text = typeof item === 'string' ? item.trim() : item;
    const negated = typeof text === 'string' && text.startsWith('!');
    (listNegated || negated ? exclude : include).push(port(negated ? text.slice(1) : text));
  }
  return { include, exclude };
}

const HOSTNAME = /^(?=.{1,253}$)([a-zA-Z0-9_]([a-zA-Z0-9_-]{0,61}[a-zA-Z0-9])?)(\.[a-zA-Z0-9_]([a-zA-Z0-9_-]{0,61}[a-zA-Z0-9])?)*\.?$/;

/** Parses host names (comma text or a list); throws naming the first one that is not a DNS name. */
export function parseHostnames(value: string | readonly string[]): string[] {
  return listOf(value).map((host) => {
    if (!HOSTNAME.test(host)) throw new Error(`"${host}" is not a host name`);
    return host;
  });
}

/** `10.0.0.1`, `10.0.0.0/24`, `fd00::1|80|443`: the form parseIpTargets reads. */
export function formatTarget(t: IpTarget): string {
  const host = t.prefixLen === (t.version === 4 ? 32 : 128) ? t.address : `${t.address}/${t.prefixLen}`;
  return t.ports.length ? `${host}|${t.ports.join('|')}` : host;
}

/** Whether `address` (an IP literal) is inside `target`'s CIDR (ports aside). */
export function targetContains(target: IpTarget, address: string): boolean {
  const version = isIP(address);
  if (version !== target.version) return false;
  const family = version === 4 ? 'ipv4' : 'ipv6';
  const list = new BlockList();
  list.addSubnet(target.address, target.prefixLen, family);
  return list.check(address, family);
}
