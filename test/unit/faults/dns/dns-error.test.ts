// SPDX-License-Identifier: Apache-2.0
// linux-dns-error without root, against the recording netlink fake and a stand-in interceptor (a
// shell script that reports its port, ready and stats, and holds until SIGTERM): params with
// Harness names and aliases, defaults from resolv.conf, bounds named; the plan text; the
// interceptor started and recorded before the nat chain goes in with its port; revert deletes
// the chain first, then stops it; idempotent; a refused chain delete still stops it.

import test, { type ExecutionContext } from 'ava';

import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { localStubUids, parseProcNetUdp, processUidOfSocket } from '../../../../src/faults/dns/local-stubs.js';
import { parseNameservers, readHostNameservers } from '../../../../src/faults/dns/resolv-conf.js';
import type { FaultContext } from '../../../../src/faults/types.js';
import { FakeNetlink, kernelError, recordingProcesses } from '../../../helpers/fake-netlink.js';
import { applyWithProcess, failedRevert, FAULT_ID, moduleOf, netlinkContext, revertFault, validParams } from '../../../helpers/network-fault.js';
import { fakeStressorFile } from '../../../helpers/fake-stressor.js';

const KIND = 'linux-dns-error';
const CHAIN = `${FAULT_ID}-dns`;
const MARK = 0x0fa17d53;

const STRESSOR = fakeStressorFile((fn) => test.after.always(fn), [
  { event: 'listening', port: 40053, ports: [40053] },
  { event: 'ready' },
  { event: 'stats', queries: 5, answered: 2, dropped: 0, forwarded: 3, replies: 3, upstreamErrors: 0 },
]);
/** An interceptor with three routes (two nameservers and an explicit upstream). */
const STRESSOR_3 = fakeStressorFile((fn) => test.after.always(fn), [{ event: 'listening', port: 40053, ports: [40053, 40054, 40055] }, { event: 'ready' }]);

function dnsContext(kernel: FakeNetlink, o: { controlPlaneName?: string; missing?: readonly 'natRedirect'[]; resolvers?: readonly string[]; stressor?: string } = {}): FaultContext {
  const ctx = netlinkContext(kernel, { missing: o.missing ?? [] });
  const safety = { ...ctx.network.safety, ...(o.controlPlaneName ? { controlPlaneName: o.controlPlaneName } : {}) };
  const network = { ...ctx.network, safety, ...(o.resolvers ? { resolvers: o.resolvers } : {}) };
  return { ...ctx, network, stressorPath: o.stressor ?? STRESSOR, native: { ...ctx.native, ...recordingProcesses(kernel) } };
}

function issues(raw: Record<string, unknown>, ctx: FaultContext): string[] {
  const result = moduleOf(KIND).validateParams(raw, ctx);
  return result.ok ? [] : result.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
}

test('Harness names, aliases and defaults: every name, exact, no upstream (each query to its own server), port 53, nxdomain, 100 %', (t) => {
  const ctx = dnsContext(new FakeNetlink());
  t.deepEqual(validParams(KIND, {}, ctx), { hostNames: [], matchScheme: 'exact', dnsPort: 53, errorType: 'nxdomain', percentage: 100 });
  t.like(validParams(KIND, { hostNames: 'API.example.com., api.example.com, other.test', matchScheme: 'substring', upstreamServer: '[fd00::53]', dnsPort: '5353', percentage: '25' }, ctx), {
    hostNames: ['api.example.com', 'other.test'],
    matchScheme: 'substring',
    upstreamServer: 'fd00::53',
    dnsPort: 5353,
    percentage: 25,
  });
  t.deepEqual(moduleOf(KIND).paramAliases, { HOST_NAMES: 'hostNames', MATCH_SCHEME: 'matchScheme', UPSTREAM_SERVER: 'upstreamServer', DNS_PORT: 'dnsPort', ERROR_TYPE: 'errorType', PERCENTAGE: 'percentage' });
});

