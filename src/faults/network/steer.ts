// SPDX-License-Identifier: Apache-2.0
/**
 * Which packets a qdisc fault touches: u32 matches for the targets (to the fault class) and for
 * the exemptions (to the clean class), from the same targeting tunables as the nf_tables faults.
 * Egress: the remote end is the destination and our end the source; ingress (the packets
 * redirected to an IFB device) the other way round.
 */
import type { U32MatchSpec } from '../../native/addon.js';
import type { IpTarget, PortSelection } from '../../net/addresses.js';

export interface SteerRequest {
  readonly direction: 'egress' | 'ingress';
  readonly targets: readonly IpTarget[];
  readonly remotePorts: PortSelection;
  readonly localPorts: PortSelection;
  /** Addresses kept out of the fault (excludeIPs/excludeHosts, safety exclusions). */
  readonly exclude: readonly IpTarget[];
  /** This host's SSH ports to spare (empty = none). */
  readonly sshPorts: readonly number[];
}

export interface Steering {
  /** Packets kept out of the fault (checked first). */
  readonly spare: readonly U32MatchSpec[];
  /** Packets sent into the fault; empty with `everything` = the whole interface. */
  readonly affect: readonly U32MatchSpec[];
  readonly everything: boolean;
}

/** Bound on filters per interface (each is one netlink transaction). */
export const MAX_FILTERS = 256;

export function steering(r: SteerRequest): Steering {
  const spare: U32MatchSpec[] = [];
  const families: (4 | 6)[] = [4, 6];
  // Which header field holds our end and which the remote end.
  const incoming = r.direction === 'ingress';
  const local = { matchSourcePort: !incoming };
  const remote = { matchSourcePort: incoming };
  for (const port of r.sshPorts) for (const ipVersion of families) spare.push({ ipVersion, l4proto: 'tcp', port, ...local });
  for (const t of r.exclude) spare.push({ address: t.address, prefixLen: t.prefixLen, ipVersion: t.version, matchSourceAddress: incoming });
  for (const port of r.remotePorts.exclude) for (const l4proto of ['tcp', 'udp'] as const) for (const ipVersion of families) spare.push({ ipVersion, l4proto, port, ...remote });
  for (const port of r.localPorts.exclude) for (const l4proto of ['tcp', 'udp'] as const) for (const ipVersion of families) spare.push({ ipVersion, l4proto, port, ...local });
  const affect: U32MatchSpec[] = [];
  const ports = (t: IpTarget | undefined) => [
    ...(t?.ports.length ? t.ports : r.remotePorts.include).map((port) => ({ port, ...remote })),
    ...r.localPorts.include.map((port) => ({ port, ...local })),
  ];
  const everything = r.targets.length === 0 && r.remotePorts.include.length === 0 && r.localPorts.include.length === 0;
  if (!everything) {
    const destinations: (IpTarget | undefined)[] = r.targets.length ? [...r.targets] : [undefined];
    for (const t of destinations) {
      const address: U32MatchSpec = t ? { address: t.address, prefixLen: t.prefixLen, ipVersion: t.version, matchSourceAddress: incoming } : {};
      const versions: (4 | 6)[] = t ? [t.version] : families;
      const portList = ports(t);
      for (const ipVersion of versions) {
        if (portList.length === 0) affect.push({ ...address, ipVersion });
        for (const p of portList) for (const l4proto of ['tcp', 'udp'] as const) affect.push({ ...address, ipVersion, l4proto, ...p });
      }
    }
  }
  return { spare, affect, everything };
}
