// SPDX-License-Identifier: Apache-2.0
// The HTTP API faults' tunables without root: Harness names, text forms, upper-case aliases and
// defaults; every bound and cross-field rule refused with a message naming the field; HTTPS never
// intercepted blindly; the exclusive targets that keep two faults off the same traffic.

import test from 'ava';

import { validateExperiment } from '../../../../src/experiment/schema.js';
import { REGISTRY } from '../../../../src/faults/registry.js';
import { kernelFeatureProbe } from '../../../../src/host/features.js';
import { listeningPorts } from '../../../../src/host/tcp-listeners.js';
import type { FaultContext } from '../../../../src/faults/types.js';
import { FakeNetlink } from '../../../helpers/fake-netlink.js';
import { moduleOf, netlinkContext, validParams } from '../../../helpers/network-fault.js';

const KINDS = ['linux-api-block', 'linux-api-latency', 'linux-api-status-code', 'linux-api-modify-body', 'linux-api-modify-header'] as const;
const HEADERS = { headersMap: '{"X-Chaos":"1"}' };
/** PEM blocks as customCertificates holds them (their content is checked by the interceptor, not here). */
const PEM_KEY = '-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----';
const PEM_CERT = '-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n-----END CERTIFICATE-----';

function ctxWith(o: { missing?: readonly 'natRedirect'[]; controlPlane?: string } = {}): FaultContext {
  const ctx = netlinkContext(new FakeNetlink(), { missing: o.missing ?? [] });
  const controlPlane = o.controlPlane ? [{ target: { address: o.controlPlane, prefixLen: 32, version: 4 as const, ports: [] }, reason: `control plane ${o.controlPlane}:8443` }] : [];
  return { ...ctx, network: { ...ctx.network, safety: { ...ctx.network.safety, controlPlane } } };
}

/** The params as the experiment loader hands them over: Harness upper-case keys renamed by the kind's aliases. */
function aliased(kind: string, raw: Record<string, unknown>): Record<string, unknown> {
  const aliases = moduleOf(kind).paramAliases;
  return Object.fromEntries(Object.entries(raw).map(([key, value]) => [aliases[key] ?? key, value]));
}

function valid(kind: string, raw: Record<string, unknown>, ctx: FaultContext): unknown {
  return validParams(kind, aliased(kind, raw), ctx);
}

function issues(kind: string, raw: Record<string, unknown>, ctx = ctxWith()): string[] {
  const result = moduleOf(kind).validateParams(aliased(kind, raw), ctx);
  return result.ok ? [] : result.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
}

const SHARED_DEFAULTS = {
  serviceDirection: 'ingress',
  networkInterface: 'eth0',
  targetServicePort: 80,
  proxyPort: 20000,
  destinationPorts: [80, 8443],
  destinationHosts: [],
  destinationIPs: [],
  sourceHosts: [],
  sourceIPs: [],
  methods: [],
  headersFilters: [],
  queryParams: [],
  httpsEnabled: false,
  percentage: 100,
};

test('defaults: Harness values (targetServicePort 80, proxyPort 20000, ingress, destinationPorts 80,8443, statusCode 404, latency 2s), networkInterface the default route\'s, and each kind\'s dataDirection', (t) => {
  const ctx = ctxWith();
  t.deepEqual(validParams('linux-api-block', {}, ctx), { ...SHARED_DEFAULTS, statusCode: 404 });
  t.deepEqual(validParams('linux-api-latency', {}, ctx), { ...SHARED_DEFAULTS, latency: 2000, dataDirection: 'request' });
  t.deepEqual(validParams('linux-api-status-code', {}, ctx), { ...SHARED_DEFAULTS, statusCode: 404, responseBody: '' });
  t.deepEqual(validParams('linux-api-modify-body', {}, ctx), { ...SHARED_DEFAULTS, responseBody: '', dataDirection: 'response' });
  t.deepEqual(validParams('linux-api-modify-header', HEADERS, ctx), { ...SHARED_DEFAULTS, headersMap: [{ name: 'X-Chaos', value: '1' }], dataDirection: 'both' });
});

