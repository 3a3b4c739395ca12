// SPDX-License-Identifier: Apache-2.0
// linux-network-latency without sch_netem (the NFQUEUE delayer path) against the recording
// netlink fake and a stand-in stressor (a shell script that reports ready and holds until
// SIGTERM): delayer started and recorded before the queue chain goes in; revert deletes the
// chain first, then stops the delayer; idempotent; a refused chain delete still stops it.

import test, { type ExecutionContext } from 'ava';

import { faultQueueNumber } from '../../../../src/faults/network/nfqueue-delay.js';
import type { FaultContext } from '../../../../src/faults/types.js';
import type { NftChainSpec } from '../../../../src/native/addon.js';
import { FakeNetlink, kernelError, recordingProcesses } from '../../../helpers/fake-netlink.js';
import { fakeStressorFile } from '../../../helpers/fake-stressor.js';
import { failedRevert, FAULT_ID, moduleOf, netlinkContext, revertFault, validParams } from '../../../helpers/network-fault.js';

const KIND = 'linux-network-latency';
const CHAIN = `${FAULT_ID}-pre`;
const QUEUE = faultQueueNumber(FAULT_ID);

// The stand-in for build/Release/faultd-stressor (the context's stressorPath): it ignores its
// arguments, as the real delayer's binding is not faked.
const STRESSOR = fakeStressorFile((fn) => test.after.always(fn), [{ event: 'ready' }, { event: 'stats', delayed: 3, held: 1, peakHeld: 2, maxLateUs: 150 }]);

function delayerContext(kernel: FakeNetlink): FaultContext {
  const ctx = netlinkContext(kernel, { missing: ['netem'] });
  return { ...ctx, stressorPath: STRESSOR, native: { ...ctx.native, ...recordingProcesses(kernel) } };
}

const PARAMS = { networkInterfaces: 'eth0', latency: 100, jitter: 10, correlation: 25 };

/** Plans and applies the delay; the stand-in delayer is killed at teardown if a test left it running. */
async function applyDelay(t: ExecutionContext, kernel: FakeNetlink, ctx: FaultContext) {
  const params = validParams(KIND, PARAMS, ctx);
  kernel.clearLog();
  const planned = await moduleOf(KIND).plan(FAULT_ID, params, ctx);
  const planCalls = kernel.log();
  kernel.clearLog();
  const records: Record<string, unknown>[] = [];
  const record = (r: Record<string, unknown>) => {
    records.push(JSON.parse(JSON.stringify(r)) as Record<string, unknown>);
    return Promise.resolve();
  };
  const active = await planned.apply(record, new AbortController().signal);
  const pid = (records[0]?.['delayer'] as { pid?: number } | undefined)?.pid;
  t.teardown(() => {
    try {
      if (pid) process.kill(pid, 'SIGKILL');
    } catch {
      // already gone, as it should be
    }
  });
  const applyCalls = kernel.log();
  const chains = kernel.calls.filter((c) => c.method === 'nftAddChain').map((c) => c.args[0] as NftChainSpec);
  kernel.clearLog();
  return { params, planned, planCalls, applyCalls, chains, records, active };
}

