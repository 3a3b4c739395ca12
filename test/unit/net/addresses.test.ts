// SPDX-License-Identifier: Apache-2.0
// Address, CIDR and port list parsing shared by the configuration and the network faults.
import test from 'ava';

import { formatTarget, hostTarget, parseHostnames, parseIpTargets, parsePortSelection } from '../../../src/net/addresses.js';

test('port lists take comma text, YAML numbers and YAML lists of numbers, with ! exemptions', (t) => {
  t.deepEqual(parsePortSelection('80,443'), { include: [80, 443], exclude: [] });
  t.deepEqual(parsePortSelection(80), { include: [80], exclude: [] });
  t.deepEqual(parsePortSelection([80, 443]), { include: [80, 443], exclude: [] });
  t.deepEqual(parsePortSelection(['!22', 8080, ' 9090 ']), { include: [8080, 9090], exclude: [22] });
  t.deepEqual(parsePortSelection('!5000,8080'), { include: [], exclude: [5000, 8080] });
  t.deepEqual(parsePortSelection('80,!22'), { include: [80], exclude: [22] });
});

test('a port outside 1–65535 or not whole is refused naming it', (t) => {
  t.throws(() => parsePortSelection(70000), { message: 'port 70000 is not in 1–65535' });
  t.throws(() => parsePortSelection([80, 0]), { message: 'port 0 is not in 1–65535' });
  t.throws(() => parsePortSelection([1.5]), { message: 'port 1.5 is not in 1–65535' });
  t.throws(() => parsePortSelection('http'), { message: 'port "http" is not in 1–65535' });
});

test('address targets keep their |port suffixes; CIDR prefixes are bounded', (t) => {
  t.deepEqual(parseIpTargets('10.0.0.0/24|80|443'), [{ address: '10.0.0.0', prefixLen: 24, version: 4, ports: [80, 443] }]);
  t.deepEqual(parseIpTargets(['fd00::1']), [{ address: 'fd00::1', prefixLen: 128, version: 6, ports: [] }]);
  t.throws(() => parseIpTargets('10.0.0.0/33'), { message: '"10.0.0.0/33" has a prefix outside 1–32' });
  t.throws(() => parseIpTargets('10.0.0.1|99999'), { message: 'port "99999" is not in 1–65535' });
  t.throws(() => parseIpTargets('example.com'), { message: '"example.com" is not an IPv4/IPv6 address or CIDR' });
  t.is(formatTarget(parseIpTargets('10.0.0.0/8|53')[0]!), '10.0.0.0/8|53');
  t.deepEqual(hostTarget('::1'), { address: '::1', prefixLen: 128, version: 6, ports: [] });
});

test('host names are checked as DNS names', (t) => {
  t.deepEqual(parseHostnames('a.example.com, b'), ['a.example.com', 'b']);
  t.throws(() => parseHostnames(['not a host!']), { message: '"not a host!" is not a host name' });
});