test('Harness text forms and upper-case aliases', (t) => {
  const ctx = ctxWith();
  t.like(
    valid('linux-api-latency', { TARGET_SERVICE_PORT: '8080', PROXY_PORT: '21000', NETWORK_INTERFACE: 'lo', PATH_FILTER: '/status', METHODS: 'get,POST', HEADERS_FILTERS: 'key1:value1, X-Tenant: a:b', QUERY_PARAMS: 'param1:value1,debug:', LATENCY: '2', DATA_DIRECTION: 'both', PERCENTAGE: '25' }, ctx),
    {
      targetServicePort: 8080,
      proxyPort: 21000,
      networkInterface: 'lo',
      pathFilter: '/status',
      methods: ['GET', 'POST'],
      headersFilters: [{ name: 'key1', value: 'value1' }, { name: 'X-Tenant', value: 'a:b' }],
      queryParams: [{ name: 'param1', value: 'value1' }, { name: 'debug', value: '' }],
      latency: 2000,
      dataDirection: 'both',
      percentage: 25,
    },
  );
  t.like(validParams('linux-api-latency', { latency: '350ms' }, ctx), { latency: 350 }, 'a duration string');
  t.like(valid('linux-api-block', { SERVICE_DIRECTION: 'egress', DESTINATION_IPS: '10.0.0.20,10.1.0.0/16|9000', DESTINATION_PORTS: '80,443', STATUS_CODE: '503' }, ctx), {
    serviceDirection: 'egress',
    destinationIPs: [{ address: '10.0.0.20', prefixLen: 32, version: 4, ports: [] }, { address: '10.1.0.0', prefixLen: 16, version: 4, ports: [9000] }],
    destinationPorts: [80, 443],
    statusCode: 503,
  });
  t.like(valid('linux-api-modify-header', { HEADERS_MAP: { 'Cache-Control': '', 'X-Chaos': 7 } }, ctx), { headersMap: [{ name: 'Cache-Control', value: '' }, { name: 'X-Chaos', value: '7' }] }, 'a YAML map; "" removes');
  t.like(valid('linux-api-status-code', { RESPONSE_BODY: '{"error":"down"}', statusCode: 503 }, ctx), { responseBody: '{"error":"down"}' });
  for (const kind of KINDS) {
    const aliases = moduleOf(kind).paramAliases;
    t.is(aliases['TARGET_SERVICE_PORT'], 'targetServicePort', kind);
    t.is(aliases['HTTPS_ENABLED'], 'httpsEnabled', kind);
    t.is(aliases['PERCENTAGE'], 'percentage', kind);
  }
  t.is(moduleOf('linux-api-modify-header').paramAliases['HEADERS_MAP'], 'headersMap');
  t.like(valid('linux-api-modify-header', { headerMap: '{"X-A":"1"}' }, ctx), { headersMap: [{ name: 'X-A', value: '1' }] }, "Harness's prose spelling headerMap");
  t.is(moduleOf('linux-api-modify-body').paramAliases['RESPONSE_BODY'], 'responseBody');
});

