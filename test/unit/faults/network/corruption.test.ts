// SPDX-License-Identifier: Apache-2.0
// linux-network-corruption against the recording netlink fake: netem corrupt parameters, apply
// and revert calls, and a root another fault of faultd owns refused at plan.
import test from 'ava';

import { FakeNetlink, kernelError, TC_H_ROOT, token } from '../../../helpers/fake-netlink.js';
import { applyFault, failedRevert, FAULT_ID, moduleOf, netlinkContext, revertFault, validParams } from '../../../helpers/network-fault.js';

const KIND = 'linux-network-corruption';

test('netem corrupt with its correlation; a refused revert names the fix, a retry deletes it and the default root is back', async (t) => {
  const kernel = new FakeNetlink();
  const ctx = netlinkContext(kernel);
  const before = kernel.state();
  const applied = await applyFault(kernel, KIND, { networkInterfaces: 'eth0', packetCorruptionPercentage: 5, correlation: 25, whitelistSSH: false }, ctx);
  t.deepEqual(applied.planCalls, ['qdiscList eth0']);
  t.deepEqual(applied.applyCalls, ['netemOptions {"corruptPct":5,"corruptCorrelationPct":25}', 'qdiscReplace eth0 root f3e9: netem netem{"corruptPct":5,"corruptCorrelationPct":25} exclusive']);
  t.is(applied.planned.target, 'eth0 egress: corrupt 5% 25% correlated');
  kernel.fail('qdiscDelete', kernelError('EPERM', 'RTM_DELQDISC', 'Operation not permitted'));
  const failed = await failedRevert(t, kernel, KIND, applied.record, ctx);
  t.deepEqual(failed.calls, ['qdiscList eth0', 'qdiscDelete eth0 root f3e9:']);
  t.is(failed.error?.message, 'eth0: RTM_DELQDISC EPERM: Operation not permitted');
  t.is(failed.error?.leftover, "faultd's root qdisc f3e9: on eth0");
  t.is(failed.error?.manualFix, 'tc qdisc del dev eth0 root');
  const reverted = await revertFault(kernel, KIND, applied.record, ctx);
  t.deepEqual(reverted.calls, ['qdiscList eth0', 'qdiscDelete eth0 root f3e9:', 'qdiscList eth0']);
  t.deepEqual(kernel.state(), before);
  const again = await revertFault(kernel, KIND, applied.record, ctx);
  t.deepEqual(again.calls, ['qdiscList eth0']);
  t.is(again.outcome.outcome, 'already-absent');
});

test('a root that another faultd fault installed is refused at plan, and nothing changes', async (t) => {
  const kernel = new FakeNetlink({ eth0: { root: { handle: 0xf1230000, parent: TC_H_ROOT, kind: 'netem', options: token('another fault') } } });
  const ctx = netlinkContext(kernel);
  const before = kernel.state();
  await t.throwsAsync(moduleOf(KIND).plan(FAULT_ID, validParams(KIND, { networkInterfaces: 'eth0' }, ctx), ctx), {
    message: 'eth0 already carries a faultd qdisc (netem f123:): another fault owns it',
  });
  t.deepEqual(kernel.log(), ['qdiscList eth0']);
  t.deepEqual(kernel.state(), before);
});
