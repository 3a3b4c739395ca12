// SPDX-License-Identifier: Apache-2.0
// linux-network-partition against the recording netlink fake: one chain per hook with the
// exemptions (SSH, the control plane from the network context, excludeIPs) ahead of the drops;
// revert deletes every chain and verifies, idempotent, and a refused delete reported per chain.
import test from 'ava';

import type { NftChainSpec } from '../../../../src/native/addon.js';
import type { FaultContext } from '../../../../src/faults/types.js';
import { FakeNetlink, kernelError } from '../../../helpers/fake-netlink.js';
import { applyFault, failedRevert, FAULT_ID, moduleOf, netlinkContext, revertFault, validParams } from '../../../helpers/network-fault.js';

const KIND = 'linux-network-partition';
const OUT = `${FAULT_ID}-out`;
const IN = `${FAULT_ID}-in`;

/** A context whose network extension names a control plane at 10.9.9.9. */
function withControlPlane(kernel: FakeNetlink): FaultContext {
  const ctx = netlinkContext(kernel);
  const controlPlane = [{ target: { address: '10.9.9.9', prefixLen: 32, version: 4 as const, ports: [] }, reason: 'control plane 10.9.9.9:8443' }];
  return { ...ctx, network: { ...ctx.network, safety: { ...ctx.network.safety, controlPlane } } };
}

test('both directions: an output and an input chain, SSH and the control plane accepted ahead of the drops', async (t) => {
  const kernel = new FakeNetlink();
  const ctx = withControlPlane(kernel);
  const applied = await applyFault(kernel, KIND, { destinationIPs: '10.0.0.0/8', destinationPorts: '5432', protocol: 'tcp', excludeIPs: '10.1.1.1' }, ctx);
  t.deepEqual(applied.planCalls, []);
  t.deepEqual(applied.applyCalls, [`nftAddChain faultd ${OUT} output 0 5 rule(s)`, `nftAddChain faultd ${IN} input 0 5 rule(s)`]);
  t.deepEqual(applied.record, { bootId: ctx.host.bootId, table: 'faultd', chains: [OUT, IN] });
  t.true(applied.planned.changes.includes("kept out of the fault: 10.1.1.1 (excludeIPs/excludeHosts), 10.9.9.9 (control plane 10.9.9.9:8443), this host's SSH on port 22, 2222"));

  const reverted = await revertFault(kernel, KIND, applied.record, ctx);
  t.deepEqual(reverted.calls, [`nftDeleteChain faultd ${OUT}`, `nftDeleteChain faultd ${IN}`, 'nftListChains faultd']);
  t.deepEqual(reverted.outcome, { outcome: 'reverted', detail: `removed nf_tables chain(s) ${OUT}, ${IN}` });
  t.deepEqual(kernel.state(), new FakeNetlink().state());

  const again = await revertFault(kernel, KIND, applied.record, ctx);
  t.deepEqual(again.calls, reverted.calls);
  t.deepEqual(again.outcome, { outcome: 'already-absent', detail: 'no faultd chain was left' });
});

test('the partition rules of each hook: remote end is the destination on output, the source on input', async (t) => {
  const kernel = new FakeNetlink();
  const ctx = withControlPlane(kernel);
  const params = validParams(KIND, { destinationIPs: '10.0.0.0/8', destinationPorts: '5432', protocol: 'tcp', excludeIPs: '10.1.1.1' }, ctx);
  const planned = await moduleOf(KIND).plan(FAULT_ID, params, ctx);
  await planned.apply(() => Promise.resolve(), new AbortController().signal);
  const chains = kernel.calls.filter((c) => c.method === 'nftAddChain').map((c) => c.args[0] as NftChainSpec);
  const exempt = (outgoing: boolean) => [
    { l4proto: 'tcp', port: 22, matchSourcePort: outgoing, verdict: 'accept' },
    { l4proto: 'tcp', port: 2222, matchSourcePort: outgoing, verdict: 'accept' },
    { address: '10.1.1.1', prefixLen: 32, matchSourceAddress: !outgoing, verdict: 'accept' },
    { address: '10.9.9.9', prefixLen: 32, matchSourceAddress: !outgoing, verdict: 'accept' },
  ];
  t.deepEqual(chains, [
    { table: 'faultd', chain: OUT, hook: 'output', priority: 0, rules: [...exempt(true), { address: '10.0.0.0', prefixLen: 8, matchSourceAddress: false, l4proto: 'tcp', verdict: 'drop', port: 5432, matchSourcePort: false }] },
    { table: 'faultd', chain: IN, hook: 'input', priority: 0, rules: [...exempt(false), { address: '10.0.0.0', prefixLen: 8, matchSourceAddress: true, l4proto: 'tcp', verdict: 'drop', port: 5432, matchSourcePort: true }] },
  ]);
});

test('a delete refused for one chain: the other is removed, the revert fails naming only what is left', async (t) => {
  const kernel = new FakeNetlink();
  const ctx = netlinkContext(kernel);
  const applied = await applyFault(kernel, KIND, { destinationIPs: '10.0.0.5' }, ctx);
  kernel.fail('nftDeleteChain', kernelError('EPERM', 'NFT_MSG_DELCHAIN'), { when: ([, chain]) => chain === IN });
  const failed = await failedRevert(t, kernel, KIND, applied.record, ctx);
  t.deepEqual(failed.calls, [`nftDeleteChain faultd ${OUT}`, `nftDeleteChain faultd ${IN}`, 'nftListChains faultd']);
  t.is(failed.error?.leftover, `chain inet faultd ${IN}`);
  t.is(failed.error?.manualFix, `nft flush chain inet faultd ${IN} && nft delete chain inet faultd ${IN}`);
  t.deepEqual(kernel.nft.get('faultd'), [IN]);
  const retried = await revertFault(kernel, KIND, applied.record, ctx);
  t.deepEqual(retried.outcome, { outcome: 'reverted', detail: `removed nf_tables chain(s) ${OUT}, ${IN}` });
  t.false(kernel.nft.has('faultd'));
});

test('a chain batch refused at apply: the chain added before it is removed by the revert of the intent record', async (t) => {
  const kernel = new FakeNetlink();
  const ctx = netlinkContext(kernel);
  kernel.fail('nftAddChain', kernelError('EOPNOTSUPP', 'NFT_MSG_NEWRULE'), { when: ([spec]) => (spec as NftChainSpec).hook === 'input' });
  await t.throwsAsync(applyFault(kernel, KIND, { destinationIPs: '10.0.0.5' }, ctx), { message: 'NFT_MSG_NEWRULE EOPNOTSUPP' });
  t.deepEqual(kernel.nft.get('faultd'), [OUT], 'the output chain went in before the refusal');
  const reverted = await revertFault(kernel, KIND, { bootId: ctx.host.bootId, table: 'faultd', chains: [OUT, IN] }, ctx);
  t.deepEqual(reverted.calls, [`nftDeleteChain faultd ${OUT}`, `nftDeleteChain faultd ${IN}`, 'nftListChains faultd']);
  t.is(reverted.outcome.outcome, 'reverted');
  t.false(kernel.nft.has('faultd'));
});