test('bad input names the field and what is allowed', (t) => {
  t.deepEqual(issues('linux-api-block', { statusCode: 100 }), ['statusCode: must be an HTTP status code in 200–599 (1xx are interim responses, never a final answer)']);
  t.deepEqual(issues('linux-api-block', { statusCode: '600' }), ['statusCode: must be an HTTP status code in 200–599 (1xx are interim responses, never a final answer)']);
  t.deepEqual(issues('linux-api-latency', { latency: '11m' }), ['latency: must be in 0s–10m']);
  t.deepEqual(issues('linux-api-latency', { dataDirection: 'sideways' }), ['dataDirection: must be one of request, response, both']);
  t.deepEqual(issues('linux-api-block', { targetServicePort: 0 }), ['targetServicePort: must be in 1–65535']);
  t.deepEqual(issues('linux-api-block', { percentage: 101 }), ['percentage: must be in 0–100']);
  t.deepEqual(issues('linux-api-block', { networkInterface: 'eth9' }), ['networkInterface: no interface "eth9" here (interfaces: lo, eth0)']);
  t.deepEqual(issues('linux-api-block', { pathFilter: 'status' }), ['pathFilter: must start with "/" (a path such as "/status"; the query string is matched by queryParams)']);
  t.deepEqual(issues('linux-api-block', { pathFilter: '/a?b=1' }), ['pathFilter: must not contain spaces, "?" or "#" (the query string is matched by queryParams)']);
  t.deepEqual(issues('linux-api-block', { methods: 'GET,BAD METHOD' }), ['methods: "BAD METHOD" is not an HTTP method']);
  t.deepEqual(issues('linux-api-block', { headersFilters: 'novalue' }), ['headersFilters: "novalue" is not key:value']);
  t.deepEqual(issues('linux-api-block', { headersFilters: 'Bad Name:x' }), ['headersFilters: "Bad Name" is not an HTTP header name (RFC 9110 token)']);
  t.deepEqual(issues('linux-api-block', { queryParams: 'a:b&c' }), ['queryParams: the value of "a" contains & or #, which end a query value']);
  t.deepEqual(issues('linux-api-block', { destinationPorts: '!22' }), ['destinationPorts: "!" exemptions are not supported here: must be TCP ports 1–65535, as "80,8443", a number or a list']);
  const missing = issues('linux-api-modify-header', {});
  t.is(missing.length, 1);
  t.regex(missing[0] ?? '', /^headersMap: /, 'headersMap is required, as in Harness');
  t.deepEqual(issues('linux-api-modify-header', { headersMap: '{}' }), [`headersMap: has 0 entries: must be a map of header names to values, as '{"X-Chaos":"1","Cache-Control":""}' (JSON text or a YAML map, 1–32 entries; "" removes the header)`]);
  t.deepEqual(issues('linux-api-modify-header', { headersMap: 'X-A: 1' }), [`headersMap: is not JSON: must be a map of header names to values, as '{"X-Chaos":"1","Cache-Control":""}' (JSON text or a YAML map, 1–32 entries; "" removes the header)`]);
  t.deepEqual(issues('linux-api-modify-header', { headersMap: { 'X A': '1', 'X-B': 'a\r\nInjected: 1', 'Content-Length': '3', 'x-c': '1', 'X-C': '2', 'X-D': { nested: true } } }), [
    `headersMap: "X A" is not an HTTP header name (RFC 9110 token: letters, digits and !#$%&'*+-.^_\`|~)`,
    'headersMap: "X-B": the value contains a control character (CR, LF, NUL…), which would split the HTTP head',
    'headersMap: "Content-Length" frames the message or the connection and is kept by the interceptor; it cannot be set or removed',
    'headersMap: "X-C" appears twice (header names are case-insensitive)',
    'headersMap: "X-D": {"nested":true} is not a string',
  ]);
  t.deepEqual(issues('linux-api-modify-body', { responseBody: 'x'.repeat(64 * 1024 + 1) }), ['responseBody: is 65537 bytes: at most 65536 (64 KiB)']);
  t.deepEqual(issues('linux-api-status-code', { statusCode: 204, responseBody: 'x' }), ['responseBody: must be empty with statusCode 204, a status whose response never has a body']);
  t.is(issues('linux-api-block', { statuscode: 404 }).length, 1, 'an unknown key is an error');
});

test('cross-field rules: direction-specific filters, proxyPort never one of the redirected ports, SSH never intercepted, the control plane never a destination, nat redirect needed', (t) => {
  t.deepEqual(issues('linux-api-block', { destinationIPs: '10.0.0.1', destinationHosts: 'api.example.com' }), [
    'destinationHosts: applies to serviceDirection egress only (ingress takes the requests this host receives on targetServicePort)',
    'destinationIPs: applies to serviceDirection egress only (ingress takes the requests this host receives on targetServicePort)',
  ]);
  t.deepEqual(issues('linux-api-block', { serviceDirection: 'egress', sourceIPs: '10.0.0.1' }), ['sourceIPs: applies to serviceDirection ingress only (egress requests come from this host)']);
  t.deepEqual(issues('linux-api-block', { targetServicePort: 20000 }), ['proxyPort: must differ from targetServicePort 20000 (the interceptor would be redirected to itself)']);
  t.deepEqual(issues('linux-api-block', { serviceDirection: 'egress', destinationPorts: '80,20000' }), ['proxyPort: must not be one of the destination ports 80,20000 (the interceptor would be redirected to itself)']);
  t.deepEqual(issues('linux-api-block', { targetServicePort: 22 }), ["targetServicePort: 22 is this host's SSH port (config safety.sshPorts): SSH is never intercepted"]);
  t.deepEqual(issues('linux-api-block', { serviceDirection: 'egress', destinationIPs: '10.9.9.9' }, ctxWith({ controlPlane: '10.9.9.9' })), [
    'destinationIPs: 10.9.9.9 is the control plane 10.9.9.9:8443: the fault would cut this agent from its control plane',
  ]);
  t.deepEqual(issues('linux-api-latency', {}, ctxWith({ missing: ['natRedirect'] })), [
    ': linux-api-latency needs nf_tables nat chains with redirect (nf_nat, nft_chain_nat, nft_redir), which this kernel does not offer (ENOENT (not in this fake kernel))',
  ]);
});

