// SPDX-License-Identifier: Apache-2.0
// Which proxy the agent uses for its hub: the proxy URL's checks, NO_PROXY matching as curl reads
// it (plus ports), the precedence hub.proxy > https_proxy > HTTPS_PROXY (NO_PROXY for the environment only),
// and the proxy in use kept out of network faults as part of the control plane.
import test from 'ava';
import { pino } from 'pino';

import { controlPlaneTargets, exclusionsOf } from '../../../src/faults/network/safety.js';
import { parseIpTargets } from '../../../src/net/addresses.js';
import { noProxyMatches, parseProxyUrl, selectHubProxy } from '../../../src/net/hub-proxy.js';
import { resolveNetworkSafety } from '../../../src/net/network-safety.js';

test('a proxy URL is http://host[:port] only, normalized with its port', (t) => {
  t.deepEqual(parseProxyUrl('http://proxy.example.com:3128'), { url: 'http://proxy.example.com:3128' });
  t.deepEqual(parseProxyUrl('http://proxy.example.com:3128/'), { url: 'http://proxy.example.com:3128' });
  t.deepEqual(parseProxyUrl('http://PROXY.example.com'), { url: 'http://proxy.example.com:80' });
  t.deepEqual(parseProxyUrl('http://[fd00::1]:8080'), { url: 'http://[fd00::1]:8080' });
  t.regex(problem('https://proxy:3128'), /https:\/\/: a TLS connection to the proxy itself is not supported/);
  t.regex(problem('socks5://proxy:1080'), /must be an http:\/\/ URL .*not socks5:/);
  t.regex(problem('http://user:secret@proxy:3128'), /carries credentials/);
  t.regex(problem('http://user@proxy:3128'), /carries credentials/);
  t.false(problem('http://user:secret@proxy:3128').includes('secret'), 'the password is never repeated');
  t.regex(problem('http://proxy:3128/path'), /without a path or query/);
  t.regex(problem('http://proxy:3128/?a=b'), /without a path or query/);
  t.regex(problem('proxy:3128'), /must be an http:\/\/ URL/);
  t.regex(problem('not a url'), /must be an http:\/\/ URL/);
});

function problem(text: string): string {
  const parsed = parseProxyUrl(text);
  return 'problem' in parsed ? parsed.problem : '';
}

test('NO_PROXY: names match themselves and every name below them, with or without a leading dot or *.', (t) => {
  for (const entry of ['example.com', '.example.com', '*.example.com', 'EXAMPLE.COM', 'example.com.']) {
    t.true(noProxyMatches('hub.example.com', 443, entry), entry);
    t.true(noProxyMatches('example.com', 443, entry), entry);
    t.true(noProxyMatches('a.b.example.com.', 443, entry), entry);
    t.false(noProxyMatches('badexample.com', 443, entry), entry);
    t.false(noProxyMatches('example.com.evil.net', 443, entry), entry);
  }
  t.false(noProxyMatches('example.com', 443, 'hub.example.com'), 'a longer entry does not match a shorter name');
});

test('NO_PROXY: lists split on commas and white space; * alone matches all; empty entries are ignored', (t) => {
  t.true(noProxyMatches('hub.internal', 443, 'localhost, 127.0.0.1,hub.internal'));
  t.true(noProxyMatches('hub.internal', 443, 'localhost hub.internal'));
  t.true(noProxyMatches('anything.example', 443, '*'));
  t.true(noProxyMatches('10.1.2.3', 443, ' * '));
  t.false(noProxyMatches('hub.internal', 443, ',, ,'));
  t.false(noProxyMatches('hub.internal', 443, ''));
  t.false(noProxyMatches('hub.internal', 443, '*.'), 'a bare "*." names nothing');
});

