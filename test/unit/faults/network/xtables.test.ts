// SPDX-License-Identifier: Apache-2.0
// The x_tables backend of the network faults (iptables-legacy-only hosts) against the recording
// fake: the nf_tables rules translated per family and hook (addresses to their family, ICMP to
// its, the interface on the hook's side, the statistic share, the NFQUEUE target), exemptions
// ahead of the drops as in nf_tables, chains named within iptables' 28 bytes, the revert record
// naming every chain before any is added, revert verified and idempotent.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import test from 'ava';

import { xtablesChainName, xtablesChains, xtablesRules } from '../../../../src/faults/network/xtables-fault.js';
import type { NftFaultRequest } from '../../../../src/faults/network/nft-fault.js';
import type { FaultContext } from '../../../../src/faults/types.js';
import type { XtablesChainSpec } from '../../../../src/native/addon.js';
import { FakeNetlink, kernelError } from '../../../helpers/fake-netlink.js';
import { applyFault, failedRevert, FAULT_ID, netlinkContext, revertFault, validParams, moduleOf } from '../../../helpers/network-fault.js';

const OUT = xtablesChainName(FAULT_ID, 'output');
const IN = xtablesChainName(FAULT_ID, 'input');

function legacyContext(kernel: FakeNetlink, missing: ('netem' | 'nftables')[] = ['nftables']): FaultContext {
  const ctx = netlinkContext(kernel, { missing });
  const controlPlane = [{ target: { address: '10.9.9.9', prefixLen: 32, version: 4 as const, ports: [] }, reason: 'control plane 10.9.9.9:8443' }];
  return { ...ctx, network: { ...ctx.network, safety: { ...ctx.network.safety, controlPlane } } };
}

const REQUEST: NftFaultRequest = {
  faultId: 'run-1-f',
  direction: 'both',
  interfaces: [],
  targets: [],
  remotePorts: { include: [], exclude: [] },
  localPorts: { include: [], exclude: [] },
  protocol: 'all',
  action: { kind: 'drop', percent: 100 },
  excludeTargets: [],
  sshPorts: [22],
};

test('chain names fit iptables (28 bytes) whatever the fault id, one per hook', (t) => {
  const long = xtablesChainName(`${'r'.repeat(60)}-fault`, 'prerouting');
  t.regex(long, /^FAULTD-[0-9a-f]{16}-pre$/);
  t.true(long.length <= 28);
  t.not(xtablesChainName('a', 'input'), xtablesChainName('b', 'input'));
  t.is(xtablesChainName('a', 'output').replace(/-out$/, ''), xtablesChainName('a', 'input').replace(/-in$/, ''));
});

test('one nf_tables rule becomes the x_tables rule of each family it applies to', (t) => {
  t.deepEqual(xtablesRules({ address: '10.0.0.0', prefixLen: 8, l4proto: 'tcp', port: 80, verdict: 'drop' }, 'output'), [
    { family: 4, rule: { address: '10.0.0.0', prefixLen: 8, matchSourceAddress: false, l4proto: 'tcp', port: 80, matchSourcePort: false, verdict: 'drop' } },
  ]);
  t.deepEqual(xtablesRules({ address: 'fd00::5', matchSourceAddress: true, verdict: 'drop' }, 'input'), [
    { family: 6, rule: { address: 'fd00::5', prefixLen: 128, matchSourceAddress: true, verdict: 'drop' } },
  ]);
  t.deepEqual(xtablesRules({ l4proto: 'tcp', port: 22, matchSourcePort: true, verdict: 'accept' }, 'output').map((r) => r.family), [4, 6]);
  t.deepEqual(xtablesRules({ l4proto: 'icmp', verdict: 'drop' }, 'input').map((r) => r.family), [4]);
  t.deepEqual(xtablesRules({ l4proto: 'icmpv6', verdict: 'drop' }, 'input').map((r) => r.family), [6]);
  t.deepEqual(xtablesRules({ ipVersion: 6, l4proto: 'udp', port: 53, verdict: 'accept' }, 'input').map((r) => r.family), [6]);
  // The interface is the hook's side of the packet, as nft's oifname / iifname.
  t.like(xtablesRules({ ifname: 'eth1', verdict: 'drop' }, 'output')[0]?.rule, { outInterface: 'eth1' });
  t.like(xtablesRules({ ifname: 'eth1', verdict: 'drop' }, 'input')[0]?.rule, { inInterface: 'eth1' });
  t.like(xtablesRules({ ifname: 'eth1', verdict: 'drop' }, 'prerouting')[0]?.rule, { inInterface: 'eth1' });
  t.like(xtablesRules({ percent: 30, verdict: 'drop' }, 'output')[0]?.rule, { percent: 30, verdict: 'drop' });
  t.false('percent' in (xtablesRules({ percent: 100, verdict: 'drop' }, 'output')[0]?.rule ?? {}));
  t.like(xtablesRules({ verdict: 'queue', queueNum: 61500 }, 'prerouting')[0]?.rule, { verdict: 'queue', queueNum: 61500 });
  t.throws(() => xtablesRules({ mark: 7, verdict: 'accept' }, 'output'), { message: 'the x_tables backend has no mark match' });
  t.throws(() => xtablesRules({ verdict: 'redirect', redirectPort: 53 }, 'output'), { message: 'the x_tables backend has no redirect' });
});

