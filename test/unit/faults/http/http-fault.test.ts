// SPDX-License-Identifier: Apache-2.0
// The HTTP API faults' plan, chain and revert without root, against the recording netlink fake
// and a stand-in interceptor (a shell script that reports its port, ready and stats): the
// interceptor's argv as the contract says it; the nat chain (ingress: prerouting, iifname and
// dport; egress: output, destinations × ports), the mark accept first and the safety exclusions
// before the redirects; the interceptor recorded before the chain goes in; revert deletes the
// chain first, then stops the interceptor after its grace; idempotent; a busy proxyPort refused.

import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import test, { type ExecutionContext } from 'ava';

import { tlsDirOf } from '../../../../src/faults/http/tls-material.js';
import type { FaultContext } from '../../../../src/faults/types.js';
import { FakeNetlink, kernelError, recordingProcesses } from '../../../helpers/fake-netlink.js';
import { fakeStressorFile } from '../../../helpers/fake-stressor.js';
import { applyWithProcess, failedRevert, FAULT_ID, moduleOf, netlinkContext, revertFault, validParams } from '../../../helpers/network-fault.js';

const CHAIN = `${FAULT_ID}-http`;
const MARK = 0x0fa10080;
const CONTROL_PLANE = { target: { address: '10.9.9.9', prefixLen: 32, version: 4 as const, ports: [] }, reason: 'control plane 10.9.9.9:8443' };
const CONFIGURED = { target: { address: 'fd00::', prefixLen: 8, version: 6 as const, ports: [] }, reason: 'safety.excludeIPs' };

const EVENTS = [
  { event: 'listening', port: 20000 },
  { event: 'ready' },
  { event: 'stats', connections: 2, requests: 5, matched: 3, faulted: 2, passed: 3, upstreamErrors: 0 },
];
const STRESSOR = fakeStressorFile((fn) => test.after.always(fn), EVENTS);

/** A stand-in that takes `ms` to finish after SIGTERM, as the interceptor finishing the exchanges in flight. */
function slowStressor(ms: number): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'faultd-slow-stressor-'));
  test.after.always(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'faultd-stressor');
  const lines = EVENTS.map((e) => `echo '${JSON.stringify(e)}'`).join('\n');
  writeFileSync(file, `#!/bin/sh\nread go\n${lines}\ntrap 'sleep ${ms / 1000}; exit 0' TERM\nwhile :; do sleep 0.02; done\n`);
  chmodSync(file, 0o755);
  return file;
}
const SLOW_STRESSOR = slowStressor(800);

function httpContext(kernel: FakeNetlink, o: { stressorPath?: string; procRoot?: string } = {}): FaultContext {
  const ctx = netlinkContext(kernel);
  const safety = { ...ctx.network.safety, controlPlane: [CONTROL_PLANE], configured: [CONFIGURED] };
  return { ...ctx, network: { ...ctx.network, safety }, stressorPath: o.stressorPath ?? STRESSOR, procRoot: o.procRoot ?? ctx.procRoot, native: { ...ctx.native, ...recordingProcesses(kernel) } };
}

const applyHttp = (t: ExecutionContext, kind: string, raw: Record<string, unknown>, kernel: FakeNetlink, ctx: FaultContext) => applyWithProcess(t, kernel, kind, raw, ctx);

const argvOf = (change: string | undefined): string => /^start process: faultd-stressor (.*) --tag=/.exec(change ?? '')?.[1] ?? '';

