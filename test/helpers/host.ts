// SPDX-License-Identifier: Apache-2.0
/** Fixed host facts for unit tests: 4 CPUs, 8 GiB total, 6 GiB available. */
import { DEFAULT_NETWORK_SAFETY } from '../../src/net/network-safety.js';
import type { ValidationContext } from '../../src/faults/types.js';
import { DEFAULT_LIMITS } from '../../src/faults/types.js';
import type { HostFacts } from '../../src/host/facts.js';

export const GiB = 1024 ** 3;

export const FAKE_HOST: HostFacts = {
  onlineCpus: [0, 1, 2, 3],
  memTotalBytes: 8 * GiB,
  memAvailableBytes: 6 * GiB,
  bootId: '00000000-0000-0000-0000-000000000000',
  isRoot: false,
  capEff: 0n,
  memlockBytes: 8 * 1024 * 1024,
};

/** Every qdisc kind exists, except those named in FAKE_MISSING_QDISCS. */
export const FAKE_MISSING_QDISCS = new Set<string>();

export const FAKE_VALIDATION: ValidationContext = {
  host: FAKE_HOST,
  limits: DEFAULT_LIMITS,
  network: { safety: DEFAULT_NETWORK_SAFETY, interfaces: [{ name: 'lo', mtu: 65536 }, { name: 'eth0', mtu: 1500 }], defaultInterface: 'eth0', resolvers: ['10.0.0.53'] },
  features: {
    qdisc: (kind) => (FAKE_MISSING_QDISCS.has(kind) ? { supported: false, reason: 'RTM_NEWQDISC ENOENT: Specified qdisc kind is unknown' } : { supported: true, reason: '' }),
    nftables: () => ({ supported: true, reason: '' }),
    nfqueue: () => ({ supported: true, reason: '' }),
    natRedirect: () => ({ supported: true, reason: '' }),
  },
};

/** Skips the calling suite with a stated reason unless running as root. */
export function rootOrReason(): string | undefined {
  return process.getuid?.() === 0 ? undefined : 'needs root (cgroups, signalling stressors); run `sudo npm test`';
}
