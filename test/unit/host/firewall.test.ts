// SPDX-License-Identifier: Apache-2.0
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import test from 'ava';

import { readFirewallFacts } from '../../../src/host/firewall.js';

function procWith(t: { teardown(fn: () => void): void }, files: Record<string, string>): string {
  const root = mkdtempSync(path.join(tmpdir(), 'faultd-proc-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  mkdirSync(path.join(root, 'net'));
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(root, 'net', name), text);
  return root;
}

const NFT = { supported: true, reason: '' };
const NO_NFT = { supported: false, reason: 'NFT_MSG_GETCHAIN EOPNOTSUPP' };

test('nf_tables alone, nf_tables next to legacy tables, and an iptables-legacy-only host', (t) => {
  t.regex(readFirewallFacts(procWith(t, {}), NFT).summary, /^nf_tables: available .*; no iptables-legacy tables loaded$/);
  const both = readFirewallFacts(procWith(t, { ip_tables_names: 'filter\nnat\n', ip6_tables_names: 'filter\n' }), NFT);
  t.deepEqual(both.legacyTables, ['filter', 'nat', 'ip6:filter']);
  t.regex(both.summary, /iptables-legacy tables loaded \(filter, nat, ip6:filter\): their rules are evaluated next to faultd's/);
  const legacyOnly = readFirewallFacts(procWith(t, { ip_tables_names: 'filter\n' }), NO_NFT);
  t.regex(legacyOnly.summary, /^iptables-legacy-only host: nf_tables is missing \(NFT_MSG_GETCHAIN EOPNOTSUPP\), so linux-network-partition/);
  t.regex(legacyOnly.summary, /linux-network-partition, the DNS and HTTP faults, loss without netem and latency without netem are refused \(until faultd has an x_tables backend\)/);
  t.regex(readFirewallFacts(procWith(t, {}), NO_NFT).summary, /^no packet filter/);
});