test('bad input names the field and its range', (t) => {
  const ctx = dnsContext(new FakeNetlink());
  t.deepEqual(issues({ hostNames: 'a b' }, ctx), ['hostNames: "a b" is not a host name']);
  t.deepEqual(issues({ hostNames: Array.from({ length: 65 }, (_, i) => `h${i}.test`) }, ctx), ['hostNames: 65 names: must be host names or keywords, as "example.com,api" or a list (at most 64)']);
  t.deepEqual(issues({ percentage: -1 }, ctx), ['percentage: must be in 0–100']);
  t.deepEqual(issues({ upstreamServer: 'resolver.local' }, ctx), ['upstreamServer: must be the IPv4 or IPv6 address of a DNS server, as "10.0.0.53" or "fd00::53" (the port is dnsPort)']);
  t.deepEqual(issues({ upstreamServer: 'fe80::1%eth0' }, ctx), ['upstreamServer: fe80::1%eth0: a zone id is not supported (a link-local resolver); give a global or unique-local address']);
  t.deepEqual(issues({ upstreamServer: '::ffff:10.0.0.53' }, ctx), ['upstreamServer: ::ffff:10.0.0.53 is an IPv4-mapped IPv6 address: give the IPv4 address 10.0.0.53']);
  t.like(validParams(KIND, { upstreamServer: 'FD00:0:0::53' }, ctx), { upstreamServer: 'fd00::53' }, 'one spelling per address');
  const zoned = { ...ctx, network: { ...ctx.network, resolvers: ['fe80::1%eth0', '::ffff:10.0.0.53'] } };
  t.deepEqual(issues({}, zoned), [
    'upstreamServer: no nameserver of /etc/resolv.conf can be intercepted (fe80::1%eth0: a zone id is not supported (a link-local resolver); give a global or unique-local address; ::ffff:10.0.0.53 is an IPv4-mapped IPv6 address: give the IPv4 address 10.0.0.53): give upstreamServer',
  ]);
  t.deepEqual(issues({ upstreamServer: '10.9.9.9' }, zoned), [], 'an explicit upstream is intercepted too');
  t.deepEqual(issues({ dnsPort: 0 }, ctx), ['dnsPort: must be in 1–65535']);
  t.deepEqual(issues({ errorType: 'drop' }, ctx), ['errorType: must be one of nxdomain, servfail, refused, timeout']);
  t.deepEqual(issues({ hostName: 'x' }, ctx).length, 1, 'an unknown key is an error');
  const noResolver = { ...ctx, network: { ...ctx.network, resolvers: [] } };
  t.deepEqual(issues({}, noResolver), ['upstreamServer: no nameserver in /etc/resolv.conf to intercept: give upstreamServer']);
  t.deepEqual(issues({}, dnsContext(new FakeNetlink(), { missing: ['natRedirect'] })), [
    ': linux-dns-error needs nf_tables nat chains with redirect (nf_nat, nft_chain_nat, nft_redir), which this kernel does not offer (ENOENT (not in this fake kernel))',
  ]);
});

test('resolv.conf nameservers in order, comments and zone ids ignored', (t) => {
  t.deepEqual(parseNameservers('# generated\nsearch lan\nnameserver 127.0.0.53\noptions edns0\nnameserver fe80::1%eth0\n  nameserver 10.0.0.1 \nnameserver bogus\n'), ['127.0.0.53', 'fe80::1%eth0', '10.0.0.1'], 'a zone id is kept, for the plan to name as not intercepted');
});

