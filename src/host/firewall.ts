// SPDX-License-Identifier: Apache-2.0
/**
 * Which packet filters this host runs, for `faultd doctor`: nf_tables (where faultd's rules
 * live, table `inet faultd`) and tables of the legacy iptables backend (x_tables), whose rules
 * are evaluated next to nf_tables and can pre-empt or add to a fault. A host with legacy tables
 * and no nf_tables is an iptables-legacy-only host: the nf_tables faults cannot run there.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

import type { FeatureSupport } from './features.js';

export interface FirewallFacts {
  readonly nftables: FeatureSupport;
  /** Loaded iptables-legacy tables (`filter`, `nat`, … and `ip6:filter` for ip6tables). */
  readonly legacyTables: readonly string[];
  readonly summary: string;
}

function tableNames(file: string): string[] {
  try {
    return readFileSync(file, 'utf8').split('\n').map((l) => l.trim()).filter(Boolean);
  } catch {
    return []; // no x_tables for this family (module not loaded)
  }
}

export function readFirewallFacts(procRoot: string, nftables: FeatureSupport): FirewallFacts {
  const legacyTables = [
    ...tableNames(path.join(procRoot, 'net', 'ip_tables_names')),
    ...tableNames(path.join(procRoot, 'net', 'ip6_tables_names')).map((t) => `ip6:${t}`),
  ];
  const legacy = legacyTables.length
    ? `iptables-legacy tables loaded (${legacyTables.join(', ')}): their rules are evaluated next to faultd's and can pre-empt or add to a network fault`
    : 'no iptables-legacy tables loaded';
  let summary: string;
  if (nftables.supported) {
    summary = `nf_tables: available (faultd's rules go in table inet faultd); ${legacy}`;
  } else if (legacyTables.length) {
    summary = `iptables-legacy-only host: nf_tables is missing (${nftables.reason}), so linux-network-partition, the DNS and HTTP faults, loss without netem and latency without netem are refused (until faultd has an x_tables backend); ${legacy}`;
  } else {
    summary = `no packet filter: nf_tables is missing (${nftables.reason}) and no iptables-legacy table is loaded`;
  }
  return { nftables, legacyTables, summary };
}
