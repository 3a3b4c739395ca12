// SPDX-License-Identifier: Apache-2.0
// linux-dns-spoof without root: spoofMap as JSON text (Harness) or a YAML map, bounds and
// refusals named; the control plane's name refused; the plan passes each address to the
// interceptor and redirects like linux-dns-error; revert as linux-dns-error's.
import test from 'ava';

import type { FaultContext } from '../../../../src/faults/types.js';
import { FakeNetlink } from '../../../helpers/fake-netlink.js';
import { FAULT_ID, moduleOf, netlinkContext, validParams } from '../../../helpers/network-fault.js';

const KIND = 'linux-dns-spoof';

function ctxWith(o: { controlPlaneName?: string; missing?: readonly 'natRedirect'[] } = {}): FaultContext {
  const ctx = netlinkContext(new FakeNetlink(), { missing: o.missing ?? [] });
  return { ...ctx, network: { ...ctx.network, safety: { ...ctx.network.safety, ...(o.controlPlaneName ? { controlPlaneName: o.controlPlaneName } : {}) } } };
}

function issues(raw: Record<string, unknown>, ctx: FaultContext): string[] {
  const result = moduleOf(KIND).validateParams(raw, ctx);
  return result.ok ? [] : result.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
}

test('spoofMap as Harness JSON text or a YAML map; names canonical; defaults of upstreamServer and dnsPort; Harness aliases', (t) => {
  const ctx = ctxWith();
  t.deepEqual(validParams(KIND, { spoofMap: '{"API.example.com.":"10.0.0.9","v6.test":"fd00::9","alias.test":"Other.Example.com"}' }, ctx), {
    spoofMap: { 'api.example.com': '10.0.0.9', 'v6.test': 'fd00::9', 'alias.test': 'other.example.com' },
    dnsPort: 53,
  });
  t.deepEqual(moduleOf(KIND).paramAliases, { SPOOF_MAP: 'spoofMap', UPSTREAM_SERVER: 'upstreamServer', DNS_PORT: 'dnsPort' });
  t.like(validParams(KIND, { spoofMap: { 'a.test': '10.1.1.1' }, upstreamServer: '10.9.9.9', dnsPort: 5353 }, ctx), { upstreamServer: '10.9.9.9', dnsPort: 5353 });
});

test('bad spoofMap input names the field and what is allowed', (t) => {
  const ctx = ctxWith({ controlPlaneName: 'hub.example.com' });
  const allowed = `must be a map of host names to an address or a host name, as '{"api.example.com":"10.0.0.9"}' (JSON text or a YAML map, 1–64 entries)`;
  t.deepEqual(issues({}, ctx), [`spoofMap: ${allowed}`]);
  t.deepEqual(issues({ spoofMap: '{not json' }, ctx), [`spoofMap: is not JSON: ${allowed}`]);
  t.deepEqual(issues({ spoofMap: '{}' }, ctx), [`spoofMap: has 0 entries: ${allowed}`]);
  t.deepEqual(issues({ spoofMap: '["a"]' }, ctx), [`spoofMap: ${allowed}`]);
  t.deepEqual(issues({ spoofMap: { 'bad name': '10.0.0.1' } }, ctx), ['spoofMap: "bad name" is not a host name']);
  t.deepEqual(issues({ spoofMap: { 'a.test': 'no such!' } }, ctx), ['spoofMap: "a.test": "no such!" is neither an IPv4/IPv6 address nor a host name']);
  t.deepEqual(issues({ spoofMap: { 'a.test': 7 } }, ctx), ['spoofMap: "a.test": 7 is neither an IPv4/IPv6 address nor a host name']);
  t.deepEqual(issues({ spoofMap: { 'HUB.example.com': '10.0.0.1' } }, ctx), ['spoofMap: "hub.example.com" is the control plane\'s host name: it is never spoofed (the agent would lose its control plane)']);
  t.deepEqual(issues({ spoofMap: { 'a.test': '10.0.0.1' } }, ctxWith({ missing: ['natRedirect'] })), [
    ': linux-dns-spoof needs nf_tables nat chains with redirect (nf_nat, nft_chain_nat, nft_redir), which this kernel does not offer (ENOENT (not in this fake kernel))',
  ]);
});

test('the plan hands each address to the interceptor with a short TTL and redirects as linux-dns-error does', async (t) => {
  const ctx = ctxWith({ controlPlaneName: 'hub.example.com' });
  const params = validParams(KIND, { spoofMap: { 'api.example.com': '10.0.0.9', 'v6.test': 'fd00::9' } }, ctx);
  const planned = await moduleOf(KIND).plan(FAULT_ID, params, ctx);
  t.is(planned.target, 'DNS to 10.0.0.53:53: "api.example.com" → 10.0.0.9, "v6.test" → fd00::9 (TTL 5 s); the rest are forwarded unchanged');
  t.regex(planned.changes[0] ?? '', /dns --server=10\.0\.0\.53 --upstream-port=53 --mark=262241619 --action=spoof --ttl=5 --spoof=api\.example\.com=10\.0\.0\.9 --spoof=v6\.test=fd00::9 --spare=hub\.example\.com /);
  t.true(planned.changes.includes(`nf_tables: add chain inet faultd ${FAULT_ID}-dns (type nat hook output priority -100), one atomic batch, after the interceptor is ready:`));
  t.deepEqual(Object.keys(planned.revert).sort(), ['flows', 'interceptor', 'nft']);
});