test('ingress (default): the plan says what changes; prerouting chain on the interface and service port, mark accept first, exclusions before the redirect; the interceptor recorded before the chain; revert: chain, then interceptor', async (t) => {
  const kernel = new FakeNetlink();
  const ctx = httpContext(kernel);
  const raw = { targetServicePort: 8080, pathFilter: '/api', methods: 'GET', headersFilters: 'X-Tenant:a', queryParams: 'debug:1', sourceIPs: '192.0.2.0/24', latency: '1.5s', percentage: 50 };
  const { planned, planCalls, applyCalls, chains, records, record, active } = await applyHttp(t, 'linux-api-latency', raw, kernel, ctx);
  t.deepEqual(planCalls, [], 'planning changes nothing');
  t.is(planned.target, "HTTP requests to this host's port 8080 arriving on eth0 from 192.0.2.0/24: 50% of those matching path /api*, method GET, header X-Tenant: a, query debug=1 are delayed 1.5s on the request; the rest pass unchanged");
  t.is(argvOf(planned.changes.find((c) => c.startsWith('start process'))), `http --mark=${MARK} --port=20000 --grace-ms=2000 --action=latency --latency-ms=1500 --direction=request --path=/api --method=GET --match-header=X-Tenant:a --query=debug=1 --percentage=50`);
  t.deepEqual(
    planned.changes.filter((c) => c.startsWith('nf_tables') || c.startsWith('  ') || c.startsWith('kept out')),
    [
      'kept out of the fault: 10.9.9.9 (control plane 10.9.9.9:8443), fd00::/8 (safety.excludeIPs)',
      `nf_tables: add chain inet faultd ${CHAIN} (type nat hook prerouting priority -100) with 4 rule(s), one atomic batch, after the interceptor is ready:`,
      "  accept meta mark 0x0fa10080 (the interceptor's own connections upstream)",
      '  accept from 10.9.9.9',
      '  accept from fd00::/8',
      '  redirect if eth0 from 192.0.2.0/24 tcp dport 8080 → :20000',
    ],
  );
  t.deepEqual(planned.revertSteps, [
    `delete chain inet faultd ${CHAIN} (and the table once empty), verify it is gone: new connections go to the service directly again`,
    'SIGTERM the interceptor (it accepts nothing more and finishes the exchanges in flight for up to 2000 ms), SIGKILL after 2500 ms; remove its cgroup; verify it is gone',
  ]);
  t.deepEqual(applyCalls, ['processStartTime <pid>', `nftAddChain faultd ${CHAIN} prerouting -100 4 rule(s)`], 'the chain goes in last');
  t.is(records.length, 1);
  t.true(Number.isInteger((record['interceptor'] as { pid?: number }).pid), 'the pid is in the record written before the chain');
  t.deepEqual(record['nft'], { bootId: ctx.host.bootId, table: 'faultd', chains: [CHAIN] });
  t.deepEqual(chains, [
    {
      table: 'faultd',
      chain: CHAIN,
      type: 'nat',
      hook: 'prerouting',
      priority: -100,
      rules: [
        { mark: MARK, verdict: 'accept' },
        { address: '10.9.9.9', prefixLen: 32, matchSourceAddress: true, verdict: 'accept' },
        { address: 'fd00::', prefixLen: 8, matchSourceAddress: true, verdict: 'accept' },
        { ifname: 'eth0', address: '192.0.2.0', prefixLen: 24, matchSourceAddress: true, l4proto: 'tcp', port: 8080, verdict: 'redirect', redirectPort: 20000 },
      ],
    },
  ]);
  await new Promise((resolve) => setTimeout(resolve, 50));
  t.is(active.measure(), '5 requests on 2 connections: 3 matched, 2 faulted, 3 passed (0 upstream errors)');

  const reverted = await revertFault(kernel, 'linux-api-latency', record, ctx);
  t.deepEqual(reverted.calls.slice(0, 3), [`nftDeleteChain faultd ${CHAIN}`, 'nftListChains faultd', 'killProcess <pid> 1 15'], 'chain deleted and verified before the interceptor is signalled');
  t.is(reverted.outcome.outcome, 'reverted');
  t.regex(reverted.outcome.detail, new RegExp(`^removed nf_tables chain\\(s\\) ${CHAIN}; stopped stressor \\d+$`));
  t.regex(await active.ended, /^HTTP interceptor exited: /);
  t.false(kernel.nft.has('faultd'));
  const again = await revertFault(kernel, 'linux-api-latency', record, ctx);
  t.deepEqual(again.outcome, { outcome: 'already-absent', detail: 'no faultd HTTP chain or interceptor was left' }, 'idempotent (also what revert --remnants does after kill -9)');
});