test('NO_PROXY: addresses and CIDRs match addresses (IPv4 and IPv6), never names', (t) => {
  t.true(noProxyMatches('127.0.0.1', 443, '127.0.0.1'));
  t.true(noProxyMatches('10.20.30.40', 443, '10.0.0.0/8'));
  t.false(noProxyMatches('11.0.0.1', 443, '10.0.0.0/8'));
  t.true(noProxyMatches('192.168.1.200', 443, '192.168.1.128/25'));
  t.false(noProxyMatches('192.168.1.100', 443, '192.168.1.128/25'));
  t.true(noProxyMatches('[::1]', 443, '::1'));
  t.true(noProxyMatches('fd00::abcd', 443, 'fd00::/8'));
  t.true(noProxyMatches('::ffff:10.0.0.1', 443, '::ffff:10.0.0.0/104'));
  t.false(noProxyMatches('fe80::1', 443, 'fd00::/8'));
  t.false(noProxyMatches('10.0.0.1', 443, '::/0'), 'families never mix');
  t.false(noProxyMatches('10.0.0.1', 443, '10.0.0.0/33'), 'a prefix longer than the address matches nothing');
  t.false(noProxyMatches('10.0.0.1', 443, '0.0.1'), 'no partial address match');
  t.false(noProxyMatches('hub.example.com', 443, '10.0.0.0/8'));
});

test('NO_PROXY: an entry with :port matches that port only (beyond curl)', (t) => {
  t.true(noProxyMatches('hub.example.com', 8443, 'example.com:8443'));
  t.false(noProxyMatches('hub.example.com', 443, 'example.com:8443'));
  t.true(noProxyMatches('10.0.0.5', 8443, '10.0.0.0/8:8443'));
  t.true(noProxyMatches('fd00::5', 8443, '[fd00::5]:8443'));
  t.false(noProxyMatches('fd00::5', 443, '[fd00::5]:8443'));
});

const HTTPS_HUB = new URL('https://hub.example.com:8443');

test('the hub proxy: hub.proxy wins over the environment, "none" means direct, lower case variables before upper case', (t) => {
  const env = { HTTPS_PROXY: 'http://upper:3128', https_proxy: 'http://lower:3128', NO_PROXY: '*' };
  t.deepEqual(selectHubProxy(HTTPS_HUB, 'http://configured:8080', env), { url: 'http://configured:8080', source: 'hub.proxy' }, 'NO_PROXY does not apply to hub.proxy');
  t.is(selectHubProxy(HTTPS_HUB, 'none', env), undefined);
  t.deepEqual(selectHubProxy(HTTPS_HUB, undefined, { HTTPS_PROXY: 'http://upper:3128', https_proxy: 'http://lower:3128' }), { url: 'http://lower:3128', source: 'https_proxy' });
  t.deepEqual(selectHubProxy(HTTPS_HUB, undefined, { HTTPS_PROXY: 'http://upper:3128', https_proxy: '' }), { url: 'http://upper:3128', source: 'HTTPS_PROXY' }, 'an empty variable is unset');
  t.deepEqual(selectHubProxy(HTTPS_HUB, undefined, { HTTPS_PROXY: 'upper:3128' }), { url: 'http://upper:3128', source: 'HTTPS_PROXY' }, 'no scheme means http://, as curl reads it');
  t.is(selectHubProxy(HTTPS_HUB, undefined, {}), undefined);
  t.is(selectHubProxy(HTTPS_HUB, undefined, { HTTP_PROXY: 'http://plain:3128', http_proxy: 'http://plain:3128' }), undefined, 'an https:// hub ignores HTTP_PROXY');
  t.deepEqual(selectHubProxy(new URL('http://hub.test:8080'), undefined, { HTTP_PROXY: 'http://plain:3128', HTTPS_PROXY: 'http://tls:3128' }), { url: 'http://plain:3128', source: 'HTTP_PROXY' });
});

test('the hub proxy: NO_PROXY (or no_proxy, first) covering the hub and its port connects directly', (t) => {
  const proxy = { HTTPS_PROXY: 'http://proxy:3128' };
  t.is(selectHubProxy(HTTPS_HUB, undefined, { ...proxy, NO_PROXY: '.example.com' }), undefined);
  t.is(selectHubProxy(HTTPS_HUB, undefined, { ...proxy, NO_PROXY: 'example.com:8443' }), undefined);
  t.truthy(selectHubProxy(HTTPS_HUB, undefined, { ...proxy, NO_PROXY: 'example.com:443' }));
  t.truthy(selectHubProxy(new URL('https://hub.example.com'), undefined, { ...proxy, NO_PROXY: 'example.com:8443' }), 'the URL\'s default port is 443');
  t.is(selectHubProxy(new URL('https://hub.example.com'), undefined, { ...proxy, NO_PROXY: 'example.com:443' }), undefined);
  t.truthy(selectHubProxy(HTTPS_HUB, undefined, { ...proxy, no_proxy: 'other.net', NO_PROXY: 'example.com' }), 'no_proxy is read first');
  t.is(selectHubProxy(new URL('https://[fd00::7]:8443'), undefined, { ...proxy, NO_PROXY: 'fd00::/64' }), undefined);
});

