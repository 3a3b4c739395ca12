// SPDX-License-Identifier: Apache-2.0
/**
 * Tunables the five HTTP API faults share, in Harness's names and text forms (see the README's
 * table, taken from developer.harness.io's linux-api-* pages): where the traffic is taken
 * (serviceDirection, networkInterface, targetServicePort, destinations, proxyPort), which
 * requests match (pathFilter, methods, headersFilters, queryParams, sources), HTTPS, and the
 * faultd extension `percentage`. Each tunable is validated here with its bound and a message
 * naming it; the checks that span several tunables are in `refineHttpParams`.
 */
import path from 'node:path';

import { z } from 'zod';

import { parsePortSelection, type IpTarget } from '../../net/addresses.js';
import { listOf } from '../../units.js';
import { natRedirectProblem } from '../dns/dns-params.js';
import { controlPlaneRefusal, controlPlaneTargets } from '../network/safety.js';
import { enumParam, hostnamesParam, ipTargetsParam } from '../network/target-params.js';
import { booleanParam, numberParam, type Param } from '../params.js';
import type { ValidationContext } from '../types.js';
import { MAX_CERTIFICATES_BYTES, parseTlsMaterial, type TlsMaterial } from './tls-material.js';

/** RFC 9110 §5.6.2 token: header names and methods. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Most entries of a filter or of headersMap. */
export const MAX_ENTRIES = 32;
/** Longest pathFilter, header or query value (a request head is at most 64 KiB at the interceptor). */
const MAX_TEXT = 4096;
/** Largest responseBody: it travels on the interceptor's command line (one argument ≤ 128 KiB). */
export const MAX_BODY_BYTES = 64 * 1024;

/** A value that may sit in an HTTP field: visible characters, spaces and tabs, no CR, LF or NUL. */
function fieldValueProblem(value: string): string | undefined {
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x08\x0a-\x1f\x7f]/.test(value)) return 'contains a control character (CR, LF, NUL…), which would split or corrupt the HTTP head';
  if (value.length > MAX_TEXT) return `is longer than ${MAX_TEXT} characters`;
  return undefined;
}

function custom<T>(parse: (value: string | readonly string[]) => T, fallback: T, inputError: string) {
  return z
    .union([z.string(), z.array(z.string())], { error: inputError })
    .optional()
    .transform((value, c): T => {
      if (value === undefined) return fallback;
      try {
        return parse(value);
      } catch (error) {
        c.addIssue({ code: 'custom', input: value, message: error instanceof Error ? error.message : String(error) });
        return z.NEVER;
      }
    });
}

export interface NameValue {
  readonly name: string;
  readonly value: string;
}