test("the host's nameservers: resolv.conf's, and systemd-resolved's upstreams when resolv.conf points at its stub", (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'faultd-resolv-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const etc = path.join(dir, 'resolv.conf');
  const resolved = path.join(dir, 'resolved.conf');
  writeFileSync(resolved, 'nameserver 10.1.1.1\nnameserver fd00::1\nnameserver 10.0.0.1\n');
  writeFileSync(etc, 'nameserver 127.0.0.53\nnameserver 10.0.0.1\n');
  t.deepEqual(readHostNameservers(etc, resolved), ['127.0.0.53', '10.0.0.1', '10.1.1.1', 'fd00::1'], 'the stub, then its upstreams, without repeats');
  writeFileSync(etc, 'nameserver 10.0.0.1\nnameserver 10.0.0.2\n');
  t.deepEqual(readHostNameservers(etc, resolved), ['10.0.0.1', '10.0.0.2'], 'no stub: resolved\'s file is not read');
  t.deepEqual(readHostNameservers(path.join(dir, 'missing'), resolved), []);
});

test('every nameserver is intercepted on its own port; unmatched queries go to their own server, or to an explicit upstreamServer (Harness meaning)', async (t) => {
  const kernel = new FakeNetlink();
  const ctx = dnsContext(kernel, { resolvers: ['10.0.0.53', 'FD00:0::53', 'fe80::1%eth0', '10.0.0.53'], stressor: STRESSOR_3 });
  t.deepEqual(moduleOf(KIND).exclusiveTargets(validParams(KIND, {}, ctx)), ['dns-intercept:53'], 'any two DNS faults on one port exclude each other');
  const own = await moduleOf(KIND).plan(FAULT_ID, validParams(KIND, { hostNames: 'gone.test' }, ctx), ctx);
  t.is(own.target, 'DNS to 10.0.0.53:53, [fd00::53]:53: queries for "gone.test" get NXDOMAIN; the rest are forwarded unchanged');
  t.regex(own.changes[0] ?? '', /dns --server=10\.0\.0\.53 --server=fd00::53 --upstream-port=53 --mark=/);
  t.true(own.changes.includes('queries the fault does not target are forwarded unchanged, each to the server it was sent to'));
  t.true(own.changes.includes('not intercepted: fe80::1%eth0: a zone id is not supported (a link-local resolver); give a global or unique-local address'));
  const { planned, chains } = await applyDns(t, kernel, ctx, { hostNames: 'gone.test', upstreamServer: '10.9.9.9', dnsPort: 5353 });
  t.regex(planned.changes[0] ?? '', /dns --server=10\.0\.0\.53 --server=fd00::53 --server=10\.9\.9\.9 --upstream=10\.9\.9\.9 --upstream-port=5353 --mark=/);
  t.true(planned.changes.includes('queries the fault does not target are forwarded unchanged, to 10.9.9.9:5353 (upstreamServer)'));
  t.true(planned.changes.includes('  redirect udp and tcp to [fd00::53]:5353 → the interceptor\'s port for it'));
  t.deepEqual(chains[0]?.rules, [
    { mark: MARK, verdict: 'accept' },
    { address: '10.0.0.53', l4proto: 'udp', port: 5353, verdict: 'redirect', redirectPort: 40053 },
    { address: '10.0.0.53', l4proto: 'tcp', port: 5353, verdict: 'redirect', redirectPort: 40053 },
    { address: 'fd00::53', l4proto: 'udp', port: 5353, verdict: 'redirect', redirectPort: 40054 },
    { address: 'fd00::53', l4proto: 'tcp', port: 5353, verdict: 'redirect', redirectPort: 40054 },
    { address: '10.9.9.9', l4proto: 'udp', port: 5353, verdict: 'redirect', redirectPort: 40055 },
    { address: '10.9.9.9', l4proto: 'tcp', port: 5353, verdict: 'redirect', redirectPort: 40055 },
  ]);
});

const applyDns = (t: ExecutionContext, kernel: FakeNetlink, ctx: FaultContext, raw: Record<string, unknown>) => applyWithProcess(t, kernel, KIND, raw, ctx);

