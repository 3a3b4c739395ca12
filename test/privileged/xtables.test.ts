// SPDX-License-Identifier: Apache-2.0
// The x_tables backend against the kernel, in namespaces it creates: rules of the host's own
// (a user chain, a REJECT, a comment, a FORWARD policy) are set with iptables-legacy; faultd's
// chain is added through the addon (IPT_SO_SET_REPLACE, no iptables fork); iptables-legacy-save
// shows exactly that chain and its jumps added, the targeted ports are cut while another still
// connects, the other entries keep their counters; removing the chain gives back
// iptables-legacy-save byte for byte. iptables-legacy and iptables-legacy-save are the oracles.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

import type { ExecutionContext } from 'ava';

import type { XtablesChainSpec } from '../../src/native/addon.js';
import { addIpv6, legacySave, systemTool, testNetnsPair, type TestNetns } from '../helpers/netns.js';
import { privilegedTest as test } from '../helpers/privileged.js';
import { startTcpServers, tryConnect } from '../helpers/traffic.js';

const LOAD_JS = fileURLToPath(new URL('../../src/native/load.js', import.meta.url));

/** Runs one addon call inside the namespace; its result, or the error's code and message. */
function addonCall(ns: TestNetns, method: 'xtablesAddChain' | 'xtablesDeleteChain' | 'xtablesListChains', args: readonly unknown[]): { value?: unknown; code?: string; message?: string } {
  const script = `
    const { loadNative } = await import(${JSON.stringify(LOAD_JS)});
    try {
      const value = loadNative()[${JSON.stringify(method)}](...JSON.parse(process.argv[1]));
      console.log(JSON.stringify({ value: value ?? null }));
    } catch (error) {
      console.log(JSON.stringify({ code: error.code, message: error.message }));
    }`;
  const run = spawnSync(systemTool('ip'), ['netns', 'exec', ns.name, process.execPath, '--input-type=module', '-e', script, JSON.stringify(args)], { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`addon call ${method} failed: ${run.stderr}`);
  return JSON.parse(run.stdout) as { value?: unknown; code?: string; message?: string };
}

/** Chain policy packet counters in `ns` (`:OUTPUT ACCEPT [p:b]` of `iptables-legacy-save -c`), by chain. */
function policyPackets(ns: TestNetns): Map<string, number> {
  return new Map([...ns.exec('iptables-legacy-save', ['-c']).matchAll(/^:(\S+) \S+ \[(\d+):\d+\]$/gm)].map((m) => [m[1] ?? '', Number(m[2])]));
}

/** Why the legacy ip_tables interface is unusable in `ns`, or undefined. */
function legacyUnusable(ns: TestNetns): string | undefined {
  try {
    ns.exec('iptables-legacy', ['-L', '-n']);
  } catch (error) {
    return `iptables-legacy -L fails in a namespace: ${(error as Error).message.split('\n')[0] ?? ''}`;
  }
  const names = ns.exec('cat', ['/proc/net/ip_tables_names']);
  return names.split('\n').includes('filter') ? undefined : 'the kernel has no legacy ip_tables filter table (/proc/net/ip_tables_names)';
}

function setUp(t: ExecutionContext): { a: TestNetns; b: TestNetns; addressB: string } | undefined {
  const pair = testNetnsPair(t);
  const reason = legacyUnusable(pair.a);
  if (reason) {
    t.log(`skipped: ${reason}`);
    t.pass();
    return undefined;
  }
  return { a: pair.a, b: pair.b, addressB: pair.addressB };
}

const HOST_RULES: readonly (readonly string[])[] = [
  ['-P', 'FORWARD', 'DROP'],
  ['-N', 'HOSTFW'],
  ['-A', 'HOSTFW', '-s', '192.0.2.0/24', '-m', 'comment', '--comment', 'the host own rule', '-j', 'ACCEPT'],
  ['-A', 'HOSTFW', '-p', 'udp', '--dport', '514', '-j', 'REJECT', '--reject-with', 'icmp-port-unreachable'],
  ['-A', 'INPUT', '-p', 'tcp', '--dport', '22', '-j', 'HOSTFW'],
  ['-A', 'OUTPUT', '-d', '198.51.100.7/32', '-j', 'REJECT'],
];

test('faultd adds exactly its chain through IPT_SO_SET_REPLACE, cuts the port, and removing it restores iptables-legacy-save byte for byte', async (t) => {
  const ns = setUp(t);
  if (!ns) return;
  const { a, b, addressB } = ns;
  await startTcpServers(t, b, [7101, 7102, 7103]);
  for (const rule of HOST_RULES) a.exec('iptables-legacy', [...rule]);
  t.is(await tryConnect(a, addressB, 7101), 'ok', 'reachable before');
  const before = legacySave(a);
  const countersBefore = policyPackets(a);
  t.true((countersBefore.get('OUTPUT') ?? 0) > 0, 'traffic went through OUTPUT before');

  const spec: XtablesChainSpec = {
    chain: 'FAULTD-xt1',
    hooks: ['input', 'output'],
    rules: [
      { address: addressB, l4proto: 'tcp', port: 7101 },
      { address: '10.9.9.3', prefixLen: 24, l4proto: 'udp', port: 53 },
      { address: '203.0.113.5', matchSourceAddress: true, l4proto: 'icmp' },
      { address: addressB, outInterface: 'va', l4proto: 'tcp', port: 7103 },
      { inInterface: 'va', l4proto: 'udp', port: 5353 },
    ],
  };
  t.deepEqual(addonCall(a, 'xtablesAddChain', [spec]), { value: null });
  const expected = before
    .replace(':HOSTFW - [0:0]', ':FAULTD-xt1 - [0:0]\n:HOSTFW - [0:0]')
    .replace(/^(-A INPUT .*)$/m, '-A INPUT -j FAULTD-xt1\n$1')
    .replace(/^(-A OUTPUT .*)$/m, '-A OUTPUT -j FAULTD-xt1\n$1')
    .replace(
      /^(-A HOSTFW -s 192.0.2.0)/m,
      [
        `-A FAULTD-xt1 -d ${addressB}/32 -p tcp -m tcp --dport 7101 -j DROP`,
        '-A FAULTD-xt1 -d 10.9.9.0/24 -p udp -m udp --dport 53 -j DROP',
        '-A FAULTD-xt1 -s 203.0.113.5/32 -p icmp -j DROP',
        `-A FAULTD-xt1 -d ${addressB}/32 -o va -p tcp -m tcp --dport 7103 -j DROP`,
        '-A FAULTD-xt1 -i va -p udp -m udp --dport 5353 -j DROP',
        '$1',
      ].join('\n'),
    );
  t.not(expected, before);
  t.is(legacySave(a), expected, 'exactly the chain and its two jumps were added');
  const countersAfter = policyPackets(a);
  t.true((countersAfter.get('OUTPUT') ?? 0) >= (countersBefore.get('OUTPUT') ?? 0), 'the OUTPUT policy kept its counters');
  t.deepEqual(addonCall(a, 'xtablesListChains', ['filter']), { value: ['HOSTFW', 'FAULTD-xt1'] });

  t.is(await tryConnect(a, addressB, 7101), 'timeout', 'the targeted port is cut');
  t.is(await tryConnect(a, addressB, 7103), 'timeout', 'the port cut on the output interface va');
  t.is(await tryConnect(a, addressB, 7102), 'ok', 'another port of the same host still connects');
  t.like(addonCall(a, 'xtablesAddChain', [spec]), { code: 'EEXIST' });

  t.deepEqual(addonCall(a, 'xtablesDeleteChain', ['filter', 'FAULTD-xt1']), { value: true });
  t.deepEqual(addonCall(a, 'xtablesDeleteChain', ['filter', 'FAULTD-xt1']), { value: false }, 'the revert is idempotent');
  t.is(await tryConnect(a, addressB, 7101), 'ok', 'reachable after the restore');
  t.is(legacySave(a), before, 'iptables-legacy-save is what it was');
});

test('a restore keeps rules another writer added while the fault was on', (t) => {
  const ns = setUp(t);
  if (!ns) return;
  const { a } = ns;
  for (const rule of HOST_RULES) a.exec('iptables-legacy', [...rule]);
  t.deepEqual(addonCall(a, 'xtablesAddChain', [{ chain: 'FAULTD-xt2', hooks: ['output'], rules: [{ address: '10.9.9.9', l4proto: 'tcp', port: 80 }] }]), { value: null });
  // The host's firewall changes meanwhile, through iptables-legacy (another replace of the table).
  a.exec('iptables-legacy', ['-I', 'OUTPUT', '1', '-d', '198.51.100.8/32', '-j', 'DROP']);
  a.exec('iptables-legacy', ['-A', 'HOSTFW', '-s', '192.0.2.99/32', '-j', 'DROP']);
  const expected = legacySave(a)
    .split('\n')
    .filter((line) => !line.includes('FAULTD-xt2'))
    .join('\n');
  t.deepEqual(addonCall(a, 'xtablesDeleteChain', ['filter', 'FAULTD-xt2']), { value: true });
  t.is(legacySave(a), expected);
  t.regex(legacySave(a), /-A OUTPUT -d 198\.51\.100\.8\/32 -j DROP/);
});

test('a table the kernel does not have is ENOENT from every call', (t) => {
  const ns = setUp(t);
  if (!ns) return;
  t.like(addonCall(ns.a, 'xtablesListChains', ['nosuchtable']), { code: 'ENOENT' });
  t.like(addonCall(ns.a, 'xtablesDeleteChain', ['nosuchtable', 'FAULTD-x']), { code: 'ENOENT' });
});

test('in a namespace no iptables ever touched, the first call brings the table up (and reading it is enough to do so)', (t) => {
  const ns = setUp(t); // probes namespace a only; b is untouched
  if (!ns) return;
  const { b } = ns;
  t.is(b.exec('cat', ['/proc/net/ip_tables_names']), '', 'no legacy table in b yet');
  t.deepEqual(addonCall(b, 'xtablesListChains', ['mangle']), { value: [] });
  t.is(b.exec('cat', ['/proc/net/ip_tables_names']).trim(), 'mangle', 'reading instantiated mangle, and only it');
  const pristine = legacySave(b);
  t.deepEqual(addonCall(b, 'xtablesAddChain', [{ table: 'mangle', chain: 'FAULTD-m', hooks: ['output'], rules: [{ l4proto: 'udp', port: 9 }] }]), { value: null });
  t.regex(legacySave(b), /^\*mangle\n(?:.*\n)*-A OUTPUT -j FAULTD-m\n-A FAULTD-m -p udp -m udp --dport 9 -j DROP\n/m);
  t.deepEqual(addonCall(b, 'xtablesDeleteChain', ['mangle', 'FAULTD-m']), { value: true });
  t.is(legacySave(b), pristine);
});

const HOST_RULES_6: readonly (readonly string[])[] = [
  ['-P', 'FORWARD', 'DROP'],
  ['-N', 'HOSTFW6'],
  ['-A', 'HOSTFW6', '-s', '2001:db8::/32', '-m', 'comment', '--comment', 'the host own rule', '-j', 'ACCEPT'],
  ['-A', 'INPUT', '-p', 'tcp', '--dport', '22', '-j', 'HOSTFW6'],
  ['-A', 'OUTPUT', '-d', '2001:db8:1::7/128', '-j', 'REJECT'],
];

test('IPv6: faultd chain through IP6T_SO_SET_REPLACE is what ip6tables-legacy makes of the same rules, cuts the port, and goes away byte for byte', async (t) => {
  const ns = setUp(t);
  if (!ns) return;
  const { a, b } = ns;
  const addressB6 = addIpv6({ a, b });
  await startTcpServers(t, b, [7101, 7102]);
  for (const rule of HOST_RULES_6) {
    a.exec('ip6tables-legacy', [...rule]);
    b.exec('ip6tables-legacy', [...rule]);
  }
  t.is(await tryConnect(a, addressB6, 7101), 'ok', 'reachable over IPv6 before');
  const before = legacySave(a, 6);
  const ipv4Before = legacySave(a, 4);
  const spec: XtablesChainSpec = {
    family: 6,
    chain: 'FAULTD-xt6',
    hooks: ['input', 'output'],
    rules: [
      { l4proto: 'tcp', port: 22, matchSourcePort: true, verdict: 'accept' },
      { address: addressB6, l4proto: 'tcp', port: 7101 },
      { address: '2001:db8:5::', prefixLen: 48, l4proto: 'udp', port: 53 },
      { address: 'fd00::9', matchSourceAddress: true, l4proto: 'icmpv6' },
      { outInterface: 'va', l4proto: 'udp', port: 9999, percent: 30 },
    ],
  };
  t.deepEqual(addonCall(a, 'xtablesAddChain', [spec]), { value: null });
  // The oracle: the same chain made by ip6tables-legacy in namespace b.
  for (const args of [
    ['-N', 'FAULTD-xt6'],
    ['-A', 'FAULTD-xt6', '-p', 'tcp', '--sport', '22', '-j', 'ACCEPT'],
    ['-A', 'FAULTD-xt6', '-d', `${addressB6}/128`, '-p', 'tcp', '--dport', '7101', '-j', 'DROP'],
    ['-A', 'FAULTD-xt6', '-d', '2001:db8:5::/48', '-p', 'udp', '--dport', '53', '-j', 'DROP'],
    ['-A', 'FAULTD-xt6', '-s', 'fd00::9/128', '-p', 'ipv6-icmp', '-j', 'DROP'],
    ['-A', 'FAULTD-xt6', '-o', 'va', '-p', 'udp', '--dport', '9999', '-m', 'statistic', '--mode', 'random', '--probability', '0.3', '-j', 'DROP'],
    ['-I', 'INPUT', '1', '-j', 'FAULTD-xt6'],
    ['-I', 'OUTPUT', '1', '-j', 'FAULTD-xt6'],
  ]) {
    b.exec('ip6tables-legacy', args);
  }
  const withFault = legacySave(a, 6);
  t.is(withFault, legacySave(b, 6), 'ip6tables-legacy-save reads the same table as ip6tables-legacy made');
  t.regex(withFault, /^-A OUTPUT -j FAULTD-xt6$/m);
  t.deepEqual(addonCall(a, 'xtablesListChains', ['filter', 6]), { value: ['HOSTFW6', 'FAULTD-xt6'] });
  t.is(legacySave(a, 4), ipv4Before, 'the IPv4 table is untouched');
  // The oracle's chain in b would drop the traffic too: gone before it is measured.
  for (const args of [['-D', 'INPUT', '-j', 'FAULTD-xt6'], ['-D', 'OUTPUT', '-j', 'FAULTD-xt6'], ['-F', 'FAULTD-xt6'], ['-X', 'FAULTD-xt6']]) b.exec('ip6tables-legacy', args);

  t.is(await tryConnect(a, addressB6, 7101), 'timeout', 'the targeted port is cut over IPv6');
  t.is(await tryConnect(a, addressB6, 7102), 'ok', 'another port still connects');
  t.deepEqual(addonCall(a, 'xtablesDeleteChain', ['filter', 'FAULTD-xt6', 6]), { value: true });
  t.deepEqual(addonCall(a, 'xtablesDeleteChain', ['filter', 'FAULTD-xt6', 6]), { value: false });
  t.is(legacySave(a, 6), before, 'ip6tables-legacy-save is what it was, byte for byte');
  t.is(await tryConnect(a, addressB6, 7101), 'ok');
});

test('statistic and NFQUEUE rules on mangle prerouting are what iptables-legacy makes of them', (t) => {
  const ns = setUp(t);
  if (!ns) return;
  const { a, b } = ns;
  for (const family of [4, 6] as const) {
    const tool = family === 6 ? 'ip6tables-legacy' : 'iptables-legacy';
    for (const ns2 of [a, b]) ns2.exec(tool, ['-t', 'mangle', '-A', 'PREROUTING', '-p', 'udp', '--dport', '123', '-j', 'MARK', '--set-mark', '7']);
    const before = legacySave(a, family, 'mangle');
    const source = family === 6 ? 'fd00:1::/64' : '10.8.0.0/16';
    const spec: XtablesChainSpec = {
      family,
      table: 'mangle',
      chain: 'FAULTD-q',
      hooks: ['prerouting'],
      rules: [
        { address: source.split('/')[0] ?? '', prefixLen: Number(source.split('/')[1]), matchSourceAddress: true, inInterface: 'va', verdict: 'queue', queueNum: 61712 },
        { l4proto: 'tcp', port: 80, percent: 5 },
      ],
    };
    t.deepEqual(addonCall(a, 'xtablesAddChain', [spec]), { value: null });
    for (const args of [
      ['-N', 'FAULTD-q'],
      ['-A', 'FAULTD-q', '-s', source, '-i', 'va', '-j', 'NFQUEUE', '--queue-num', '61712', '--queue-bypass'],
      ['-A', 'FAULTD-q', '-p', 'tcp', '--dport', '80', '-m', 'statistic', '--mode', 'random', '--probability', '0.05', '-j', 'DROP'],
      ['-I', 'PREROUTING', '1', '-j', 'FAULTD-q'],
    ]) {
      b.exec(tool, ['-t', 'mangle', ...args]);
    }
    t.is(legacySave(a, family, 'mangle'), legacySave(b, family, 'mangle'), `IPv${family}: the save output equals ${tool}'s own`);
    t.regex(legacySave(a, family, 'mangle'), /-j NFQUEUE --queue-num 61712 --queue-bypass/);
    t.deepEqual(addonCall(a, 'xtablesDeleteChain', ['mangle', 'FAULTD-q', family]), { value: true });
    t.is(legacySave(a, family, 'mangle'), before, `IPv${family}: removed byte for byte`);
  }
});

test('a rule of the wrong family is refused before the kernel is asked', (t) => {
  const ns = setUp(t);
  if (!ns) return;
  t.like(addonCall(ns.a, 'xtablesAddChain', [{ family: 6, chain: 'FAULTD-w', hooks: ['output'], rules: [{ address: '10.0.0.1' }] }]), { code: 'ERR_INVALID_ARG_VALUE' });
  t.like(addonCall(ns.a, 'xtablesAddChain', [{ family: 4, chain: 'FAULTD-w', hooks: ['output'], rules: [{ l4proto: 'icmpv6' }] }]), { code: 'ERR_INVALID_ARG_VALUE' });
  t.deepEqual(addonCall(ns.a, 'xtablesListChains', ['filter', 6]), { value: [] });
});
