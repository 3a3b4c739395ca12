// SPDX-License-Identifier: Apache-2.0
// linux-network-loss against the recording netlink fake: netem loss over a configured root
// (restored), and without sch_netem the nf_tables numgen drop chain: added in one batch,
// deleted and verified at revert, idempotent, and a refused delete reported with its fix.
import test from 'ava';

import type { NftChainSpec } from '../../../../src/native/addon.js';
import { FakeNetlink, kernelError, TC_H_ROOT, token } from '../../../helpers/fake-netlink.js';
import { applyFault, failedRevert, FAULT_ID, moduleOf, netlinkContext, revertFault, validParams } from '../../../helpers/network-fault.js';

const KIND = 'linux-network-loss';

test('netem loss over a configured fq_codel root, which revert puts back', async (t) => {
  const kernel = new FakeNetlink({ eth0: { root: { handle: 0x80010000, parent: TC_H_ROOT, kind: 'fq_codel', options: token('fq_codel-prior') } } });
  const ctx = netlinkContext(kernel);
  const before = kernel.state();
  const applied = await applyFault(kernel, KIND, { networkInterfaces: 'eth0', packetLossPercentage: 30, correlation: 50, whitelistSSH: false }, ctx);
  t.is(applied.record['mechanism'], 'netem');
  t.deepEqual(applied.applyCalls, ['netemOptions {"lossPct":30,"lossCorrelationPct":50}', 'qdiscReplace eth0 root f3e9: netem netem{"lossPct":30,"lossCorrelationPct":50}']);
  const reverted = await revertFault(kernel, KIND, applied.record, ctx);
  t.deepEqual(reverted.calls, ['qdiscList eth0', 'qdiscReplace eth0 root 8001: fq_codel fq_codel-prior', 'qdiscList eth0']);
  t.deepEqual(kernel.state(), before);
});

/** The chain specs the fault added, from the recorded calls. */
function chainsAdded(kernel: FakeNetlink): NftChainSpec[] {
  return kernel.calls.filter((c) => c.method === 'nftAddChain').map((c) => c.args[0] as NftChainSpec);
}

test('without netem: one nf_tables chain on the output hook, deleted and verified at revert, idempotent', async (t) => {
  const kernel = new FakeNetlink();
  const ctx = netlinkContext(kernel, { missing: ['netem'] });
  const applied = await applyFault(kernel, KIND, { networkInterfaces: 'eth0', packetLossPercentage: 30 }, ctx);
  t.is(applied.record['mechanism'], 'nftables');
  t.deepEqual(applied.planCalls, [], 'planning an nf_tables fault reads nothing');
  t.deepEqual(applied.applyCalls, [`nftAddChain faultd ${FAULT_ID}-out output 0 3 rule(s)`]);
  t.deepEqual(applied.record, { bootId: ctx.host.bootId, table: 'faultd', chains: [`${FAULT_ID}-out`], mechanism: 'nftables' });
  t.deepEqual(kernel.nft.get('faultd'), [`${FAULT_ID}-out`]);

  const reverted = await revertFault(kernel, KIND, applied.record, ctx);
  t.deepEqual(reverted.calls, [`nftDeleteChain faultd ${FAULT_ID}-out`, 'nftListChains faultd']);
  t.deepEqual(reverted.outcome, { outcome: 'reverted', detail: `removed nf_tables chain(s) ${FAULT_ID}-out` });
  t.deepEqual(kernel.state(), new FakeNetlink().state(), 'the table went with its last chain');

  const idempotent = await revertFault(kernel, KIND, applied.record, ctx);
  t.deepEqual(idempotent.calls, [`nftDeleteChain faultd ${FAULT_ID}-out`, 'nftListChains faultd']);
  t.deepEqual(idempotent.outcome, { outcome: 'already-absent', detail: 'no faultd chain was left' });
});

test('the nf_tables loss rules: SSH ports accepted first, then the random drop on the interface', async (t) => {
  const kernel = new FakeNetlink();
  const ctx = netlinkContext(kernel, { missing: ['netem'] });
  kernel.clearLog();
  const planned = await moduleOf(KIND).plan(FAULT_ID, validParams(KIND, { networkInterfaces: 'eth0', packetLossPercentage: 30 }, ctx), ctx);
  await planned.apply(() => Promise.resolve(), new AbortController().signal);
  t.deepEqual(chainsAdded(kernel), [
    {
      table: 'faultd',
      chain: `${FAULT_ID}-out`,
      hook: 'output',
      priority: 0,
      rules: [
        { l4proto: 'tcp', port: 22, matchSourcePort: true, verdict: 'accept' },
        { l4proto: 'tcp', port: 2222, matchSourcePort: true, verdict: 'accept' },
        { verdict: 'drop', percent: 30, ifname: 'eth0' },
      ],
    },
  ]);
});

test('a chain delete the kernel refuses is a revert-failed naming the chain and the nft commands', async (t) => {
  const kernel = new FakeNetlink();
  const ctx = netlinkContext(kernel, { missing: ['netem'] });
  const applied = await applyFault(kernel, KIND, { networkInterfaces: 'eth0', packetLossPercentage: 30 }, ctx);
  kernel.fail('nftDeleteChain', kernelError('EBUSY', 'NFT_MSG_DELCHAIN'));
  const failed = await failedRevert(t, kernel, KIND, applied.record, ctx);
  t.deepEqual(failed.calls, [`nftDeleteChain faultd ${FAULT_ID}-out`, 'nftListChains faultd']);
  t.is(failed.error?.message, `nf_tables chains ${FAULT_ID}-out are still there after delete (${FAULT_ID}-out: NFT_MSG_DELCHAIN EBUSY)`);
  t.is(failed.error?.leftover, `chain inet faultd ${FAULT_ID}-out`);
  t.is(failed.error?.manualFix, `nft flush chain inet faultd ${FAULT_ID}-out && nft delete chain inet faultd ${FAULT_ID}-out`);
  const retried = await revertFault(kernel, KIND, applied.record, ctx);
  t.is(retried.outcome.outcome, 'reverted');
});