test('the plan says what changes; the interceptor is recorded before the nat chain goes in with its port; revert: chain, then interceptor', async (t) => {
  const kernel = new FakeNetlink();
  const ctx = dnsContext(kernel, { controlPlaneName: 'hub.example.com' });
  const { planned, planCalls, applyCalls, chains, records, active } = await applyDns(t, kernel, ctx, { hostNames: 'gone.test', errorType: 'servfail', percentage: 50 });
  t.deepEqual(planCalls, [], 'planning changes nothing');
  t.is(planned.target, 'DNS to 10.0.0.53:53: 50% of queries for "gone.test" get SERVFAIL; the rest are forwarded unchanged');
  t.regex(
    planned.changes[0] ?? '',
    new RegExp(`^start process: faultd-stressor dns --server=10\\.0\\.0\\.53 --upstream-port=53 --mark=${MARK} --action=servfail --percentage=50 --match=exact --name=gone\\.test --spare=hub\\.example\\.com --tag=${FAULT_ID} --wait-go`),
  );
  t.true(planned.changes.includes(`nf_tables: add chain inet faultd ${CHAIN} (type nat hook output priority -100), one atomic batch, after the interceptor is ready:`));
  t.true(planned.changes.includes('kept out of the fault: "hub.example.com" (control plane), always forwarded'));
  t.deepEqual(planned.revertSteps, [
    `delete chain inet faultd ${CHAIN} (and the table once empty), verify it is gone`,
    "conntrack: delete the entries of UDP flows to 10.0.0.53:53 (a kept socket's entry would still lead to the interceptor)",
    'SIGTERM the interceptor (it answers the queries in flight for up to 200 ms), SIGKILL after 300 ms; remove its cgroup; verify it is gone',
  ]);
  t.deepEqual(applyCalls, ['processStartTime <pid>', `nftAddChain faultd ${CHAIN} output -100 3 rule(s)`, 'conntrackDeleteFlows udp 10.0.0.53 53'], 'the kept UDP flows are deleted after the redirect is in');
  t.true(planned.changes.includes('conntrack: delete the entries of UDP flows to 10.0.0.53:53 that exist (a socket a resolver keeps is redirected by its next query; TCP connections are left as they are)'));
  t.is(records.length, 1);
  const record = records[0] ?? {};
  t.true(Number.isInteger((record['interceptor'] as { pid?: number }).pid), 'the pid is in the record written before the chain');
  t.deepEqual(record['nft'], { bootId: ctx.host.bootId, table: 'faultd', chains: [CHAIN] });
  t.deepEqual(record['flows'], { addresses: ['10.0.0.53'], port: 53 }, 'the flows revert deletes again');
  t.deepEqual(chains, [
    {
      table: 'faultd',
      chain: CHAIN,
      type: 'nat',
      hook: 'output',
      priority: -100,
      rules: [
        { mark: MARK, verdict: 'accept' },
        { address: '10.0.0.53', l4proto: 'udp', port: 53, verdict: 'redirect', redirectPort: 40053 },
        { address: '10.0.0.53', l4proto: 'tcp', port: 53, verdict: 'redirect', redirectPort: 40053 },
      ],
    },
  ]);
  await new Promise((resolve) => setTimeout(resolve, 50));
  t.is(active.measure(), '5 queries: 2 answered, 0 dropped, 3 forwarded (0 upstream errors)');

  const reverted = await revertFault(kernel, KIND, record, ctx);
  t.deepEqual(reverted.calls.slice(0, 4), [`nftDeleteChain faultd ${CHAIN}`, 'nftListChains faultd', 'conntrackDeleteFlows udp 10.0.0.53 53', 'killProcess <pid> 1 15'], 'chain, kept flows, then the interceptor');
  t.is(reverted.outcome.outcome, 'reverted');
  t.regex(reverted.outcome.detail, new RegExp(`^removed nf_tables chain\\(s\\) ${CHAIN}; stopped stressor \\d+$`));
  t.regex(await active.ended, /^DNS interceptor exited: /);
  t.false(kernel.nft.has('faultd'));
  const again = await revertFault(kernel, KIND, record, ctx);
  t.deepEqual(again.outcome, { outcome: 'already-absent', detail: 'no faultd DNS chain or interceptor was left' });
});