test('egress: output chain, destination addresses (an address\'s own |ports first) × destinationPorts, exclusions by destination; each action\'s arguments', async (t) => {
  const kernel = new FakeNetlink();
  const ctx = httpContext(kernel);
  const { planned, chains, record } = await applyHttp(t, 'linux-api-modify-header', { serviceDirection: 'egress', destinationIPs: '10.0.0.20,fd00:1::/64|9000', destinationPorts: '80,8080', headersMap: '{"X-Chaos":"1","Cache-Control":""}', dataDirection: 'response' }, kernel, ctx);
  t.is(planned.target, 'HTTP requests this host sends to 10.0.0.20, fd00:1::/64|9000 on port 80,8080,9000: those matching any request get X-Chaos: 1, Cache-Control removed on the response; the rest pass unchanged');
  t.is(argvOf(planned.changes.find((c) => c.startsWith('start process'))), `http --mark=${MARK} --port=20000 --grace-ms=2000 --action=header --direction=response --set-header=X-Chaos:1 --remove-header=Cache-Control --percentage=100`);
  t.like(chains[0], { hook: 'output', type: 'nat', priority: -100 });
  t.deepEqual(chains[0]?.rules, [
    { mark: MARK, verdict: 'accept' },
    { address: '10.9.9.9', prefixLen: 32, matchSourceAddress: false, verdict: 'accept' },
    { address: 'fd00::', prefixLen: 8, matchSourceAddress: false, verdict: 'accept' },
    { address: '10.0.0.20', prefixLen: 32, matchSourceAddress: false, l4proto: 'tcp', port: 80, verdict: 'redirect', redirectPort: 20000 },
    { address: '10.0.0.20', prefixLen: 32, matchSourceAddress: false, l4proto: 'tcp', port: 8080, verdict: 'redirect', redirectPort: 20000 },
    { address: 'fd00:1::', prefixLen: 64, matchSourceAddress: false, l4proto: 'tcp', port: 9000, verdict: 'redirect', redirectPort: 20000 },
  ]);
  await revertFault(kernel, 'linux-api-modify-header', record, ctx);

  const ctx2 = httpContext(new FakeNetlink());
  const argv = async (kind: string, raw: Record<string, unknown>) => argvOf((await moduleOf(kind).plan(FAULT_ID, validParams(kind, raw, ctx2), ctx2)).changes.find((c) => c.startsWith('start process')));
  const match = '--percentage=100';
  t.is(await argv('linux-api-block', {}), `http --mark=${MARK} --port=20000 --grace-ms=2000 --action=block --status=404 ${match}`);
  t.is(await argv('linux-api-status-code', { statusCode: 503, responseBody: 'down' }), `http --mark=${MARK} --port=20000 --grace-ms=2000 --action=status --status=503 --body=down ${match}`);
  t.is(await argv('linux-api-status-code', {}), `http --mark=${MARK} --port=20000 --grace-ms=2000 --action=status --status=404 --body= ${match}`, 'Harness: an empty body when responseBody is not given');
  t.is(await argv('linux-api-modify-body', { responseBody: '{}', dataDirection: 'both' }), `http --mark=${MARK} --port=20000 --grace-ms=2000 --action=body --body={} --direction=both ${match}`);
  const egressAny = await moduleOf('linux-api-block').plan(FAULT_ID, validParams('linux-api-block', { serviceDirection: 'egress' }, ctx2), ctx2);
  t.true(egressAny.changes.includes('  redirect tcp dport 80 → :20000') && egressAny.changes.includes('  redirect tcp dport 8443 → :20000'), 'no destination: every host on destinationPorts (80,8443)');
  t.is(egressAny.changes.at(-1), 'note: port 8443 usually carries TLS; without httpsEnabled those connections are redirected too and fail at the interceptor (it answers 400 to what is not HTTP): leave the port out of destinationPorts, or give httpsEnabled and customCertificates');
  t.false(planned.changes.some((c) => c.startsWith('note: port')), 'no note for 80,8080,9000');
});

test('revert waits for the interceptor to finish the exchanges in flight (its grace) instead of killing it at 300 ms', async (t) => {
  const kernel = new FakeNetlink();
  const ctx = httpContext(kernel, { stressorPath: SLOW_STRESSOR });
  const { record, active } = await applyHttp(t, 'linux-api-block', {}, kernel, ctx);
  const started = Date.now();
  const reverted = await revertFault(kernel, 'linux-api-block', record, ctx);
  const took = Date.now() - started;
  t.is(reverted.outcome.outcome, 'reverted');
  t.false(reverted.calls.some((c) => c.startsWith('killProcess') && c.endsWith(' 9')), 'no SIGKILL: it exited on its own within the grace');
  t.true(took >= 700 && took < 2500, `took ${took} ms`);
  t.regex(await active.ended, /^HTTP interceptor exited: exit code 0$/);
});

test('a refused chain delete keeps the interceptor serving (a redirect to a dead port is worse than the fault); a retry removes the chain, then stops it', async (t) => {
  const kernel = new FakeNetlink();
  const ctx = httpContext(kernel);
  const { record, active } = await applyHttp(t, 'linux-api-block', {}, kernel, ctx);
  kernel.fail('nftDeleteChain', kernelError('EPERM', 'NFT_MSG_DELCHAIN'));
  const failed = await failedRevert(t, kernel, 'linux-api-block', record, ctx);
  t.regex(failed.error?.message ?? '', /the HTTP interceptor is left running, so that the redirected connections are still served$/);
  t.is(failed.error?.leftover, `chain inet faultd ${CHAIN}, and the HTTP interceptor it redirects to`);
  t.false(failed.calls.some((c) => c.startsWith('killProcess')), 'the interceptor was not signalled');
  const retried = await revertFault(kernel, 'linux-api-block', record, ctx);
  t.is(retried.outcome.outcome, 'reverted');
  t.regex(await active.ended, /^HTTP interceptor exited: /);
});

