// SPDX-License-Identifier: Apache-2.0
/**
 * Local DNS servers among the intercepted ones (systemd-resolved's stub 127.0.0.53, a dnsmasq on
 * 127.0.0.1): their own queries to the upstreams are intercepted too when those are nameservers
 * of the host, so a query the fault passed at the stub would be drawn again upstream
 * (`percentage` 50 would fail about 75 %). The stub is the process holding the UDP socket
 * bound to the loopback server (/proc/net/udp{,6} of faultd's network namespace, then the
 * process whose fd is that socket); the chain accepts packets of sockets owned by its uid (the
 * uid it runs as now: dnsmasq binds as root, then drops to its user, and its upstream queries
 * come from sockets made after). A stub that runs as root is not exempted: that would exempt
 * every root program.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import path from 'node:path';

export interface UdpSocket {
  readonly address: string;
  readonly port: number;
  readonly inode: number;
}

/** The local address, port and owner of each socket of /proc/net/udp (`v6`: udp6) text. */
export function parseProcNetUdp(text: string, v6: boolean): UdpSocket[] {
  const sockets: UdpSocket[] = [];
  for (const line of text.split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    const [hexAddress, hexPort] = (fields[1] ?? '').split(':');
    const inode = Number(fields[9]);
    if (!hexAddress || !hexPort || !Number.isInteger(inode)) continue;
    sockets.push({ address: v6 ? ipv6Of(hexAddress) : ipv4Of(hexAddress), port: Number.parseInt(hexPort, 16), inode });
  }
  return sockets;
}

/** The kernel prints each 32-bit word of the address in host (little-endian) order. */
function wordBytes(hex: string): number[] {
  const word = Number.parseInt(hex, 16);
  return [word & 0xff, (word >>> 8) & 0xff, (word >>> 16) & 0xff, word >>> 24];
}

function ipv4Of(hex: string): string {
  return wordBytes(hex).join('.');
}

function ipv6Of(hex: string): string {
  const bytes = [0, 8, 16, 24].flatMap((i) => wordBytes(hex.slice(i, i + 8)));
  const groups = Array.from({ length: 8 }, (_, i) => (((bytes[2 * i] ?? 0) << 8) | (bytes[2 * i + 1] ?? 0)).toString(16));
  return new URL(`http://[${groups.join(':')}]/`).hostname.slice(1, -1);
}

/** A loopback address (where a local stub listens). */
export const isLoopback = (address: string): boolean => address.startsWith('127.') || address === '::1';

/**
 * The uids (not root) the local DNS servers run as: of the processes holding a UDP socket that
 * serves `port` at a loopback address among `servers` (bound to it, or to the wildcard address).
 * `uidOfSocket` gives the uid of the process holding a socket inode (undefined if none is found).
 */
export function localStubUids(sockets: readonly UdpSocket[], servers: readonly string[], port: number, uidOfSocket: (inode: number) => number | undefined): number[] {
  const stubs = servers.filter(isLoopback);
  if (stubs.length === 0) return [];
  const serving = sockets.filter((s) => s.port === port && (stubs.includes(s.address) || s.address === '0.0.0.0' || s.address === '::'));
  const uids = serving.map((s) => uidOfSocket(s.inode)).filter((uid): uid is number => uid !== undefined && uid !== 0);
  return [...new Set(uids)].sort((a, b) => a - b);
}

/** The effective uid of the process under `procRoot` whose file descriptors include socket `inode`. */
export function processUidOfSocket(procRoot: string, inode: number): number | undefined {
  const target = `socket:[${inode}]`;
  let pids: string[] = [];
  try {
    pids = readdirSync(procRoot).filter((name) => /^\d+$/.test(name));
  } catch {
    return undefined;
  }
  for (const pid of pids) {
    let fds: string[] = [];
    try {
      fds = readdirSync(path.join(procRoot, pid, 'fd'));
    } catch {
      continue; // exited, or not ours to read
    }
    for (const fd of fds) {
      let link = '';
      try {
        link = readlinkSync(path.join(procRoot, pid, 'fd', fd));
      } catch {
        continue;
      }
      if (link !== target) continue;
      try {
        const uid = /^Uid:\s+\d+\s+(\d+)/m.exec(readFileSync(path.join(procRoot, pid, 'status'), 'utf8'))?.[1];
        return uid === undefined ? undefined : Number(uid);
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

/** The UDP sockets of faultd's network namespace (none when /proc cannot be read). */
export function readUdpSockets(procRoot: string): UdpSocket[] {
  const read = (file: string, v6: boolean): UdpSocket[] => {
    try {
      return parseProcNetUdp(readFileSync(path.join(procRoot, 'net', file), 'utf8'), v6);
    } catch {
      return [];
    }
  };
  return [...read('udp', false), ...read('udp6', true)];
}
