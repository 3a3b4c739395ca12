// SPDX-License-Identifier: Apache-2.0
// direction: ingress against the recording netlink fake: faultd's IFB device with the fault's
// qdisc as its root, the ingress qdisc and the u32 redirect; revert in order and verified;
// idempotent, after a reboot, and with an ingress qdisc faultd did not add.
import test from 'ava';

import { ifbName } from '../../../../src/faults/network/root-qdisc-fault.js';
import { FakeNetlink, TC_H_INGRESS, token } from '../../../helpers/fake-netlink.js';
import { applyFault, failedRevert, FAULT_ID, netlinkContext, revertFault, validParams, moduleOf } from '../../../helpers/network-fault.js';

const KIND = 'linux-network-rate-limit';
const TBF = 'tbf{"rateBytesPerSec":125000,"burstBytes":32768,"limitBytes":2097152,"latencyUs":0}';
const PARAMS = { networkInterfaces: 'eth0', direction: 'ingress', whitelistSSH: false };
const IFB = ifbName(FAULT_ID, 'eth0');

test('ingress: IFB created and given the qdisc, then the ingress qdisc and the redirect; revert removes both in order and checks', async (t) => {
  const kernel = new FakeNetlink();
  const ctx = netlinkContext(kernel);
  const before = kernel.state();
  const applied = await applyFault(kernel, KIND, PARAMS, ctx);
  t.regex(IFB, /^fdi[0-9a-f]{8}$/);
  t.deepEqual(applied.planCalls, ['qdiscList eth0']);
  t.deepEqual(applied.applyCalls, [
    'tbfOptions {"rateBytesPerSec":125000,"burstBytes":32768,"limitBytes":2097152,"latencyUs":0}',
    `linkAdd {"name":"${IFB}","kind":"ifb"}`,
    `qdiscReplace ${IFB} root f3e9: tbf ${TBF} exclusive`,
    'qdiscReplace eth0 ingress ffff: ingress - exclusive',
    `linkIndex ${IFB}`,
    'u32RedirectOptions 2',
    'filterAdd eth0 ffff: prio 1 protocol 0x3 u32 redirect>2',
  ]);
  t.deepEqual(applied.record['interfaces'], [{ name: IFB, previous: { kind: 'noqueue', handle: 0, options: '' }, ingressOf: 'eth0' }]);
  t.deepEqual(applied.planned.revertSteps, [`delete the ingress qdisc of eth0 (and its redirect), then IFB device ${IFB}`]);

  const reverted = await revertFault(kernel, KIND, applied.record, ctx);
  t.deepEqual(reverted.calls, [
    'qdiscList eth0',
    'filterList eth0 ffff:',
    'qdiscDelete eth0 ingress ffff:',
    `linkDelete ${IFB}`,
    'qdiscList eth0',
    `linkIndex ${IFB}`,
  ]);
  t.deepEqual(reverted.outcome, { outcome: 'reverted', detail: 'root qdisc restored on eth0 ingress' });
  t.deepEqual(kernel.state(), before, 'no ingress qdisc, no IFB device');

  const again = await revertFault(kernel, KIND, applied.record, ctx);
  t.deepEqual(again.calls, ['qdiscList eth0', `linkDelete ${IFB}`, 'qdiscList eth0', `linkIndex ${IFB}`]);
  t.deepEqual(again.outcome, { outcome: 'already-absent', detail: 'no faultd qdisc was left' });
});

test('an interface that already has an ingress qdisc is refused at plan, before anything changes', async (t) => {
  const kernel = new FakeNetlink({ eth0: { qdiscs: [{ handle: 0xffff0000, parent: TC_H_INGRESS, kind: 'clsact', options: token('theirs') }] } });
  const ctx = netlinkContext(kernel);
  const before = kernel.state();
  await t.throwsAsync(moduleOf(KIND).plan(FAULT_ID, validParams(KIND, PARAMS, ctx), ctx), {
    message: 'eth0 already has an clsact qdisc (ffff:) on its ingress, which faultd will not share; remove it or use direction: egress',
  });
  t.deepEqual(kernel.log(), ['qdiscList eth0']);
  t.deepEqual(kernel.state(), before);
});