/** `key1:value1,key2:value2` (Harness) or a YAML list of `key:value` strings. */
function parsePairs(value: string | readonly string[], what: 'header' | 'query'): NameValue[] {
  const pairs = listOf(value).map((entry): NameValue => {
    const colon = entry.indexOf(':');
    if (colon <= 0) throw new Error(`"${entry}" is not key:value`);
    const name = entry.slice(0, colon).trim();
    const text = entry.slice(colon + 1).trim();
    if (what === 'header' && !TOKEN.test(name)) throw new Error(`"${name}" is not an HTTP header name (RFC 9110 token)`);
    if (what === 'query' && (/[=&#\s]/.test(name) || name.length > MAX_TEXT)) throw new Error(`"${name}" is not a query parameter name (no =, &, # or spaces)`);
    const problem = fieldValueProblem(text) ?? (what === 'query' && /[&#]/.test(text) ? 'contains & or #, which end a query value' : undefined);
    if (problem) throw new Error(`the value of "${name}" ${problem}`);
    return { name, value: text };
  });
  if (pairs.length > MAX_ENTRIES) throw new Error(`${pairs.length} entries: at most ${MAX_ENTRIES}`);
  return pairs;
}

function pairsParam(name: string, what: 'header' | 'query', description: string): Param<NameValue[]> {
  return {
    schema: custom((v) => parsePairs(v, what), [], `must be "key1:value1,key2:value2" or a list of "key:value" (at most ${MAX_ENTRIES})`),
    doc: { name, type: 'key:value list', default: '-', bounds: `0–${MAX_ENTRIES} "key:value" pairs`, description },
  };
}

function methodsParam(): Param<string[]> {
  const parse = (value: string | readonly string[]): string[] => {
    const methods = [...new Set(listOf(value).map((m) => m.toUpperCase()))];
    const bad = methods.find((m) => !TOKEN.test(m) || m.length > 32);
    if (bad !== undefined) throw new Error(`"${bad}" is not an HTTP method`);
    if (methods.length > MAX_ENTRIES) throw new Error(`${methods.length} methods: at most ${MAX_ENTRIES}`);
    return methods;
  };
  return {
    schema: custom(parse, [], 'must be HTTP methods, as "GET,POST" or a list'),
    doc: { name: 'methods', type: 'method list', default: '(all)', bounds: 'HTTP methods, upper-cased', description: 'only requests with one of these methods are faulted (METHODS)' },
  };
}

function pathFilterParam(): Param<string | undefined> {
  const schema = z
    .string({ error: 'must be a path, as "/status"' })
    .optional()
    .transform((value, c) => {
      const path = value?.trim();
      if (!path) return undefined;
      const problem = !path.startsWith('/')
        ? 'must start with "/" (a path such as "/status"; the query string is matched by queryParams)'
        : /[\s?#]/.test(path)
          ? 'must not contain spaces, "?" or "#" (the query string is matched by queryParams)'
          : fieldValueProblem(path);
      if (problem) {
        c.addIssue({ code: 'custom', input: value, message: problem });
        return z.NEVER;
      }
      return path;
    });
  return { schema, doc: { name: 'pathFilter', type: 'path', default: '(all paths)', bounds: `a path prefix starting with "/", ≤ ${MAX_TEXT} characters`, description: 'only requests whose path starts with this are faulted (PATH_FILTER)' } };
}

/** A list of TCP ports (no `!` exemptions), as "80,8443", a number or a YAML list. */
function portListParam(name: string, fallback: readonly number[], description: string): Param<number[]> {
  const error = 'must be TCP ports 1–65535, as "80,8443", a number or a list';
  const schema = z
    .union([z.string(), z.number(), z.array(z.union([z.string(), z.number()]))], { error })
    .optional()
    .transform((value, c) => {
      if (value === undefined) return [...fallback];
      try {
        const ports = parsePortSelection(value);
        if (ports.exclude.length) throw new Error(`"!" exemptions are not supported here: ${error}`);
        if (ports.include.length === 0) throw new Error(error);
        return [...new Set(ports.include)];
      } catch (e) {
        c.addIssue({ code: 'custom', input: value, message: e instanceof Error ? e.message : String(e) });
        return z.NEVER;
      }
    });
  return { schema, doc: { name, type: 'port list', default: fallback.join(','), bounds: '1–65535', description } };
}

/**
 * `networkInterface`: one interface; absent, the default route's (Harness: eth0). Only ingress
 * uses it, so whether it exists is checked in refineHttpParams for ingress only (a Harness
 * template's `eth0` does not stop an egress fault on a host without one).
 */
function networkInterfaceParam(ctx: Pick<ValidationContext, 'network'>): Param<string | undefined> {
  const known = ctx.network.interfaces.map((i) => i.name);
  const fallback = ctx.network.defaultInterface;
  return {
    schema: z.string({ error: 'must be one interface name, as "eth0"' }).optional().transform((value) => value?.trim() || fallback),
    doc: { name: 'networkInterface', type: 'interface', default: fallback ?? '(default route)', bounds: `existing: ${known.join(', ')}`, description: 'ingress: the interface whose incoming requests are taken (NETWORK_INTERFACE; Harness default eth0, faultd: the default route\'s)' },
  };
}

function optionalTextParam(name: string, description: string): Param<string | undefined> {
  return {
    schema: z.string({ error: 'must be text' }).optional().transform((v) => (v?.trim() ? v.trim() : undefined)),
    doc: { name, type: 'text', default: '-', bounds: 'text', description },
  };
}

/** `customCertificates`: base64 of the PEM key and certificate (Harness), or the PEM text. */
function certificatesParam(): Param<TlsMaterial | undefined> {
  const schema = z
    .string({ error: 'must be base64 of the PEM key and certificate ("cat key.pem cert.crt | base64")' })
    .optional()
    .transform((value, c) => {
      if (!value?.trim()) return undefined;
      try {
        return parseTlsMaterial(value);
      } catch (error) {
        // Never quoted back: it holds a private key.
        c.addIssue({ code: 'custom', input: '[redacted: a private key]', message: error instanceof Error ? error.message : String(error) });
        return z.NEVER;
      }
    });
  return { schema, doc: { name: 'customCertificates', type: 'base64 PEM', default: '-', bounds: `one private key and its certificate chain, ≤ ${MAX_CERTIFICATES_BYTES / 1024} KiB`, description: 'the key and certificate the interceptor presents to clients when it terminates TLS (CUSTOM_CERTIFICATES)' } };
}

export function sharedHttpParams(ctx: Pick<ValidationContext, 'network'>) {
  return {
    serviceDirection: enumParam('serviceDirection', ['ingress', 'egress'], 'ingress', 'ingress: requests this host\'s service receives on networkInterface; egress: requests this host sends to destinationPorts (SERVICE_DIRECTION)'),
    networkInterface: networkInterfaceParam(ctx),
    targetServicePort: numberParam({ name: 'targetServicePort', min: 1, max: 65535, integer: true, default: 80, description: 'ingress: the port of this host\'s service (TARGET_SERVICE_PORT)' }),
    proxyPort: numberParam({ name: 'proxyPort', min: 1, max: 65535, integer: true, default: 20000, description: 'the port the interceptor listens on; must be free (PROXY_PORT)' }),
    destinationPorts: portListParam('destinationPorts', [80, 8443], 'egress: the remote ports whose requests are taken (DESTINATION_PORTS)'),
    destinationHosts: hostnamesParam('destinationHosts', 'egress: only requests to these hosts are taken (resolved once at start; DESTINATION_HOSTS)'),
    destinationIPs: ipTargetsParam('destinationIPs', 'egress: only requests to these addresses/CIDRs are taken; "ip|port|port" limits ports (DESTINATION_IPS)'),
    sourceHosts: hostnamesParam('sourceHosts', 'ingress: only requests from these hosts are taken (resolved once at start; SOURCE_HOSTS)'),
    sourceIPs: ipTargetsParam('sourceIPs', 'ingress: only requests from these addresses/CIDRs are taken (SOURCE_IPS)'),
    pathFilter: pathFilterParam(),
    methods: methodsParam(),
    headersFilters: pairsParam('headersFilters', 'header', 'only requests carrying every one of these headers are faulted; name case-insensitive, value exact (HEADERS_FILTERS)'),
    queryParams: pairsParam('queryParams', 'query', 'only requests whose query string has every one of these parameters are faulted (QUERY_PARAMS)'),
    httpsEnabled: booleanParam({ name: 'httpsEnabled', default: false, description: 'intercept HTTPS, terminating TLS with the certificate of customCertificates (HTTPS_ENABLED)' }),
    httpsRootCertFile: optionalTextParam('httpsRootCertFile', 'with customCertificates: the PEM CA bundle the upstream\'s certificate is verified against (absent: not verified); faultd never edits the host\'s trust store (HTTPS_ROOT_CERT_FILE)'),
    customCertificates: certificatesParam(),
    percentage: numberParam({ name: 'percentage', min: 0, max: 100, default: 100, unit: '%', description: 'share of matching requests that are faulted, drawn per request (faultd extension)' }),
  };
}

/** Harness upper-case spellings of the shared tunables. */
export const HTTP_ALIASES: Readonly<Record<string, string>> = {
  SERVICE_DIRECTION: 'serviceDirection',
  NETWORK_INTERFACE: 'networkInterface',
  TARGET_SERVICE_PORT: 'targetServicePort',
  PROXY_PORT: 'proxyPort',
  DESTINATION_PORTS: 'destinationPorts',
  DESTINATION_HOSTS: 'destinationHosts',
  DESTINATION_IPS: 'destinationIPs',
  SOURCE_HOSTS: 'sourceHosts',
  SOURCE_IPS: 'sourceIPs',
  PATH_FILTER: 'pathFilter',
  METHODS: 'methods',
  HEADERS_FILTERS: 'headersFilters',
  QUERY_PARAMS: 'queryParams',
  HTTPS_ENABLED: 'httpsEnabled',
  HTTPS_ROOT_CERT_FILE: 'httpsRootCertFile',
  CUSTOM_CERTIFICATES: 'customCertificates',
  PERCENTAGE: 'percentage',
};

/** The shared tunables after validation. */
export interface HttpTargeting {
  readonly serviceDirection: 'ingress' | 'egress';
  /** Ingress: checked to exist by refineHttpParams; egress: unused. */
  readonly networkInterface: string | undefined;
  readonly targetServicePort: number;
  readonly proxyPort: number;
  readonly destinationPorts: readonly number[];
  readonly destinationHosts: readonly string[];
  readonly destinationIPs: readonly IpTarget[];
  readonly sourceHosts: readonly string[];
  readonly sourceIPs: readonly IpTarget[];
  readonly pathFilter: string | undefined;
  readonly methods: readonly string[];
  readonly headersFilters: readonly NameValue[];
  readonly queryParams: readonly NameValue[];
  readonly httpsEnabled: boolean;
  readonly httpsRootCertFile: string | undefined;
  readonly customCertificates: TlsMaterial | undefined;
  readonly percentage: number;
}

/** The ports whose traffic the fault redirects: targetServicePort (ingress) or every destination port (egress). */
export function redirectedPorts(p: HttpTargeting): number[] {
  if (p.serviceDirection === 'ingress') return [p.targetServicePort];
  return [...new Set([...p.destinationPorts, ...p.destinationIPs.flatMap((t) => t.ports)])].sort((a, b) => a - b);
}

/** Why a proxyPort with a listener is refused (at validation, and again at plan). */
export function proxyPortBusy(port: number): string {
  return `port ${port} already has a TCP listener on this host; give a free port for the interceptor (PROXY_PORT)`;
}

/** The checks that span several tunables; each issue names the field it is about. */
export function refineHttpParams(kind: string, p: HttpTargeting, ctx: Pick<ValidationContext, 'features' | 'network'>, issue: (path: string, message: string) => void): void {
  const missing = natRedirectProblem(kind, ctx);
  if (missing) issue('', missing);
  if (ctx.network.listeningTcpPorts?.().has(p.proxyPort)) {
    issue('proxyPort', proxyPortBusy(p.proxyPort));
  }
  if (p.serviceDirection === 'ingress') {
    const known = ctx.network.interfaces.map((i) => i.name);
    if (p.networkInterface === undefined) issue('networkInterface', `no interface given and no default route to take one from (interfaces here: ${known.join(', ')})`);
    else if (!known.includes(p.networkInterface)) issue('networkInterface', `no interface "${p.networkInterface}" here (interfaces: ${known.join(', ')})`);
    for (const field of ['destinationHosts', 'destinationIPs'] as const) {
      if (p[field].length) issue(field, 'applies to serviceDirection egress only (ingress takes the requests this host receives on targetServicePort)');
    }
    if (p.proxyPort === p.targetServicePort) issue('proxyPort', `must differ from targetServicePort ${p.targetServicePort} (the interceptor would be redirected to itself)`);
    if (ctx.network.safety.sshPorts.includes(p.targetServicePort)) {
      issue('targetServicePort', `${p.targetServicePort} is this host's SSH port (config safety.sshPorts): SSH is never intercepted`);
    }
  } else {
    for (const field of ['sourceHosts', 'sourceIPs'] as const) {
      if (p[field].length) issue(field, 'applies to serviceDirection ingress only (egress requests come from this host)');
    }
    if (redirectedPorts(p).includes(p.proxyPort)) issue('proxyPort', `must not be one of the destination ports ${redirectedPorts(p).join(',')} (the interceptor would be redirected to itself)`);
    const hits = controlPlaneTargets(p.destinationIPs, ctx.network.safety);
    if (hits.length) issue('destinationIPs', controlPlaneRefusal(hits).replace(/\. Set allowControlPlaneImpact.*$/, ''));
  }
  if (p.httpsEnabled) {
    if (!p.customCertificates) {
      issue(
        'httpsEnabled',
        p.httpsRootCertFile
          ? 'HTTPS is never intercepted blindly, and faultd never adds a certificate to the host\'s trust store (httpsRootCertFile): give customCertificates (base64 of the PEM key and certificate your clients trust)'
          : 'HTTPS is never intercepted blindly: give customCertificates (base64 of the PEM key and certificate your clients trust), or set httpsEnabled false for plain HTTP',
      );
    } else {
      // Asked only here: a plain-HTTP fault never runs the probe.
      const tls = ctx.features.httpTls?.() ?? { supported: false, reason: 'no TLS probe' };
      if (!tls.supported) issue('httpsEnabled', `HTTPS cannot be intercepted here: ${tls.reason} (plain HTTP only: httpsEnabled false)`);
    }
    if (p.httpsRootCertFile !== undefined && !path.isAbsolute(p.httpsRootCertFile)) {
      issue('httpsRootCertFile', 'must be an absolute path to the PEM CA bundle the upstream\'s certificate is verified against');
    }
  } else if (p.customCertificates || p.httpsRootCertFile) {
    issue(p.customCertificates ? 'customCertificates' : 'httpsRootCertFile', 'is used only with httpsEnabled: true');
  }
}
