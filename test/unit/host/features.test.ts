// SPDX-License-Identifier: Apache-2.0
// The kernel feature probes with injected sources: which stressor they run and with what
// arguments, how they read its verdict, the cache, and the nf_tables probe through the given
// addon. No stressor and no addon is loaded here.
import test from 'ava';

import { kernelFeatureProbe, signalPathNote, type ProbeRun, type ProbeSources } from '../../../src/host/features.js';
import { linuxProcessKill } from '../../../src/faults/linux-process-kill.js';
import { linuxProcessStop } from '../../../src/faults/linux-process-stop.js';
import type { FaultContext } from '../../../src/faults/types.js';
import type { SignalPath } from '../../../src/native/addon.js';

interface Recorded {
  readonly sources: ProbeSources;
  readonly runs: string[];
  readonly nftCalls: string[];
}

/** Sources whose stressor prints `outputs[args.join(' ')]` and whose addon's nftListChains does `nft`. */
function sources(outputs: Record<string, ProbeRun>, nft: (table: string) => string[] = () => [], signalPath: () => SignalPath = () => 'pidfd'): Recorded {
  const runs: string[] = [];
  const nftCalls: string[] = [];
  return {
    runs,
    nftCalls,
    sources: {
      stressorPath: '/opt/faultd/faultd-stressor',
      native: () => ({
        nftListChains: (table) => {
          nftCalls.push(table);
          return nft(table);
        },
        signalPath: () => {
          nftCalls.push('signalPath');
          return signalPath();
        },
      }),
      run: (file, args) => {
        runs.push(`${file} ${args.join(' ')}`);
        return outputs[args.join(' ')] ?? { stdout: '', stderr: 'not scripted' };
      },
    },
  };
}

const printed = (line: object): ProbeRun => ({ stdout: `${JSON.stringify(line)}\n`, stderr: '' });

test('qdisc probes run the given stressor once per kind and read its verdict', (t) => {
  const r = sources({
    'probe-qdisc netem': printed({ supported: true }),
    'probe-qdisc tbf': printed({ supported: false, probe: 'RTM_NEWQDISC', errno: 2, message: 'No such file or directory', detail: 'Specified qdisc kind is unknown' }),
  });
  const probe = kernelFeatureProbe(r.sources);
  t.deepEqual(probe.qdisc('netem'), { supported: true, reason: '' });
  t.deepEqual(probe.qdisc('tbf'), { supported: false, reason: 'RTM_NEWQDISC ENOENT: Specified qdisc kind is unknown' });
  t.deepEqual(probe.qdisc('netem'), { supported: true, reason: '' });
  t.deepEqual(r.runs, ['/opt/faultd/faultd-stressor probe-qdisc netem', '/opt/faultd/faultd-stressor probe-qdisc tbf']);
  t.deepEqual(r.nftCalls, []);
});

test('a probe that cannot decide (no CAP_SYS_ADMIN) assumes the feature present', (t) => {
  const r = sources({ 'probe-nfqueue': printed({ supported: false, probe: 'unshare', errno: 1, message: 'Operation not permitted' }) });
  const nfqueue = kernelFeatureProbe(r.sources).nfqueue();
  t.true(nfqueue.supported);
  t.is(nfqueue.reason, 'not probed (unshare EPERM: Operation not permitted); assumed present');
  t.deepEqual(r.runs, ['/opt/faultd/faultd-stressor probe-nfqueue']);
});

test('a missing stressor says so and how to fix it; garbage output is not a verdict', (t) => {
  const enoent = Object.assign(new Error('spawnSync /opt/faultd/faultd-stressor ENOENT'), { code: 'ENOENT' });
  const missing = kernelFeatureProbe(sources({ 'probe-qdisc netem': { stdout: '', stderr: '', error: enoent } }).sources).qdisc('netem');
  t.deepEqual(missing, { supported: false, reason: 'the probe could not run: stressor executable /opt/faultd/faultd-stressor is missing: run `npm run build`' });
  const garbage = kernelFeatureProbe(sources({ 'probe-qdisc netem': { stdout: '{"hello":1}\n', stderr: 'oops' } }).sources).qdisc('netem');
  t.false(garbage.supported);
  t.regex(garbage.reason, /^the probe could not run: unexpected probe output/);
});