test('the delayer is started and recorded with its pid before the queue chain goes in; revert deletes the chain, then stops it', async (t) => {
  const kernel = new FakeNetlink();
  const ctx = delayerContext(kernel);
  const { params, planned, planCalls, applyCalls, records, active } = await applyDelay(t, kernel, ctx);
  t.like(params, { mechanism: 'nfqueue' });
  t.deepEqual(planCalls, []);
  t.regex(planned.changes.find((c) => c.startsWith('start process')) ?? '', new RegExp(`^start process: faultd-stressor delay --queue=${QUEUE} --delay-us=100000 --jitter-us=10000 --correlation-pct=25 --tag=${FAULT_ID} --wait-go`));
  t.deepEqual(applyCalls, ['processStartTime <pid>', `nftAddChain faultd ${CHAIN} prerouting -150 3 rule(s)`]);
  t.is(records.length, 1, 'one applied record, written once the delayer runs');
  const record = records[0] ?? {};
  const delayer = record['delayer'] as { pid?: number; startTime?: number; tag: string };
  t.true(Number.isInteger(delayer.pid));
  t.is(delayer.startTime, 1);
  t.is(record['queueNum'], QUEUE);
  t.deepEqual(record['nft'], { bootId: ctx.host.bootId, table: 'faultd', chains: [CHAIN] });
  await new Promise((resolve) => setTimeout(resolve, 50));
  t.is(active.measure(), '3 pkt delayed, 1 held (peak 2), late ≤ 0.15 ms');

  const reverted = await revertFault(kernel, KIND, record, ctx);
  t.deepEqual(reverted.calls.slice(0, 3), [`nftDeleteChain faultd ${CHAIN}`, 'nftListChains faultd', 'killProcess <pid> 1 15']);
  t.true(reverted.calls.slice(3).every((c) => c === 'killProcess <pid> 1 0'), 'then only waits for it to exit');
  t.is(reverted.outcome.outcome, 'reverted');
  t.regex(reverted.outcome.detail, new RegExp(`^removed nf_tables chain\\(s\\) ${CHAIN}; stopped stressor \\d+$`));
  t.regex(await active.ended, /^NFQUEUE delayer exited: /);
  t.false(kernel.nft.has('faultd'));

  const again = await revertFault(kernel, KIND, record, ctx);
  t.deepEqual(again.calls, [`nftDeleteChain faultd ${CHAIN}`, 'nftListChains faultd', 'killProcess <pid> 1 15']);
  t.deepEqual(again.outcome, { outcome: 'already-absent', detail: 'no faultd chain or delayer was left' });
});

test('the queue chain: SSH accepted, then every packet arriving on the interface queued to the delayer (bypass)', async (t) => {
  const kernel = new FakeNetlink();
  const ctx = delayerContext(kernel);
  const { chains, records } = await applyDelay(t, kernel, ctx);
  t.teardown(async () => {
    await revertFault(kernel, KIND, records[0] ?? {}, ctx);
  });
  t.deepEqual(chains, [
    {
      table: 'faultd',
      chain: CHAIN,
      hook: 'prerouting',
      priority: -150,
      rules: [
        { l4proto: 'tcp', port: 22, matchSourcePort: false, verdict: 'accept' },
        { l4proto: 'tcp', port: 2222, matchSourcePort: false, verdict: 'accept' },
        { verdict: 'queue', queueNum: QUEUE, ifname: 'eth0' },
      ],
    },
  ]);
});

test('a refused chain delete still stops the delayer; the revert fails naming the chain', async (t) => {
  const kernel = new FakeNetlink();
  const ctx = delayerContext(kernel);
  const { records, active } = await applyDelay(t, kernel, ctx);
  const record = records[0] ?? {};
  kernel.fail('nftDeleteChain', kernelError('EPERM', 'NFT_MSG_DELCHAIN'));
  const failed = await failedRevert(t, kernel, KIND, record, ctx);
  t.deepEqual(failed.calls.slice(0, 3), [`nftDeleteChain faultd ${CHAIN}`, 'nftListChains faultd', 'killProcess <pid> 1 15']);
  t.is(failed.error?.leftover, `chain inet faultd ${CHAIN}`);
  t.is(failed.error?.manualFix, `nft flush chain inet faultd ${CHAIN} && nft delete chain inet faultd ${CHAIN}`);
  t.regex(await active.ended, /^NFQUEUE delayer exited: /, 'the delayer was stopped all the same');
  const retried = await revertFault(kernel, KIND, record, ctx);
  t.deepEqual(retried.outcome, { outcome: 'reverted', detail: `removed nf_tables chain(s) ${CHAIN}` });
});