test('a family with nothing but exemptions gets no chain; the other keeps them ahead of its drops', (t) => {
  const chains = xtablesChains({ ...REQUEST, targets: [{ address: '10.1.0.0', prefixLen: 16, version: 4, ports: [] }], excludeTargets: [{ address: '10.1.2.3', prefixLen: 32, version: 4, ports: [] }] });
  t.deepEqual(
    chains.map((c) => `${c.family} ${c.table} ${c.chain} ${c.hooks.join(',')}`),
    [`4 filter ${xtablesChainName('run-1-f', 'output')} output`, `4 filter ${xtablesChainName('run-1-f', 'input')} input`],
  );
  t.deepEqual(chains[0]?.rules, [
    { l4proto: 'tcp', port: 22, matchSourcePort: true, verdict: 'accept' },
    { address: '10.1.2.3', prefixLen: 32, matchSourceAddress: false, verdict: 'accept' },
    { address: '10.1.0.0', prefixLen: 16, matchSourceAddress: false, verdict: 'drop' },
  ]);
  t.deepEqual(chains[1]?.rules.at(-1), { address: '10.1.0.0', prefixLen: 16, matchSourceAddress: true, verdict: 'drop' });
  // Ports without an address apply to both families.
  const ports = xtablesChains({ ...REQUEST, direction: 'egress', remotePorts: { include: [5432], exclude: [] } });
  t.deepEqual(ports.map((c) => c.family), [4, 6]);
  t.deepEqual(ports[1]?.rules.slice(1), [
    { l4proto: 'tcp', port: 5432, matchSourcePort: false, verdict: 'drop' },
    { l4proto: 'udp', port: 5432, matchSourcePort: false, verdict: 'drop' },
  ]);
  // The delayer's queue: mangle prerouting, in both families.
  const queue = xtablesChains({ ...REQUEST, interfaces: ['eth0'], action: { kind: 'queue', queueNum: 61700 } });
  t.deepEqual(queue.map((c) => `${c.family} ${c.table} ${c.hooks.join(',')}`), ['4 mangle prerouting', '6 mangle prerouting']);
  t.deepEqual(queue[0]?.rules.at(-1), { inInterface: 'eth0', verdict: 'queue', queueNum: 61700 });
});

test('partition on an iptables-legacy-only host: x_tables chains with SSH and the control plane exempt; revert verified and idempotent', async (t) => {
  const kernel = new FakeNetlink();
  const ctx = legacyContext(kernel);
  const before = kernel.state();
  const applied = await applyFault(kernel, 'linux-network-partition', { destinationIPs: '10.0.0.0/8,fd00::/64', destinationPorts: '5432', protocol: 'tcp' }, ctx);
  t.deepEqual(applied.applyCalls, [
    `xtablesAddChain ip filter ${OUT} output 4 rule(s)`,
    `xtablesAddChain ip6 filter ${OUT} output 3 rule(s)`,
    `xtablesAddChain ip filter ${IN} input 4 rule(s)`,
    `xtablesAddChain ip6 filter ${IN} input 3 rule(s)`,
  ]);
  t.deepEqual(applied.record, {
    backend: 'xtables',
    bootId: ctx.host.bootId,
    chains: [
      { family: 4, table: 'filter', chain: OUT, hook: 'output' },
      { family: 6, table: 'filter', chain: OUT, hook: 'output' },
      { family: 4, table: 'filter', chain: IN, hook: 'input' },
      { family: 6, table: 'filter', chain: IN, hook: 'input' },
    ],
  });
  t.true(applied.planned.target.endsWith('(x_tables, no nf_tables here)'));
  t.regex(applied.planned.changes.join('\n'), /x_tables \(nf_tables is missing\): add iptables-legacy -t filter chain FAULTD-[0-9a-f]{16}-out with 4 rule\(s\) and `-I OUTPUT -j FAULTD-[0-9a-f]{16}-out`/);

  const reverted = await revertFault(kernel, 'linux-network-partition', applied.record, ctx);
  t.deepEqual(reverted.outcome.outcome, 'reverted');
  t.deepEqual(reverted.calls.slice(0, 4), [`xtablesDeleteChain filter ${OUT} 4`, `xtablesDeleteChain filter ${OUT} 6`, `xtablesDeleteChain filter ${IN} 4`, `xtablesDeleteChain filter ${IN} 6`]);
  t.deepEqual(kernel.state(), before);
  const again = await revertFault(kernel, 'linux-network-partition', applied.record, ctx);
  t.deepEqual(again.outcome, { outcome: 'already-absent', detail: 'no faultd x_tables chain was left' });
});