test('networkInterface matters for ingress only; a proxyPort with a listener is refused at validation', (t) => {
  const ctx = ctxWith();
  const noRoute = { ...ctx, network: { ...ctx.network, defaultInterface: undefined } };
  t.deepEqual(issues('linux-api-block', {}, noRoute), ['networkInterface: no interface given and no default route to take one from (interfaces here: lo, eth0)']);
  t.deepEqual(issues('linux-api-block', { serviceDirection: 'egress' }, noRoute), [], 'egress needs no interface');
  t.deepEqual(issues('linux-api-block', { serviceDirection: 'egress', networkInterface: 'eth0-absent' }), [], "a Harness template's interface does not stop an egress fault");
  const busy = { ...ctx, network: { ...ctx.network, listeningTcpPorts: () => new Set([22, 20000]) } };
  t.deepEqual(issues('linux-api-block', {}, busy), ['proxyPort: port 20000 already has a TCP listener on this host; give a free port for the interceptor (PROXY_PORT)']);
  t.deepEqual(issues('linux-api-block', { proxyPort: 20001 }, busy), []);
});

test('HTTPS is never intercepted blindly: refused without certificate material, never by editing the trust store, and with a certificate only once the interceptor terminates TLS', (t) => {
  t.deepEqual(issues('linux-api-block', { httpsEnabled: 'true' }), ['httpsEnabled: HTTPS is never intercepted blindly: give customCertificates (base64 of the PEM key and certificate your clients trust), or set httpsEnabled false for plain HTTP']);
  t.deepEqual(issues('linux-api-block', { HTTPS_ENABLED: true, HTTPS_ROOT_CERT_FILE: '/etc/pki/tls/certs/ca-bundle.crt' }), [
    "httpsEnabled: HTTPS is never intercepted blindly, and faultd never adds a certificate to the host's trust store (httpsRootCertFile): give customCertificates (base64 of the PEM key and certificate your clients trust)",
  ]);
  const pem = `${PEM_KEY}\n${PEM_CERT}\n`;
  const certificates = { httpsEnabled: true, customCertificates: Buffer.from(pem).toString('base64') };
  const ctx = ctxWith();
  const probed = (answer: { supported: boolean; reason: string }): FaultContext => ({ ...ctx, features: { ...ctx.features, httpTls: () => answer } });
  const withTls = probed({ supported: true, reason: '' });
  t.deepEqual(issues('linux-api-block', certificates, probed({ supported: false, reason: "this faultd-stressor's HTTP interceptor does not terminate TLS (no --tls-cert)" })), [
    "httpsEnabled: HTTPS cannot be intercepted here: this faultd-stressor's HTTP interceptor does not terminate TLS (no --tls-cert) (plain HTTP only: httpsEnabled false)",
  ]);
  t.deepEqual(issues('linux-api-block', certificates, withTls), [], 'allowed once the interceptor terminates TLS');
  t.like(valid('linux-api-block', { ...certificates, httpsRootCertFile: '/etc/ssl/certs/ca-certificates.crt' }, withTls), { customCertificates: { key: `${PEM_KEY}\n`, chain: `${PEM_CERT}\n` } });
  t.like(valid('linux-api-block', { httpsEnabled: true, customCertificates: pem }, withTls), { customCertificates: { key: `${PEM_KEY}\n` } }, 'PEM text as well as base64');
  t.deepEqual(issues('linux-api-block', { ...certificates, httpsRootCertFile: 'ca.pem' }, withTls), ["httpsRootCertFile: must be an absolute path to the PEM CA bundle the upstream's certificate is verified against"]);
  t.deepEqual(issues('linux-api-block', { httpsEnabled: true, customCertificates: 'Y3VzdG9tIGNlcnRpZmljYXRlcwo=' }, withTls), ['customCertificates: must hold exactly one PEM private key (found 0): base64 of "cat key.pem cert.crt"']);
  t.deepEqual(issues('linux-api-block', { httpsEnabled: true, customCertificates: PEM_KEY }, withTls), ['customCertificates: holds no PEM certificate: base64 of "cat key.pem cert.crt"']);
  t.deepEqual(issues('linux-api-block', { httpsEnabled: true, customCertificates: 'not base64!' }, withTls), ['customCertificates: is neither base64 nor PEM text']);
  t.deepEqual(issues('linux-api-block', { customCertificates: pem }), ['customCertificates: is used only with httpsEnabled: true']);
  const refused = moduleOf('linux-api-block').validateParams({ httpsEnabled: true, customCertificates: PEM_KEY }, withTls);
  t.deepEqual(refused.ok ? [] : refused.issues.map((i) => i.input), ['[redacted: a private key]'], 'a refused customCertificates is never quoted back');
});