test('an ingress qdisc that is no longer faultd\'s is left alone: faultd\'s IFB goes, the revert fails naming the fix', async (t) => {
  const kernel = new FakeNetlink();
  const ctx = netlinkContext(kernel);
  const applied = await applyFault(kernel, KIND, PARAMS, ctx);
  // After a crash someone replaced the ingress side with their own clsact.
  kernel.surface.qdiscDelete({ ifname: 'eth0', parent: TC_H_INGRESS });
  kernel.surface.qdiscReplace({ ifname: 'eth0', parent: TC_H_INGRESS, handle: 0xffff0000, kind: 'clsact', options: token('theirs') });
  const failed = await failedRevert(t, kernel, KIND, applied.record, ctx);
  t.deepEqual(failed.calls, ['qdiscList eth0', `linkDelete ${IFB}`]);
  t.is(failed.error?.message, 'eth0: eth0 now has a clsact qdisc on its ingress, which faultd did not add; left untouched');
  t.is(failed.error?.leftover, "faultd's root qdisc f3e9: on eth0");
  t.is(failed.error?.manualFix, `tc qdisc del dev eth0 ingress; ip link del ${IFB}`);
  t.false(kernel.devices.has(IFB));
  t.is(kernel.devices.get('eth0')?.qdiscs.find((q) => q.parent === TC_H_INGRESS)?.kind, 'clsact', 'theirs stays');
});

test('after a reboot an ingress record is checked, not assumed: gone IFB = nothing to do; a surviving one is cleaned', async (t) => {
  const kernel = new FakeNetlink();
  const ctx = netlinkContext(kernel);
  const applied = await applyFault(kernel, KIND, PARAMS, ctx);
  const afterBoot = netlinkContext(kernel, { bootId: '11111111-1111-1111-1111-111111111111' });

  // A namespace that outlived the boot id (a container sharing its host's network): cleaned.
  const survived = await revertFault(kernel, KIND, applied.record, afterBoot);
  t.deepEqual(survived.calls, [`linkIndex ${IFB}`, 'qdiscList eth0', 'filterList eth0 ffff:', 'qdiscDelete eth0 ingress ffff:', `linkDelete ${IFB}`, 'qdiscList eth0', `linkIndex ${IFB}`]);
  t.is(survived.outcome.outcome, 'reverted');

  const gone = await revertFault(kernel, KIND, applied.record, afterBoot);
  t.deepEqual(gone.calls, [`linkIndex ${IFB}`]);
  t.deepEqual(gone.outcome, { outcome: 'already-absent', detail: 'checked after a reboot: no faultd qdisc was left' });
});

test('ingress netem (latency) goes to the IFB the same way', async (t) => {
  const kernel = new FakeNetlink();
  const ctx = netlinkContext(kernel);
  const applied = await applyFault(kernel, 'linux-network-latency', { networkInterfaces: 'eth0', direction: 'ingress', whitelistSSH: false, latency: 100 }, ctx);
  t.deepEqual(applied.applyCalls.slice(0, 3), [
    'netemOptions {"delayUs":100000,"jitterUs":0,"delayCorrelationPct":0}',
    `linkAdd {"name":"${IFB}","kind":"ifb"}`,
    `qdiscReplace ${IFB} root f3e9: netem netem{"delayUs":100000,"jitterUs":0,"delayCorrelationPct":0} exclusive`,
  ]);
  const reverted = await revertFault(kernel, 'linux-network-latency', applied.record, ctx);
  t.is(reverted.outcome.outcome, 'reverted');
  t.false(kernel.devices.has(IFB));
});