test('the nf_tables probe asks the given addon, read-only, once', (t) => {
  const ok = sources({});
  const probe = kernelFeatureProbe(ok.sources);
  t.deepEqual(probe.nftables(), { supported: true, reason: '' });
  t.deepEqual(probe.nftables(), { supported: true, reason: '' });
  t.deepEqual(ok.nftCalls, ['faultd']);
  t.deepEqual(ok.runs, []);
  const absent = sources({}, () => {
    throw Object.assign(new Error('NFT_MSG_GETCHAIN EOPNOTSUPP: Operation not supported'), { code: 'EOPNOTSUPP' });
  });
  const none = kernelFeatureProbe(absent.sources).nftables();
  t.false(none.supported);
  t.regex(none.reason, /^NFT_MSG_GETCHAIN EOPNOTSUPP/);
  const denied = sources({}, () => {
    throw Object.assign(new Error('NFT_MSG_GETCHAIN EPERM: Operation not permitted'), { code: 'EPERM' });
  });
  t.deepEqual(kernelFeatureProbe(denied.sources).nftables(), { supported: true, reason: 'not probed (NFT_MSG_GETCHAIN EPERM: Operation not permitted); assumed present' });
});

test('building the probes runs and loads nothing', (t) => {
  let loads = 0;
  const r = sources({});
  kernelFeatureProbe({
    ...r.sources,
    native: () => {
      loads += 1;
      return r.sources.native();
    },
  });
  t.is(loads, 0);
  t.deepEqual(r.runs, []);
});

test('the nat redirect probe: a kernel without nat chains or nft_redir is a clear no, once', (t) => {
  const r = sources({ 'probe-nat-redirect': printed({ supported: false, probe: 'NFT_MSG_NEWRULE', errno: 2, message: 'No such file or directory' }) });
  const probe = kernelFeatureProbe(r.sources);
  t.deepEqual(probe.natRedirect(), { supported: false, reason: 'NFT_MSG_NEWRULE ENOENT: No such file or directory' });
  t.false(probe.natRedirect().supported);
  t.deepEqual(r.runs, ['/opt/faultd/faultd-stressor probe-nat-redirect']);
  const yes = sources({ 'probe-nat-redirect': printed({ supported: true }) });
  t.deepEqual(kernelFeatureProbe(yes.sources).natRedirect(), { supported: true, reason: '' });
});

test('the pidfd probe asks the addon once; a kernel without pidfds (forced here) is a clear no', (t) => {
  const yes = sources({});
  const probe = kernelFeatureProbe(yes.sources);
  t.deepEqual(probe.pidfd?.(), { supported: true, reason: '' });
  t.deepEqual(probe.pidfd?.(), { supported: true, reason: '' });
  t.deepEqual(yes.nftCalls, ['signalPath']);
  const old = sources({}, () => [], () => 'pid-start-checked');
  const none = kernelFeatureProbe(old.sources).pidfd?.();
  t.deepEqual(none, { supported: false, reason: 'pidfd_open ENOSYS or EPERM (kernel before 5.3, or a seccomp filter that predates it)' });
  const broken = sources({}, () => [], () => {
    throw new Error('addon not built');
  });
  t.deepEqual(kernelFeatureProbe(broken.sources).pidfd?.(), { supported: false, reason: 'the probe could not run: addon not built' });
});

test('the signal path note: race-free with pidfds, the weaker guarantee named without', (t) => {
  t.regex(signalPathNote({ supported: true, reason: '' }), /^signals through pidfds .*race-free$/);
  t.regex(signalPathNote(undefined), /^signals through pidfds/);
  const fallback = signalPathNote({ supported: false, reason: 'pidfd_open ENOSYS' });
  t.regex(fallback, /^no pidfds here \(pidfd_open ENOSYS\): signals by pid with the start time checked immediately before and after kill\(2\)/);
  t.regex(fallback, /Kernels without pidfd/);
});