test('a refused chain delete keeps the interceptor answering (a redirect to a dead port is worse than the fault); the revert fails naming both; a retry removes the chain, then stops it', async (t) => {
  const kernel = new FakeNetlink();
  const ctx = dnsContext(kernel);
  const { records, active } = await applyDns(t, kernel, ctx, {});
  const record = records[0] ?? {};
  kernel.fail('nftDeleteChain', kernelError('EPERM', 'NFT_MSG_DELCHAIN'));
  let ended = false;
  void active.ended.then(() => (ended = true));
  const failed = await failedRevert(t, kernel, KIND, record, ctx);
  t.is(failed.error?.leftover, `chain inet faultd ${CHAIN}, and the DNS interceptor it redirects to`);
  t.is(failed.error?.manualFix, `nft flush chain inet faultd ${CHAIN} && nft delete chain inet faultd ${CHAIN}, then faultd revert --remnants (stops the interceptor)`);
  t.false(failed.calls.some((c) => c.startsWith('killProcess')), 'the interceptor was not signalled');
  await new Promise((resolve) => setTimeout(resolve, 50));
  t.false(ended, 'the interceptor still runs');
  const retried = await revertFault(kernel, KIND, record, ctx);
  t.is(retried.outcome.outcome, 'reverted');
  t.regex(retried.outcome.detail, new RegExp(`^removed nf_tables chain\\(s\\) ${CHAIN}; stopped stressor \\d+$`));
  t.regex(await active.ended, /^DNS interceptor exited: /);
});

test('a refused chain add leaves the interceptor to the runner\'s revert, which stops it', async (t) => {
  const kernel = new FakeNetlink();
  const ctx = dnsContext(kernel);
  kernel.fail('nftAddChain', kernelError('ENOENT', 'NFT_MSG_NEWRULE', 'no nft_redir'));
  const params = validParams(KIND, {}, ctx);
  const planned = await moduleOf(KIND).plan(FAULT_ID, params, ctx);
  const records: Record<string, unknown>[] = [];
  await t.throwsAsync(planned.apply((r) => (records.push(JSON.parse(JSON.stringify(r)) as Record<string, unknown>), Promise.resolve()), new AbortController().signal), { message: /no nft_redir/ });
  const reverted = await revertFault(kernel, KIND, records[0] ?? planned.revert, ctx);
  t.is(reverted.outcome.outcome, 'reverted');
  t.regex(reverted.outcome.detail, /^stopped stressor \d+$/);
});

test('a kernel that refuses the conntrack delete (no ctnetlink) still gets the fault, and its revert; a record without flows (older faultd) reverts', async (t) => {
  const kernel = new FakeNetlink();
  const ctx = dnsContext(kernel);
  kernel.fail('conntrackDeleteFlows', kernelError('EOPNOTSUPP', 'IPCTNL_MSG_CT_GET'));
  const { records, chains } = await applyDns(t, kernel, ctx, {});
  t.is(chains.length, 1, 'the redirect is in');
  const record = records[0] ?? {};
  kernel.fail('conntrackDeleteFlows', kernelError('EOPNOTSUPP', 'IPCTNL_MSG_CT_GET'));
  const reverted = await revertFault(kernel, KIND, record, ctx);
  t.is(reverted.outcome.outcome, 'reverted');
  t.false(kernel.nft.has('faultd'));
  const { records: second } = await applyDns(t, kernel, ctx, {});
  const older = Object.fromEntries(Object.entries(second[0] ?? {}).filter(([key]) => key !== 'flows'));
  const old = await revertFault(kernel, KIND, older, ctx);
  t.is(old.outcome.outcome, 'reverted');
  t.false(old.calls.some((c) => c.startsWith('conntrackDeleteFlows')), 'nothing to delete without the flows');
});

