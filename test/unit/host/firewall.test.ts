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
  t.is(both.backend, 'nftables');
  const legacyOnly = readFirewallFacts(procWith(t, { ip_tables_names: 'filter\n' }), NO_NFT, { supported: true, reason: '' });
  t.is(legacyOnly.backend, 'xtables');
  t.regex(legacyOnly.summary, /^x_tables \(iptables-legacy\): nf_tables is missing \(NFT_MSG_GETCHAIN EOPNOTSUPP\), so linux-network-partition, loss without netem and latency without netem put their rules in faultd's own chains FAULTD-<id>-<hook>/);
  t.regex(legacyOnly.summary, /the DNS and HTTP faults \(nf_tables nat\) are refused; iptables-legacy tables loaded \(filter\)/);
  const unusable = readFirewallFacts(procWith(t, { ip_tables_names: 'filter\n' }), NO_NFT, { supported: false, reason: 'getsockopt ENOPROTOOPT' });
  t.is(unusable.backend, 'none');
  t.regex(unusable.summary, /^iptables-legacy tables but no usable packet filter for faultd: nf_tables is missing \(NFT_MSG_GETCHAIN EOPNOTSUPP\) and x_tables is not usable \(getsockopt ENOPROTOOPT\), so linux-network-partition, the DNS and HTTP faults, loss without netem and latency without netem are refused/);
  t.regex(readFirewallFacts(procWith(t, {}), NO_NFT).summary, /^no packet filter: nf_tables is missing .* and x_tables is not usable \(not probed\)/);
});
