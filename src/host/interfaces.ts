// SPDX-License-Identifier: Apache-2.0
/**
 * Network interfaces of the current network namespace: names, MTUs and the default route's
 * interface (the Harness default target), read from /sys/class/net and /proc/net/route.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

export interface NetInterface {
  readonly name: string;
  readonly mtu: number;
}

export function listInterfaces(sysRoot = '/sys'): NetInterface[] {
  const dir = path.join(sysRoot, 'class/net');
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  // Entries without an ifindex are not interfaces (e.g. bonding_masters, a file).
  return names.filter((name) => existsSync(path.join(dir, name, 'ifindex'))).map((name) => {
    let mtu = 1500;
    try {
      mtu = Number(readFileSync(path.join(dir, name, 'mtu'), 'utf8').trim());
    } catch {
      // keep the Ethernet default
    }
    return { name, mtu };
  });
}

/** The interface of the IPv4 default route (then IPv6), from /proc/net/route and ipv6_route. */
export function defaultRouteInterface(procRoot = '/proc'): string | undefined {
  try {
    for (const line of readFileSync(path.join(procRoot, 'net/route'), 'utf8').split('\n').slice(1)) {
      const [iface, destination, , , , , , mask] = line.trim().split(/\s+/);
      if (iface && destination === '00000000' && mask === '00000000') return iface;
    }
  } catch {
    // no IPv4
  }
  try {
    for (const line of readFileSync(path.join(procRoot, 'net/ipv6_route'), 'utf8').split('\n')) {
      const fields = line.trim().split(/\s+/);
      const iface = fields[9];
      if (fields[0] === '00000000000000000000000000000000' && fields[1] === '00' && iface && iface !== 'lo') return iface;
    }
  } catch {
    // no IPv6
  }
  return undefined;
}

/** tx_bytes of an interface (for the live measurement). */
export function txBytes(name: string, sysRoot = '/sys'): number | undefined {
  try {
    return Number(readFileSync(path.join(sysRoot, 'class/net', name, 'statistics/tx_bytes'), 'utf8'));
  } catch {
    return undefined;
  }
}