test('the rules a partition gives the kernel: control plane and SSH accepted first, then the drops', async (t) => {
  const kernel = new FakeNetlink();
  const ctx = legacyContext(kernel);
  const params = validParams('linux-network-partition', { destinationIPs: '10.0.0.0/8', networkInterfaces: 'eth0' }, ctx);
  await (await moduleOf('linux-network-partition').plan(FAULT_ID, params, ctx)).apply(() => Promise.resolve(), new AbortController().signal);
  const specs = kernel.calls.filter((c) => c.method === 'xtablesAddChain').map((c) => c.args[0] as XtablesChainSpec);
  t.deepEqual(
    specs.map((s) => `${s.family} ${s.hooks.join(',')}`),
    ['4 output', '4 input'],
    'IPv6 gets no chain: only its SSH exemptions would be in it',
  );
  t.deepEqual(specs[0]?.rules, [
    { l4proto: 'tcp', port: 22, matchSourcePort: true, verdict: 'accept' },
    { l4proto: 'tcp', port: 2222, matchSourcePort: true, verdict: 'accept' },
    { address: '10.9.9.9', prefixLen: 32, matchSourceAddress: false, verdict: 'accept' },
    { address: '10.0.0.0', prefixLen: 8, matchSourceAddress: false, outInterface: 'eth0', verdict: 'drop' },
  ]);
  t.deepEqual(specs[1]?.rules.at(-1), { address: '10.0.0.0', prefixLen: 8, matchSourceAddress: true, inInterface: 'eth0', verdict: 'drop' });
});

test('loss without netem nor nf_tables: statistic drops on output; its record reverts through x_tables', async (t) => {
  const kernel = new FakeNetlink();
  const ctx = legacyContext(kernel, ['netem', 'nftables']);
  const applied = await applyFault(kernel, 'linux-network-loss', { networkInterfaces: 'eth0', packetLossPercentage: 30 }, ctx);
  t.is(applied.record['mechanism'], 'xtables');
  const specs = kernel.xtables;
  t.deepEqual([...specs.keys()], ['ip:filter', 'ip6:filter']);
  t.true(applied.planned.target.includes('(x_tables statistic, no sch_netem nor nf_tables here)'));
  const reverted = await revertFault(kernel, 'linux-network-loss', applied.record, ctx);
  t.is(reverted.outcome.outcome, 'reverted');
  t.deepEqual(kernel.state(), new FakeNetlink().state());
});

test('a removal refused for one chain: the others go, the revert fails naming what is left and the iptables-legacy commands to remove it', async (t) => {
  const kernel = new FakeNetlink();
  const ctx = legacyContext(kernel);
  const applied = await applyFault(kernel, 'linux-network-partition', { destinationIPs: '10.0.0.5' }, ctx);
  kernel.fail('xtablesDeleteChain', kernelError('EPERM', 'setsockopt'), { when: ([, chain]) => chain === IN });
  const failed = await failedRevert(t, kernel, 'linux-network-partition', applied.record, ctx);
  t.is(failed.error?.leftover, `iptables-legacy -t filter chain ${IN}`);
  t.is(failed.error?.manualFix, `iptables-legacy -t filter -D INPUT -j ${IN}; iptables-legacy -t filter -F ${IN}; iptables-legacy -t filter -X ${IN}`);
  t.regex(failed.error?.message ?? '', /setsockopt EPERM/);
  t.deepEqual(kernel.xtables.get('ip:filter'), [IN]);
  const retried = await revertFault(kernel, 'linux-network-partition', applied.record, ctx);
  t.is(retried.outcome.outcome, 'reverted');
});

