// SPDX-License-Identifier: Apache-2.0
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import test from 'ava';
import pino from 'pino';

import { loadConfig } from '../../src/config/config.js';
import { controlPlaneTargets, exclusionsOf } from '../../src/faults/network/safety.js';
import { parseIpTargets } from '../../src/net/addresses.js';
import { resolveNetworkSafety } from '../../src/net/network-safety.js';

function configFile(t: { teardown(fn: () => void): void }, text: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'faultd-config-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'config.yaml');
  writeFileSync(file, text);
  return file;
}

test('a missing default config means defaults; a missing explicit one is an error', (t) => {
  const missing = path.join(tmpdir(), 'faultd-no-such-config.yaml');
  t.deepEqual(loadConfig(missing, false).safety, { excludeIPs: [], sshPorts: [22, 2222] });
  t.throws(() => loadConfig(missing, true), { message: /cannot read .*faultd-no-such-config\.yaml/ });
});

test('safety settings parse; unknown keys and bad values are refused by name', (t) => {
  const good = loadConfig(configFile(t, 'hub:\n  url: https://10.9.9.9:8443\nsafety:\n  excludeIPs: 192.168.0.0/16,10.1.1.1\n  sshPorts: [2200]\n'), true);
  t.is(good.hub?.url, 'https://10.9.9.9:8443');
  t.deepEqual(good.safety.excludeIPs.map((e) => `${e.address}/${e.prefixLen}`), ['192.168.0.0/16', '10.1.1.1/32']);
  t.deepEqual(good.safety.sshPorts, [2200]);
  t.throws(() => loadConfig(configFile(t, 'safety:\n  excludeIP: 10.0.0.1\n'), true), { message: /safety: Unrecognized key: "excludeIP"/ });
  t.throws(() => loadConfig(configFile(t, 'safety:\n  excludeIPs: 10.0.0.300\n'), true), { message: /safety\.excludeIPs: "10\.0\.0\.300" is not an IPv4\/IPv6 address/ });
  t.throws(() => loadConfig(configFile(t, 'safety:\n  sshPorts: [70000]\n'), true), { message: /safety\.sshPorts\.0/ });
  t.throws(() => loadConfig(configFile(t, 'hub:\n  url: ftp://x\n'), true), { message: /hub\.url: must be an http\(s\) URL/ });
  t.throws(() => loadConfig(configFile(t, 'safety: [\n'), true), { message: /config\.yaml:\d+:\d+/ });
});

test('the control plane is excluded unless allowed, and a target that is the control plane is named', async (t) => {
  const safety = await resolveNetworkSafety(
    { hub: { url: 'https://10.9.9.9:8443' }, safety: { excludeIPs: parseIpTargets('192.168.1.0/24'), sshPorts: [22] } },
    pino({ level: 'silent' }),
  );
  t.deepEqual(exclusionsOf(safety, false).map((e) => e.reason), ['control plane 10.9.9.9:8443', 'safety.excludeIPs']);
  t.deepEqual(exclusionsOf(safety, true).map((e) => e.reason), ['safety.excludeIPs']);
  t.is(safety.controlPlaneName, undefined, 'an address has no name to spare from DNS faults');
  t.deepEqual(controlPlaneTargets(parseIpTargets('10.9.9.9|443'), safety), ['10.9.9.9|443 is the control plane 10.9.9.9:8443']);
  t.deepEqual(controlPlaneTargets(parseIpTargets('10.0.0.0/8,10.9.9.8'), safety), [], 'a wider CIDR is narrowed by the exclusion instead');
});

test('a control plane given by name is resolved once', async (t) => {
  const safety = await resolveNetworkSafety({ hub: { url: 'https://localhost:8443' }, safety: { excludeIPs: [], sshPorts: [22] } }, pino({ level: 'silent' }));
  t.true(safety.controlPlane.some((e) => e.target.address === '127.0.0.1' || e.target.address === '::1'));
  t.is(safety.controlPlaneName, 'localhost', 'the name the DNS faults never touch');
});
