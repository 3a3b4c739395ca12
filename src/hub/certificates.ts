// SPDX-License-Identifier: Apache-2.0
/**
 * RSA key pairs and X.509 certificates for the hub's own small PKI (`faultd hub init`,
 * `faultd hub client-cert`), built with @peculiar/x509 and signed by Node's WebCrypto.
 * Loaded only by the commands that issue certificates: the library and the Reflect polyfill it
 * needs (reflect-metadata, which patches the global `Reflect`) cost about half a second to load.
 */
import 'reflect-metadata';

import { createPrivateKey, randomBytes, webcrypto } from 'node:crypto';
import { isIP } from 'node:net';

import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto);

const SIGNING = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' } as const;
const KEY_GENERATION = { ...SIGNING, modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]) } as const;
const DAY_MS = 86_400_000;

/** A key pair in PEM: PKCS#8 private key, SPKI public key. */
export interface KeyPair {
  readonly privatePem: string;
  readonly publicPem: string;
}

export interface CertificateRequest {
  readonly commonName: string;
  readonly validDays: number;
  readonly isCa: boolean;
  /** DNS names and IP addresses the server certificate is valid for. */
  readonly subjectAltNames?: readonly string[];
  /** The issuer (absent: self-signed). */
  readonly issuer?: { readonly certPem: string; readonly keyPem: string };
  /** A client (agent) certificate rather than a server one. */
  readonly client?: boolean;
  /** For tests: a certificate that is already expired. */
  readonly notBefore?: Date;
}

/** A new RSA 2048 key pair (public exponent 65537). */
export async function newKeyPair(): Promise<KeyPair> {
  const keys = await webcrypto.subtle.generateKey(KEY_GENERATION, true, ['sign', 'verify']);
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  const spki = await webcrypto.subtle.exportKey('spki', keys.publicKey);
  return { privatePem: x509.PemConverter.encode(pkcs8, 'PRIVATE KEY'), publicPem: x509.PemConverter.encode(spki, 'PUBLIC KEY') };
}

/** A PEM RSA private key (PKCS#8, or PKCS#1 from another tool) as a WebCrypto signing key. */
async function signingKey(pem: string): Promise<webcrypto.CryptoKey> {
  const key = createPrivateKey(pem);
  if (key.asymmetricKeyType !== 'rsa') throw new Error(`the signing key is ${key.asymmetricKeyType ?? 'not an asymmetric key'}, not RSA`);
  return webcrypto.subtle.importKey('pkcs8', key.export({ type: 'pkcs8', format: 'der' }), SIGNING, false, ['sign']);
}

function extensions(request: CertificateRequest): x509.Extension[] {
  if (request.isCa) {
    return [new x509.BasicConstraintsExtension(true, undefined, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true)];
  }
  const leaf = [
    new x509.BasicConstraintsExtension(false, undefined, false),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
    new x509.ExtendedKeyUsageExtension([request.client === true ? x509.ExtendedKeyUsage.clientAuth : x509.ExtendedKeyUsage.serverAuth], false),
  ];
  if (request.client === true) return leaf;
  const names = (request.subjectAltNames ?? []).map((n): x509.JsonGeneralName => (isIP(n) ? { type: 'ip', value: n } : { type: 'dns', value: n }));
  return [...leaf, new x509.SubjectAlternativeNameExtension(names, false)];
}

/**
 * A certificate for `keys` as described, signed with SHA-256 by the issuer's key (or by `keys`
 * when self-signed); returns its PEM. Subject `CN=<commonName>, O=faultd`; the serial is 16
 * random bytes starting 0x01 (positive, never shortened).
 */
export async function issueCertificate(keys: KeyPair, request: CertificateRequest): Promise<string> {
  const notBefore = request.notBefore ?? new Date(Date.now() - 60_000);
  const subject: x509.JsonName = [{ CN: [request.commonName] }, { O: ['faultd'] }];
  const issuer = request.issuer ? new x509.X509Certificate(request.issuer.certPem).subjectName : subject;
  const publicKey = await webcrypto.subtle.importKey('spki', x509.PemConverter.decodeFirst(keys.publicPem), SIGNING, true, ['verify']);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: `01${randomBytes(15).toString('hex')}`,
    subject,
    issuer,
    notBefore,
    notAfter: new Date(notBefore.getTime() + request.validDays * DAY_MS),
    signingAlgorithm: SIGNING,
    publicKey,
    signingKey: await signingKey(request.issuer?.keyPem ?? keys.privatePem),
    extensions: extensions(request),
  });
  return cert.toString('pem');
}
