// SPDX-License-Identifier: Apache-2.0
/**
 * The TCP ports that have a listener in faultd's network namespace, read from /proc/net/tcp and
 * tcp6 (state 0A = LISTEN): the HTTP faults' proxyPort must be free, or the interceptor could not
 * listen there and the redirect would reach someone else's server.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

const LISTEN = '0A';

/** Local ports in LISTEN state in one /proc/net/tcp{,6} text. */
export function listeningPorts(text: string): Set<number> {
  const ports = new Set<number>();
  for (const line of text.split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    const local = fields[1];
    if (!local || fields[3] !== LISTEN) continue;
    const port = Number.parseInt(local.slice(local.lastIndexOf(':') + 1), 16);
    if (Number.isInteger(port)) ports.add(port);
  }
  return ports;
}

/** Ports with a TCP listener (IPv4 or IPv6) here; files that cannot be read count as none. */
export function readListeningTcpPorts(procRoot: string): Set<number> {
  const ports = new Set<number>();
  for (const file of ['tcp', 'tcp6']) {
    try {
      for (const port of listeningPorts(readFileSync(path.join(procRoot, 'net', file), 'utf8'))) ports.add(port);
    } catch {
      // no IPv6, or no procfs: nothing known to listen
    }
  }
  return ports;
}
