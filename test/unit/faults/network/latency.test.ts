// SPDX-License-Identifier: Apache-2.0
// linux-network-latency with sch_netem against the recording netlink fake: netem parameters,
// the targeted htb layout (exclusions spared first, targets to the fault class), revert to the
// default root, idempotent and failing reverts. The NFQUEUE path is in nfqueue-delay.test.ts.
import test from 'ava';

import { FakeNetlink, kernelError } from '../../../helpers/fake-netlink.js';
import { applyFault, failedRevert, netlinkContext, revertFault } from '../../../helpers/network-fault.js';

const KIND = 'linux-network-latency';
const NETEM = 'netem{"delayUs":100000,"jitterUs":10000,"delayCorrelationPct":25}';

test('netem gets the delay, jitter and correlation in µs and %, and revert deletes it', async (t) => {
  const kernel = new FakeNetlink();
  const ctx = netlinkContext(kernel);
  const before = kernel.state();
  const applied = await applyFault(kernel, KIND, { networkInterfaces: 'eth0', latency: 100, jitter: 10, correlation: 25, whitelistSSH: false }, ctx);
  t.is(applied.record['mechanism'], 'netem');
  t.deepEqual(applied.planCalls, ['qdiscList eth0']);
  t.deepEqual(applied.applyCalls, ['netemOptions {"delayUs":100000,"jitterUs":10000,"delayCorrelationPct":25}', `qdiscReplace eth0 root f3e9: netem ${NETEM} exclusive`]);
  const reverted = await revertFault(kernel, KIND, applied.record, ctx);
  t.deepEqual(reverted.calls, ['qdiscList eth0', 'qdiscDelete eth0 root f3e9:', 'qdiscList eth0']);
  t.deepEqual(kernel.state(), before);
});

test('a targeted latency: the exclusion goes to the clean class first, the targets to the fault class, clean by default', async (t) => {
  const kernel = new FakeNetlink();
  const ctx = netlinkContext(kernel);
  const before = kernel.state();
  const applied = await applyFault(kernel, KIND, { networkInterfaces: 'eth0', latency: 100, jitter: 10, correlation: 25, whitelistSSH: false, destinationIPs: '10.0.0.0/8|5432', excludeIPs: '10.1.2.3' }, ctx);
  const spare = '{"address":"10.1.2.3","prefixLen":32,"ipVersion":4,"matchSourceAddress":false}';
  const target = (proto: string) => `{"address":"10.0.0.0","prefixLen":8,"ipVersion":4,"matchSourceAddress":false,"l4proto":"${proto}","port":5432,"matchSourcePort":false}`;
  t.deepEqual(applied.applyCalls, [
    'netemOptions {"delayUs":100000,"jitterUs":10000,"delayCorrelationPct":25}',
    'htbQdiscOptions 1',
    'qdiscReplace eth0 root f3e9: htb htb{"default":1} exclusive',
    'htbClassOptions {"rateBytesPerSec":12500000000}',
    'classReplace eth0 f3e9: f3e9:1 htb htbclass{"rate":12500000000}',
    'classReplace eth0 f3e9: f3e9:2 htb htbclass{"rate":12500000000}',
    `qdiscReplace eth0 f3e9:2 e3e9: netem ${NETEM} exclusive`,
    `u32Options ${spare} f3e9:1`,
    `filterAdd eth0 f3e9: prio 1 protocol 0x800 u32 u32${spare}>f3e9:1`,
    `u32Options ${target('tcp')} f3e9:2`,
    `filterAdd eth0 f3e9: prio 3 protocol 0x800 u32 u32${target('tcp')}>f3e9:2`,
    `u32Options ${target('udp')} f3e9:2`,
    `filterAdd eth0 f3e9: prio 3 protocol 0x800 u32 u32${target('udp')}>f3e9:2`,
  ]);
  t.is(applied.planned.target, 'eth0 egress: delay 100ms ±10ms 25% correlated → 10.0.0.0/8|5432');
  t.true(applied.planned.changes.includes('kept out of the fault: 10.1.2.3 (excludeIPs/excludeHosts)'));
  const reverted = await revertFault(kernel, KIND, applied.record, ctx);
  t.deepEqual(reverted.calls, ['qdiscList eth0', 'qdiscDelete eth0 root f3e9:', 'qdiscList eth0']);
  t.deepEqual(kernel.state(), before);
});

test('two interfaces: each snapshotted at plan and restored at revert; one that fails does not stop the other', async (t) => {
  const kernel = new FakeNetlink({ eth0: {}, lo: {} });
  const ctx = netlinkContext(kernel);
  const applied = await applyFault(kernel, KIND, { networkInterfaces: 'eth0,lo', latency: 100, jitter: 10, correlation: 25, whitelistSSH: false }, ctx);
  t.deepEqual(applied.planCalls, ['qdiscList eth0', 'qdiscList lo']);
  t.deepEqual(applied.applyCalls.slice(1), [`qdiscReplace eth0 root f3e9: netem ${NETEM} exclusive`, `qdiscReplace lo root f3e9: netem ${NETEM} exclusive`]);
  kernel.fail('qdiscDelete', kernelError('EPERM', 'RTM_DELQDISC'), { when: ([r]) => (r as { ifname: string }).ifname === 'eth0' });
  const failed = await failedRevert(t, kernel, KIND, applied.record, ctx);
  t.deepEqual(failed.calls, ['qdiscList eth0', 'qdiscDelete eth0 root f3e9:', 'qdiscList lo', 'qdiscDelete lo root f3e9:', 'qdiscList lo']);
  t.is(failed.error?.leftover, "faultd's root qdisc f3e9: on eth0");
  t.is(failed.error?.manualFix, 'tc qdisc del dev eth0 root');
  t.is(kernel.devices.get('lo')?.qdiscs[0]?.kind, 'noqueue', 'lo was restored');
  const retried = await revertFault(kernel, KIND, applied.record, ctx);
  t.deepEqual(retried.outcome, { outcome: 'reverted', detail: 'root qdisc restored on eth0' });
  const again = await revertFault(kernel, KIND, applied.record, ctx);
  t.deepEqual(again.calls, ['qdiscList eth0', 'qdiscList lo']);
  t.is(again.outcome.outcome, 'already-absent');
});