test('an addition refused half way: the intent record already names every chain, so its revert removes the one added', async (t) => {
  const kernel = new FakeNetlink();
  const ctx = legacyContext(kernel);
  kernel.fail('xtablesAddChain', kernelError('ENOENT', 'setsockopt', 'IPT_SO_SET_REPLACE filter'), { when: ([spec]) => (spec as XtablesChainSpec).hooks[0] === 'input' });
  const params = validParams('linux-network-partition', { destinationIPs: '10.0.0.5' }, ctx);
  const planned = await moduleOf('linux-network-partition').plan(FAULT_ID, params, ctx);
  await t.throwsAsync(planned.apply(() => Promise.resolve(), new AbortController().signal), { message: /setsockopt ENOENT/ });
  t.deepEqual(kernel.xtables.get('ip:filter'), [OUT]);
  const reverted = await revertFault(kernel, 'linux-network-partition', planned.revert, ctx);
  t.is(reverted.outcome.outcome, 'reverted');
  t.deepEqual(kernel.xtables.get('ip:filter'), []);
});

test('a table the kernel does not have (ENOENT, ENOPROTOOPT) holds no chain: the revert is already-absent, not an error', async (t) => {
  const kernel = new FakeNetlink();
  const ctx = legacyContext(kernel);
  const record = { backend: 'xtables', bootId: ctx.host.bootId, chains: [{ family: 6, table: 'filter', chain: OUT, hook: 'output' }] };
  kernel.fail('xtablesDeleteChain', kernelError('ENOPROTOOPT', 'getsockopt'));
  kernel.fail('xtablesListChains', kernelError('ENOPROTOOPT', 'getsockopt'));
  const reverted = await revertFault(kernel, 'linux-network-partition', record, ctx);
  t.deepEqual(reverted.outcome, { outcome: 'already-absent', detail: 'no faultd x_tables chain was left' });
});

test('nf_tables records of before keep reverting through nf_tables', async (t) => {
  const kernel = new FakeNetlink();
  const ctx = netlinkContext(kernel);
  const applied = await applyFault(kernel, 'linux-network-partition', { destinationIPs: '10.0.0.5' }, ctx);
  t.false('backend' in applied.record);
  const reverted = await revertFault(kernel, 'linux-network-partition', applied.record, ctx);
  t.is(reverted.calls[0], `nftDeleteChain faultd ${FAULT_ID}-out`);
});

test('a table /proc/net says this namespace never brought up is not asked for (asking would bring it up); unreadable lists leave it to the kernel', async (t) => {
  const proc = mkdtempSync(path.join(tmpdir(), 'faultd-proc-'));
  t.teardown(() => rmSync(proc, { recursive: true, force: true }));
  mkdirSync(path.join(proc, 'net'));
  writeFileSync(path.join(proc, 'net', 'ip_tables_names'), 'mangle\nfilter\n');
  writeFileSync(path.join(proc, 'net', 'ip6_tables_names'), 'mangle\n');
  const kernel = new FakeNetlink();
  const ctx = { ...legacyContext(kernel), procRoot: proc };
  const applied = await applyFault(kernel, 'linux-network-partition', { destinationPorts: '7004', direction: 'egress' }, ctx);
  t.deepEqual(applied.applyCalls, [`xtablesAddChain ip filter ${OUT} output 5 rule(s)`, `xtablesAddChain ip6 filter ${OUT} output 4 rule(s)`]);
  // As if the IPv6 chain had never been added: /proc lists no ip6 filter.
  kernel.xtables.delete('ip6:filter');
  const reverted = await revertFault(kernel, 'linux-network-partition', applied.record, ctx);
  t.deepEqual(reverted.calls, [`xtablesDeleteChain filter ${OUT} 4`, `xtablesListChains filter 4`]);
  t.is(reverted.outcome.outcome, 'reverted');
  // No list to read (/nonexistent, the fake's procRoot): every table is asked.
  const unread = await revertFault(kernel, 'linux-network-partition', applied.record, legacyContext(kernel));
  t.deepEqual(unread.calls, [`xtablesDeleteChain filter ${OUT} 4`, `xtablesDeleteChain filter ${OUT} 6`, `xtablesListChains filter 4`, `xtablesListChains filter 6`]);
});
