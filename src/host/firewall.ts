// SPDX-License-Identifier: Apache-2.0
/**
 * Which packet filters this host runs, for `faultd doctor`: nf_tables (where faultd's rules
 * live, table `inet faultd`) and tables of the legacy iptables backend (x_tables), whose rules
 * are evaluated next to nf_tables and can pre-empt or add to a fault. A host with no nf_tables
 * is an iptables-legacy-only host: faultd's drop and queue rules go in x_tables chains there
 * (when the x_tables probe succeeds), and the kinds that need nf_tables' nat are refused.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

import type { FeatureSupport } from './features.js';

export interface FirewallFacts {
  readonly nftables: FeatureSupport;
  /** Which packet filter faultd's network rules use here; `none` when neither is usable. */
  readonly backend: 'nftables' | 'xtables' | 'none';
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

/**
 * `xtables` is the x_tables probe's answer, asked only where nf_tables is missing (the probe
 * runs in a throwaway namespace: the host's tables are never read or created for it).
 */
/**
 * Whether the x_tables `table` of `family` is up in this network namespace (listed in
 * `<procRoot>/net/ip{,6}_tables_names`), read without asking the kernel for the table, which
 * would bring it up; undefined when the list cannot be read (no x_tables of that family loaded
 * yet, or no such /proc): then only the kernel can tell.
 */
export function legacyTableLoaded(procRoot: string, family: 4 | 6, table: string): boolean | undefined {
  try {
    const names = readFileSync(path.join(procRoot, 'net', family === 6 ? 'ip6_tables_names' : 'ip_tables_names'), 'utf8');
    return names.split('\n').map((l) => l.trim()).includes(table);
  } catch {
    return undefined;
  }
}

export function readFirewallFacts(procRoot: string, nftables: FeatureSupport, xtables?: FeatureSupport): FirewallFacts {
  const legacyTables = [
    ...tableNames(path.join(procRoot, 'net', 'ip_tables_names')),
    ...tableNames(path.join(procRoot, 'net', 'ip6_tables_names')).map((t) => `ip6:${t}`),
  ];
  const legacy = legacyTables.length
    ? `iptables-legacy tables loaded (${legacyTables.join(', ')}): their rules are evaluated next to faultd's and can pre-empt or add to a network fault`
    : 'no iptables-legacy tables loaded';
  if (nftables.supported) {
    return { nftables, backend: 'nftables', legacyTables, summary: `nf_tables: available (faultd's rules go in table inet faultd); ${legacy}` };
  }
  if (xtables?.supported) {
    const summary =
      `x_tables (iptables-legacy): nf_tables is missing (${nftables.reason}), so linux-network-partition, loss without netem and latency without netem ` +
      `put their rules in faultd's own chains FAULTD-<id>-<hook> (filter; mangle for the NFQUEUE delayer; IPv4 and IPv6) through IPT_SO_SET_REPLACE, ` +
      `and the DNS and HTTP faults (nf_tables nat) are refused; ${legacy}`;
    return { nftables, backend: 'xtables', legacyTables, summary };
  }
  const why = `nf_tables is missing (${nftables.reason}) and x_tables is not usable (${xtables?.reason ?? 'not probed'})`;
  const summary = legacyTables.length
    ? `iptables-legacy tables but no usable packet filter for faultd: ${why}, so linux-network-partition, the DNS and HTTP faults, loss without netem and latency without netem are refused; ${legacy}`
    : `no packet filter: ${why}; no iptables-legacy table is loaded`;
  return { nftables, backend: 'none', legacyTables, summary };
}