test('doctor notes of the process faults follow the probe (pidfd forced missing)', (t) => {
  const ctx = (supported: boolean) => ({ features: { pidfd: () => ({ supported, reason: supported ? '' : 'pidfd_open ENOSYS' }) } }) as unknown as FaultContext;
  for (const kind of [linuxProcessKill, linuxProcessStop]) {
    const without = kind.support(ctx(false));
    t.true(without.supported, `${kind.kind} still works without pidfds`);
    t.true(without.notes.some((n) => n.includes('signals by pid with the start time checked immediately before and after kill(2)')), without.notes.join('; '));
    t.true(kind.support(ctx(true)).notes.some((n) => n.includes('signals through pidfds')));
  }
});

test('the IFB probe runs probe-ifb once; the kernel\'s "Unknown device type" is a clear no', (t) => {
  const r = sources({ 'probe-ifb': printed({ supported: false, probe: 'RTM_NEWLINK', errno: 95, message: 'Operation not supported', detail: 'Unknown device type' }) });
  const probe = kernelFeatureProbe(r.sources);
  t.deepEqual(probe.ifb?.(), { supported: false, reason: 'RTM_NEWLINK ENOTSUP: Unknown device type' });
  t.false(probe.ifb?.().supported);
  t.deepEqual(r.runs, ['/opt/faultd/faultd-stressor probe-ifb']);
  const noIngress = sources({ 'probe-ifb': printed({ supported: false, probe: 'RTM_NEWQDISC', errno: 2, message: 'No such file or directory', detail: 'Specified qdisc kind is unknown' }) });
  t.false(kernelFeatureProbe(noIngress.sources).ifb?.().supported);
  t.deepEqual(kernelFeatureProbe(sources({ 'probe-ifb': printed({ supported: true }) }).sources).ifb?.(), { supported: true, reason: '' });
});

test('without nf_tables the NFQUEUE and nat probes answer no without running the stressor', (t) => {
  const legacy = sources({}, () => {
    throw Object.assign(new Error('NFT_MSG_GETCHAIN EOPNOTSUPP: Operation not supported'), { code: 'EOPNOTSUPP' });
  });
  const probe = kernelFeatureProbe(legacy.sources);
  t.false(probe.nfqueue().supported);
  t.regex(probe.nfqueue().reason, /^needs nf_tables: NFT_MSG_GETCHAIN EOPNOTSUPP/);
  t.regex(probe.natRedirect().reason, /^needs nf_tables: NFT_MSG_GETCHAIN EOPNOTSUPP/);
  t.deepEqual(legacy.runs, []);
  t.deepEqual(legacy.nftCalls, ['faultd'], 'nf_tables asked once for both');
});

test('the x_tables probes run probe-xtables [nfqueue] once each; no ip_tables or a missing extension is a clear no, EPERM is not', (t) => {
  const r = sources({
    'probe-xtables': printed({ supported: false, probe: 'getsockopt', errno: 92, message: 'Protocol not available', detail: 'IPT_SO_GET_INFO filter' }),
    'probe-xtables nfqueue': printed({ supported: false, probe: 'setsockopt', errno: 2, message: 'No such file or directory', detail: 'IPT_SO_SET_REPLACE mangle' }),
  });
  const probe = kernelFeatureProbe(r.sources);
  t.deepEqual(probe.xtables?.(), { supported: false, reason: 'getsockopt ENOPROTOOPT: IPT_SO_GET_INFO filter' });
  t.false(probe.xtables?.().supported);
  t.deepEqual(probe.xtablesNfqueue?.(), { supported: false, reason: 'setsockopt ENOENT: IPT_SO_SET_REPLACE mangle' });
  t.deepEqual(r.runs, ['/opt/faultd/faultd-stressor probe-xtables', '/opt/faultd/faultd-stressor probe-xtables nfqueue']);
  const eperm = sources({ 'probe-xtables': printed({ supported: false, probe: 'socket', errno: 1, message: 'Operation not permitted' }) });
  t.true(kernelFeatureProbe(eperm.sources).xtables?.().supported, 'EPERM says nothing about the kernel');
  t.deepEqual(kernelFeatureProbe(sources({ 'probe-xtables': printed({ supported: true }) }).sources).xtables?.(), { supported: true, reason: '' });
});