test('the TLS probe reads the interceptor\'s usage: --tls-cert offered or not, no http mode, cannot run', (t) => {
  const probe = (stderr: string, error?: Error) => kernelFeatureProbe({ stressorPath: '/x/faultd-stressor', native: () => ({ nftListChains: () => [] }), run: () => ({ stdout: '', stderr, ...(error ? { error } : {}) }) }).httpTls?.();
  t.deepEqual(probe('faultd-stressor: http: --mark is required\nusage: faultd-stressor http --mark=N [--tls-cert=PEM --tls-key=PEM]\n'), { supported: true, reason: '' });
  t.deepEqual(probe('usage: faultd-stressor http --mark=N [--port=P]\n'), { supported: false, reason: "this faultd-stressor's HTTP interceptor does not terminate TLS (no --tls-cert)" });
  t.deepEqual(probe('faultd-stressor: unknown mode http\n'), { supported: false, reason: 'this faultd-stressor has no http mode' });
  t.deepEqual(probe('', new Error('spawn ENOENT')), { supported: false, reason: 'the probe could not run: spawn ENOENT' });
});

test('exclusive targets: one interceptor per proxy port and per (direction, port)', (t) => {
  const ctx = ctxWith();
  const targets = (kind: string, raw: Record<string, unknown>) => moduleOf(kind).exclusiveTargets(validParams(kind, raw, ctx));
  t.deepEqual(targets('linux-api-block', {}), ['http-proxy-port:20000', 'http-ingress:80']);
  t.deepEqual(targets('linux-api-latency', { serviceDirection: 'egress', destinationIPs: '10.0.0.1|9000' }), ['http-proxy-port:20000', 'http-egress:80', 'http-egress:8443', 'http-egress:9000']);
  const a = targets('linux-api-block', { proxyPort: 21000 });
  const b = targets('linux-api-modify-header', { ...HEADERS, proxyPort: 22000 });
  t.true(a.some((x) => b.includes(x)), 'two ingress faults on port 80 share a target, whatever their proxy ports');
});

test('one step refuses two HTTP faults on the same (direction, port) or proxy port', (t) => {
  const step = (faults: Record<string, unknown>[]) =>
    validateExperiment({ apiVersion: 'faultd/v1', kind: 'Experiment', metadata: { name: 'x' }, spec: { steps: [{ faults }] } }, REGISTRY, ctxWith());
  const refused = step([{ kind: 'linux-api-block', params: {} }, { kind: 'linux-api-latency', params: { proxyPort: 21000 } }]);
  t.false(refused.ok);
  t.regex(refused.ok ? '' : refused.problems.map((p) => p.message).join('\n'), /both change http-ingress:80; put them in separate steps/);
  t.true(step([{ kind: 'linux-api-block', params: {} }, { kind: 'linux-api-latency', params: { proxyPort: 21000, serviceDirection: 'egress', destinationPorts: 9000 } }]).ok, 'ingress 80 and egress 9000 on two proxy ports go together');
});

test('listening ports are read from /proc/net/tcp text (state 0A only)', (t) => {
  const text = [
    '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
    '   0: 00000000:4E20 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0000000000000000 100 0 0 10 0',
    '   1: 0100007F:1F90 0100007F:C350 01 00000000:00000000 00:00000000 00000000     0        0 2 1 0000000000000000 20 4 30 10 -1',
  ].join('\n');
  t.deepEqual([...listeningPorts(text)], [20000]);
  t.deepEqual([...listeningPorts('  sl  local_address …\n   0: 00000000000000000000000000000000:0050 00000000000000000000000000000000:0000 0A 0\n')], [80]);
});
