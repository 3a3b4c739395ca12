// SPDX-License-Identifier: Apache-2.0
// linux-network-duplication against the recording netlink fake: netem duplicate parameters,
// apply and revert calls, and a configured child qdisc (which would be lost) refused at plan.
import test from 'ava';

import { FakeNetlink, kernelError, TC_H_ROOT, token } from '../../../helpers/fake-netlink.js';
import { applyFault, failedRevert, FAULT_ID, moduleOf, netlinkContext, revertFault, validParams } from '../../../helpers/network-fault.js';

const KIND = 'linux-network-duplication';

test('netem duplicate over a configured pfifo root, which revert puts back', async (t) => {
  const kernel = new FakeNetlink({ eth0: { root: { handle: 0x50000, parent: TC_H_ROOT, kind: 'pfifo', options: token('pfifo limit 100') } } });
  const ctx = netlinkContext(kernel);
  const before = kernel.state();
  const applied = await applyFault(kernel, KIND, { networkInterfaces: 'eth0', packetDuplicationPercentage: 10, whitelistSSH: false }, ctx);
  t.deepEqual(applied.applyCalls, ['netemOptions {"duplicatePct":10,"duplicateCorrelationPct":0}', 'qdiscReplace eth0 root f3e9: netem netem{"duplicatePct":10,"duplicateCorrelationPct":0}']);
  kernel.fail('qdiscReplace', kernelError('EINVAL', 'RTM_NEWQDISC', 'Invalid argument'));
  const failed = await failedRevert(t, kernel, KIND, applied.record, ctx);
  t.is(failed.error?.leftover, "faultd's root qdisc f3e9: on eth0");
  t.is(failed.error?.manualFix, 'tc qdisc replace dev eth0 root handle 5: pfifo <its previous options>');
  const reverted = await revertFault(kernel, KIND, applied.record, ctx);
  t.deepEqual(reverted.calls, ['qdiscList eth0', 'qdiscReplace eth0 root 5: pfifo pfifo limit 100', 'qdiscList eth0']);
  t.deepEqual(kernel.state(), before);
  const again = await revertFault(kernel, KIND, applied.record, ctx);
  t.deepEqual(again.calls, ['qdiscList eth0']);
  t.is(again.outcome.outcome, 'already-absent');
});

test('an mq root with a configured child qdisc is refused at plan: replacing the root would lose the child', async (t) => {
  const kernel = new FakeNetlink({
    eth0: {
      root: { handle: 0, parent: TC_H_ROOT, kind: 'mq', options: token('') },
      qdiscs: [
        { handle: 0, parent: 0x1, kind: 'fq_codel', options: token('kernel default child') },
        { handle: 0x70000, parent: 0x2, kind: 'fq', options: token('configured child') },
      ],
    },
  });
  const ctx = netlinkContext(kernel);
  await t.throwsAsync(moduleOf(KIND).plan(FAULT_ID, validParams(KIND, { networkInterfaces: 'eth0' }, ctx), ctx), {
    message: 'eth0 has a configured fq qdisc (7:) below its root, which faultd cannot yet restore exactly; refusing to replace the root',
  });
  t.deepEqual(kernel.log(), ['qdiscList eth0']);
});