test('a proxyPort that already has a listener is refused at plan, naming proxyPort, before anything changes', async (t) => {
  const procRoot = mkdtempSync(path.join(tmpdir(), 'faultd-proc-'));
  t.teardown(() => rmSync(procRoot, { recursive: true, force: true }));
  mkdirSync(path.join(procRoot, 'net'));
  writeFileSync(path.join(procRoot, 'net', 'tcp'), '  sl  local_address rem_address   st\n   0: 00000000:4E20 00000000:0000 0A 00000000:00000000\n');
  const kernel = new FakeNetlink();
  const ctx = httpContext(kernel, { procRoot });
  kernel.clearLog();
  await t.throwsAsync(moduleOf('linux-api-block').plan(FAULT_ID, validParams('linux-api-block', {}, ctx), ctx), {
    message: 'proxyPort: port 20000 already has a TCP listener on this host; give a free port for the interceptor (PROXY_PORT)',
  });
  t.deepEqual(kernel.log(), []);
  await t.notThrowsAsync(moduleOf('linux-api-block').plan(FAULT_ID, validParams('linux-api-block', { proxyPort: 20001 }, ctx), ctx));
});

test('HTTPS with customCertificates: the key and chain written 0600 into the fault\'s own 0700 directory before the interceptor starts, named in the intent; --tls-cert/--tls-key (and --upstream-ca from httpsRootCertFile); revert removes them after the interceptor', async (t) => {
  const kernel = new FakeNetlink();
  const base = httpContext(kernel);
  const ctx: FaultContext = { ...base, features: { ...base.features, httpTls: () => ({ supported: true, reason: '' }) } };
  const key = '-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----';
  const cert = '-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n-----END CERTIFICATE-----';
  const raw = { targetServicePort: 8443, httpsEnabled: true, customCertificates: Buffer.from(`${key}\n${cert}\n`).toString('base64'), httpsRootCertFile: '/dev/null' };
  const { planned, record, active } = await applyHttp(t, 'linux-api-block', raw, kernel, ctx);
  const dir = tlsDirOf(FAULT_ID, false);
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  t.is((planned.revert as { tlsDir?: string }).tlsDir, dir, 'the directory is in the intent, before anything is written');
  t.is(record['tlsDir'], dir, 'and in the applied record');
  t.regex(argvOf(planned.changes.find((c) => c.startsWith('start process'))), new RegExp(`--grace-ms=2000 --tls-cert=${dir}/cert\\.pem --tls-key=${dir}/key\\.pem --upstream-ca=/dev/null --action=block`));
  t.is(statSync(dir).mode & 0o777, 0o700);
  t.is(statSync(path.join(dir, 'key.pem')).mode & 0o777, 0o600);
  t.is(readFileSync(path.join(dir, 'key.pem'), 'utf8'), `${key}\n`);
  t.is(readFileSync(path.join(dir, 'cert.pem'), 'utf8'), `${cert}\n`);
  t.true(planned.revertSteps.includes(`remove ${dir}/ (the key and certificate)`));
  const reverted = await revertFault(kernel, 'linux-api-block', record, ctx);
  t.regex(reverted.outcome.detail, new RegExp(`^removed nf_tables chain\\(s\\) ${CHAIN}; stopped stressor \\d+; removed ${dir}$`));
  t.false(existsSync(dir));
  t.regex(await active.ended, /^HTTP interceptor exited: /);
  t.deepEqual((await revertFault(kernel, 'linux-api-block', record, ctx)).outcome.outcome, 'already-absent', 'idempotent');
  await t.throwsAsync(moduleOf('linux-api-block').plan(FAULT_ID, validParams('linux-api-block', { ...raw, httpsRootCertFile: '/nonexistent/ca.pem' }, ctx), ctx), { message: 'httpsRootCertFile: /nonexistent/ca.pem does not exist' });
});

test('doctor: supported with CAP_NET_ADMIN and nat redirect, and says why HTTPS is refused', (t) => {
  const ctx = httpContext(new FakeNetlink());
  t.deepEqual(moduleOf('linux-api-block').support(ctx).notes[0], 'needs root or CAP_NET_ADMIN');
  const withoutTls = { supported: false, reason: "this faultd-stressor's HTTP interceptor does not terminate TLS (no --tls-cert)" };
  t.deepEqual(moduleOf('linux-api-block').support({ ...ctx, features: { ...ctx.features, httpTls: () => withoutTls } }).notes[2], `HTTP/1.1 (keep-alive, chunked, pipelining) and HTTP/2; HTTPS: refused (${withoutTls.reason})`);
  const support = moduleOf('linux-api-block').support({ ...ctx, host: { ...ctx.host, isRoot: true } });
  t.true(support.supported);
  t.deepEqual(support.notes, [
    'CAP_NET_ADMIN: yes',
    'nf_tables nat redirect: available (HTTP interceptor behind a `redirect to :PORT` chain)',
    'HTTP/1.1 (keep-alive, chunked, pipelining) and HTTP/2; HTTPS: refused (no TLS probe)',
  ]);
});