test('an unusable proxy in hub.proxy or the environment is refused naming where it came from, never repeating its value', (t) => {
  const configured = t.throws(() => selectHubProxy(HTTPS_HUB, 'https://proxy:3128', {}));
  t.is((configured as { code?: string }).code, 'FAULTD_ERR_AGENT_CONFIG');
  t.regex(configured.message, /^hub\.proxy is https:\/\//);
  const fromEnv = t.throws(() => selectHubProxy(HTTPS_HUB, undefined, { HTTPS_PROXY: 'http://alice:s3cret@proxy:3128' }));
  t.is((fromEnv as { code?: string }).code, 'FAULTD_ERR_AGENT_CONFIG');
  t.regex(fromEnv.message, /the environment variable HTTPS_PROXY carries credentials/);
  t.false(fromEnv.message.includes('s3cret'));
  t.false(fromEnv.message.includes('alice'));
  // Covered by NO_PROXY: the variable is never used, so it is not checked either.
  t.is(selectHubProxy(HTTPS_HUB, undefined, { HTTPS_PROXY: 'http://alice:s3cret@proxy:3128', NO_PROXY: '*' }), undefined);
});

test('the proxy the agent uses is part of the control plane: network faults keep its addresses out, whichever way it was set', async (t) => {
  const silent = pino({ level: 'silent' });
  const safetyOf = (hub: { url: string; proxy?: string }, env: NodeJS.ProcessEnv = {}) => resolveNetworkSafety({ hub, safety: { excludeIPs: [], sshPorts: [22] } }, silent, env);
  const configured = await safetyOf({ url: 'https://10.9.9.9:8443', proxy: 'http://10.7.7.7:3128' });
  t.deepEqual(exclusionsOf(configured, false).map((e) => `${e.target.address} ${e.reason}`), ['10.9.9.9 control plane 10.9.9.9:8443', '10.7.7.7 control plane proxy 10.7.7.7:3128']);
  t.deepEqual(controlPlaneTargets(parseIpTargets('10.7.7.7'), configured), ['10.7.7.7 is the control plane proxy 10.7.7.7:3128']);
  const fromEnv = await safetyOf({ url: 'https://10.9.9.9:8443' }, { HTTPS_PROXY: 'http://[fd00::7]:3128' });
  t.deepEqual(fromEnv.controlPlane.map((e) => e.reason), ['control plane 10.9.9.9:8443', 'control plane proxy [fd00::7]:3128']);
  t.deepEqual((await safetyOf({ url: 'https://10.9.9.9:8443' }, { HTTPS_PROXY: 'http://10.7.7.7:3128', NO_PROXY: '10.0.0.0/8' })).controlPlane.map((e) => e.reason), ['control plane 10.9.9.9:8443'], 'not used: not excluded');
  t.deepEqual((await safetyOf({ url: 'https://10.9.9.9:8443', proxy: 'none' }, { HTTPS_PROXY: 'http://10.7.7.7:3128' })).controlPlane.map((e) => e.reason), ['control plane 10.9.9.9:8443']);
  const named = await safetyOf({ url: 'https://10.9.9.9:8443', proxy: 'http://localhost:3128' });
  t.true(named.controlPlane.some((e) => e.reason === 'control plane proxy localhost:3128' && (e.target.address === '127.0.0.1' || e.target.address === '::1')), 'a proxy name is resolved once');
  const unresolved = await safetyOf({ url: 'https://10.9.9.9:8443', proxy: 'http://proxy.invalid:3128' });
  t.regex(unresolved.controlPlaneUnresolved ?? '', /^the hub proxy host proxy\.invalid did not resolve/, 'then network faults are refused unless allowControlPlaneImpact');
});
