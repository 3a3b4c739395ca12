// SPDX-License-Identifier: Apache-2.0
// The certificates `hub init` and `hub client-cert` make have the fields of those faultd 0.1.0
// made with node-forge, as `openssl x509 -text` shows them (test/fixtures/hub/release-0.1.0).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';

import test from 'ava';

import { initHubTls, issueClientCertificate } from '../../../src/hub/tls.js';
import { REPO_ROOT } from '../../helpers/cli.js';

const FIXTURES = path.join(REPO_ROOT, 'test', 'fixtures', 'hub', 'release-0.1.0');
/** The host name of the machine that made the fixtures. */
const FIXTURE_HOST = 'vm';
const SANS = ['hub.example.org', '10.1.2.3', 'fd00::5'];
const DAY_MS = 86_400_000;

function openssl(...args: string[]): string {
  return execFileSync('openssl', args, { encoding: 'utf8' });
}

interface Normalized {
  /** The `-text` output with the serial, dates, key modulus and signature bytes replaced. */
  readonly text: string;
  readonly serial: string;
  readonly notBefore: Date;
  readonly validDays: number;
}

/** Replaces what differs between any two certificates of the same recipe, keeping it aside. */
function normalize(text: string, host: string): Normalized {
  const serial = /Serial Number:\n\s+([0-9a-f:]+)\n/.exec(text)?.[1] ?? '';
  const notBefore = new Date(/Not Before: (.+ GMT)/.exec(text)?.[1] ?? '');
  const notAfter = new Date(/Not After : (.+ GMT)/.exec(text)?.[1] ?? '');
  const normalized = text
    .replace(/(Serial Number:\n\s+)[0-9a-f:]+\n/, '$1<serial>\n')
    .replace(/Not Before: .+ GMT/, 'Not Before: <t>')
    .replace(/Not After : .+ GMT/, 'Not After : <t + validity>')
    // Modulus and signature bytes: lines of hex pairs only.
    .replace(/^\s+(?:[0-9a-f]{2}:)+[0-9a-f]{0,2}\n/gm, '')
    .replaceAll(`CN = ${host}, O = faultd`, 'CN = <host>, O = faultd')
    .replaceAll(`DNS:${host},`, 'DNS:<host>,');
  return { text: normalized, serial, notBefore, validDays: (notAfter.getTime() - notBefore.getTime()) / DAY_MS };
}

test('hub init and hub client-cert make the certificates faultd 0.1.0 made: same subject, issuer, SANs, usages, constraints, validity, key', async (t) => {
  if (['localhost', '127.0.0.1', '::1', ...SANS].includes(hostname())) {
    t.fail(`the host name ${hostname()} is one of the fixed SANs: the comparison needs another one`);
    return;
  }
  const dir = mkdtempSync(path.join(tmpdir(), 'faultd-certs-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const started = Date.now();
  const { files } = await initHubTls(dir, SANS);
  const client = await issueClientCertificate(dir, 'edge-1');
  const made = { ca: files.caCert, server: files.serverCert, client: client.cert };
  for (const [name, file] of Object.entries(made)) {
    const expected = normalize(readFileSync(path.join(FIXTURES, `${name}.txt`), 'utf8'), FIXTURE_HOST);
    const actual = normalize(openssl('x509', '-in', file, '-text', '-noout'), hostname());
    t.is(actual.text, expected.text, `${name}: openssl x509 -text differs from faultd 0.1.0's`);
    t.is(actual.validDays, expected.validDays, `${name}: validity`);
    t.regex(actual.serial, /^01(?::[0-9a-f]{2}){15}$/, `${name}: 16 random bytes starting 01, as before`);
    // Valid from a minute before issuing (clock skew between hub and agents), to the second.
    t.true(actual.notBefore.getTime() >= started - 62_000 && actual.notBefore.getTime() <= Date.now() - 59_000, `${name}: not before ${actual.notBefore.toISOString()}`);
  }
  t.not(normalize(openssl('x509', '-in', made.ca, '-text', '-noout'), hostname()).serial, normalize(openssl('x509', '-in', made.server, '-text', '-noout'), hostname()).serial);
  t.is(openssl('verify', '-CAfile', made.ca, made.server, made.client), `${made.server}: OK\n${made.client}: OK\n`);
  for (const key of [files.caKey, files.serverKey, client.key]) {
    t.is(statSync(key).mode & 0o777, 0o600, `${key} is private`);
    const text = openssl('pkey', '-in', key, '-noout', '-text');
    t.regex(text, /^Private-Key: \(2048 bit, 2 primes\)\n/, `${key}: RSA 2048`);
    t.regex(text, /publicExponent: 65537 \(0x10001\)/);
    t.regex(readFileSync(key, 'utf8'), /^-----BEGIN PRIVATE KEY-----\n/, `${key}: PKCS#8 PEM, as before`);
  }
  for (const cert of Object.values(made)) t.is(statSync(cert).mode & 0o777, 0o644);
});

test('hub client-cert signs with a CA key in PKCS#1 (another tool\'s) and refuses a CA key that is not RSA, naming it', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'faultd-certs-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const { files } = await initHubTls(dir, []);
  const pkcs1 = openssl('pkey', '-in', files.caKey, '-traditional');
  t.regex(pkcs1, /^-----BEGIN RSA PRIVATE KEY-----/);
  writeFileSync(files.caKey, pkcs1);
  const issued = await issueClientCertificate(dir, 'edge-2');
  t.is(openssl('verify', '-CAfile', files.caCert, issued.cert), `${issued.cert}: OK\n`);
  writeFileSync(files.caKey, openssl('genpkey', '-algorithm', 'ed25519'));
  await t.throwsAsync(issueClientCertificate(dir, 'edge-3'), { code: 'FAULTD_ERR_HUB_TLS', message: /cannot write the client certificate .*: the signing key is ed25519, not RSA/ });
});