test("a local stub's uid (not root) is exempt from the redirect, so its upstream queries are not drawn a second time", async (t) => {
  const udp = [
    '   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops',
    '15556: 3500007F:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 3298438 2 000000008daa4d93 0',
    '15557: 0100007F:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 3298440 2 000000008daa4d94 0',
    '15558: 00000000:1517 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 3298441 2 000000008daa4d95 0',
  ].join('\n');
  const udp6 = [
    '  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops',
    '15556: 00000000000000000000000001000000:0035 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 3298439 2 00000000968bd327 0',
  ].join('\n');
  const sockets = [...parseProcNetUdp(udp, false), ...parseProcNetUdp(udp6, true)];
  t.deepEqual(sockets, [
    { address: '127.0.0.53', port: 53, inode: 3298438 },
    { address: '127.0.0.1', port: 53, inode: 3298440 },
    { address: '0.0.0.0', port: 5399, inode: 3298441 },
    { address: '::1', port: 53, inode: 3298439 },
  ]);
  // The processes holding them: 991 (as systemd-resolve runs), root, 992, 993.
  const owners = new Map([[3298438, 991], [3298440, 0], [3298441, 992], [3298439, 993]]);
  const uidOf = (inode: number): number | undefined => owners.get(inode);
  t.deepEqual(localStubUids(sockets, ['127.0.0.53', '10.0.0.1'], 53, uidOf), [991], 'the stub at 127.0.0.53');
  t.deepEqual(localStubUids(sockets, ['127.0.0.1'], 53, uidOf), [], 'a stub running as root is not exempt (it would exempt every root program)');
  t.deepEqual(localStubUids(sockets, ['127.0.0.1'], 5399, uidOf), [992], 'a wildcard socket serves the loopback address too');
  t.deepEqual(localStubUids(sockets, ['10.0.0.1', '::1'], 53, uidOf), [993]);
  t.deepEqual(localStubUids(sockets, ['10.0.0.1'], 53, uidOf), [], 'no loopback server: nothing exempt');
  t.deepEqual(localStubUids(sockets, ['127.0.0.53'], 53, () => undefined), [], 'no process found: nothing exempt');
  // Found under a proc root: the socket's inode among a process's fds, its effective uid.
  const dir = mkdtempSync(path.join(tmpdir(), 'faultd-proc-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(path.join(dir, 'net'));
  writeFileSync(path.join(dir, 'net', 'udp'), udp);
  mkdirSync(path.join(dir, '4242', 'fd'), { recursive: true });
  symlinkSync('socket:[3298438]', path.join(dir, '4242', 'fd', '7'));
  writeFileSync(path.join(dir, '4242', 'status'), 'Name:\tsystemd-resolve\nUid:\t0\t991\t991\t991\n');
  t.is(processUidOfSocket(dir, 3298438), 991, 'the effective uid');
  t.is(processUidOfSocket(dir, 1), undefined);
  // In the plan and the chain: after the mark, before the redirects.
  const kernel = new FakeNetlink();
  const ctx = { ...dnsContext(kernel, { resolvers: ['127.0.0.53', '10.0.0.1'], stressor: STRESSOR_3 }), procRoot: dir };
  const { planned, chains } = await applyDns(t, kernel, ctx, { hostNames: 'gone.test', upstreamServer: '10.9.9.9' });
  t.true(planned.changes.includes('  accept meta skuid 991 (a local DNS server on 127.0.0.53:53: its own queries to its upstreams are not faulted again)'));
  t.deepEqual(chains[0]?.rules.slice(0, 3), [
    { mark: MARK, verdict: 'accept' },
    { skuid: 991, verdict: 'accept' },
    { address: '127.0.0.53', l4proto: 'udp', port: 53, verdict: 'redirect', redirectPort: 40053 },
  ]);
});
