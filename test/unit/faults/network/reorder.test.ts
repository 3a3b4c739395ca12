// SPDX-License-Identifier: Apache-2.0
// linux-network-reorder against the recording netlink fake: netem reorder with its delay and gap,
// the SSH-sparing htb layout over a configured tbf root, and that root restored at revert.
import test from 'ava';

import { FakeNetlink, TC_H_ROOT, token } from '../../../helpers/fake-netlink.js';
import { applyFault, failedRevert, netlinkContext, revertFault } from '../../../helpers/network-fault.js';

const KIND = 'linux-network-reorder';
const NETEM = 'netem{"delayUs":10000,"reorderPct":25,"reorderCorrelationPct":50,"gap":5}';

test('netem reorder with delay and gap below the htb layout that spares SSH; the configured tbf root comes back', async (t) => {
  const kernel = new FakeNetlink({ eth0: { root: { handle: 0x10000, parent: TC_H_ROOT, kind: 'tbf', options: token('tbf-prior') } } });
  const ctx = netlinkContext(kernel);
  const before = kernel.state();
  const applied = await applyFault(kernel, KIND, { networkInterfaces: 'eth0', packetReorderPercentage: 25, latency: 10, gap: 5, correlation: 50 }, ctx);
  t.deepEqual(applied.applyCalls.slice(0, 7), [
    'netemOptions {"delayUs":10000,"reorderPct":25,"reorderCorrelationPct":50,"gap":5}',
    'htbQdiscOptions 2',
    'qdiscReplace eth0 root f3e9: htb htb{"default":2}',
    'htbClassOptions {"rateBytesPerSec":12500000000}',
    'classReplace eth0 f3e9: f3e9:1 htb htbclass{"rate":12500000000}',
    'classReplace eth0 f3e9: f3e9:2 htb htbclass{"rate":12500000000}',
    `qdiscReplace eth0 f3e9:2 e3e9: netem ${NETEM} exclusive`,
  ]);
  t.is(applied.applyCalls.filter((c) => c.startsWith('filterAdd')).length, 5, 'SSH 22 and 2222 for IPv4 and IPv6, and ARP');
  t.is(applied.planned.revertSteps[0], 'restore the tbf root qdisc 1: on eth0 from its saved options');
  // A kernel that acknowledges the restore but keeps faultd's root: the verification catches it.
  kernel.ignore('qdiscReplace');
  const failed = await failedRevert(t, kernel, KIND, applied.record, ctx);
  t.is(failed.error?.message, 'eth0: root qdisc of eth0 is htb f3e9: after restore, expected tbf 1:');
  t.is(failed.error?.manualFix, 'tc qdisc replace dev eth0 root handle 1: tbf <its previous options>');
  const reverted = await revertFault(kernel, KIND, applied.record, ctx);
  t.deepEqual(reverted.calls, ['qdiscList eth0', 'qdiscReplace eth0 root 1: tbf tbf-prior', 'qdiscList eth0']);
  t.deepEqual(kernel.state(), before, 'the tbf root is back and the htb layout is gone with faultd\'s root');
  const again = await revertFault(kernel, KIND, applied.record, ctx);
  t.deepEqual(again.calls, ['qdiscList eth0']);
  t.is(again.outcome.outcome, 'already-absent');
});
