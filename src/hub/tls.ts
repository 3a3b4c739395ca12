// SPDX-License-Identifier: Apache-2.0
/**
 * `faultd hub init`: a private CA and a server certificate signed by it, for first use (a fleet
 * brings its own PKI instead). Keys are RSA 2048; the certificates are made by certificates.ts
 * (@peculiar/x509 on WebCrypto), loaded only when one is issued. Private keys are written 0600,
 * and existing files are never overwritten. `faultd hub client-cert` issues agent certificates
 * from the same CA for hubs that require them (`serve --require-client-cert`).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';

import { FaultdError, messageOf } from '../errors.js';

export interface HubTlsFiles {
  readonly caCert: string;
  readonly caKey: string;
  readonly serverCert: string;
  readonly serverKey: string;
}

export function hubTlsFiles(dir: string): HubTlsFiles {
  return {
    caCert: path.join(dir, 'ca.pem'),
    caKey: path.join(dir, 'ca.key'),
    serverCert: path.join(dir, 'server.pem'),
    serverKey: path.join(dir, 'server.key'),
  };
}

/**
 * Creates the CA and the server certificate in `dir` unless they exist. Returns the files and
 * whether they were created now.
 */
export async function initHubTls(dir: string, subjectAltNames: readonly string[]): Promise<{ files: HubTlsFiles; created: boolean }> {
  const files = hubTlsFiles(dir);
  const paths: string[] = [files.caCert, files.caKey, files.serverCert, files.serverKey];
  if (paths.every((f) => existsSync(f))) return { files, created: false };
  if (paths.some((f) => existsSync(f))) {
    throw new FaultdError('FAULTD_ERR_HUB_TLS', `${dir} holds some but not all of ca.pem, ca.key, server.pem, server.key; move them away or complete them`);
  }
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const { issueCertificate, newKeyPair } = await import('./certificates.js');
    const caKeys = await newKeyPair();
    const caCert = await issueCertificate(caKeys, { commonName: 'faultd hub CA', validDays: 3650, isCa: true });
    const serverKeys = await newKeyPair();
    const names = [...new Set(['localhost', '127.0.0.1', '::1', hostname(), ...subjectAltNames])];
    const serverCert = await issueCertificate(serverKeys, { commonName: hostname(), validDays: 825, isCa: false, subjectAltNames: names, issuer: { certPem: caCert, keyPem: caKeys.privatePem } });
    writeFileSync(files.caKey, caKeys.privatePem, { mode: 0o600, flag: 'wx' });
    writeFileSync(files.serverKey, serverKeys.privatePem, { mode: 0o600, flag: 'wx' });
    writeFileSync(files.caCert, caCert, { mode: 0o644, flag: 'wx' });
    writeFileSync(files.serverCert, serverCert, { mode: 0o644, flag: 'wx' });
  } catch (error) {
    throw new FaultdError('FAULTD_ERR_HUB_TLS', `cannot create the hub certificates in ${dir}: ${messageOf(error)}`, { cause: error });
  }
  return { files, created: true };
}

const CLIENT_NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;

/**
 * Issues a client certificate `name` from the hub's CA into `<dir>/clients/` (never
 * overwriting); returns the certificate and key paths for the agent's config.
 */
export async function issueClientCertificate(dir: string, name: string): Promise<{ cert: string; key: string }> {
  if (!CLIENT_NAME.test(name)) throw new FaultdError('FAULTD_ERR_HUB_INPUT', `client name "${name}": use 1–63 of a-z, 0-9, ".", "_", "-"`);
  const files = hubTlsFiles(dir);
  let ca: { certPem: string; keyPem: string };
  try {
    ca = { certPem: readFileSync(files.caCert, 'utf8'), keyPem: readFileSync(files.caKey, 'utf8') };
  } catch (error) {
    throw new FaultdError('FAULTD_ERR_HUB_TLS', `cannot read the hub CA in ${dir} (run faultd hub init): ${messageOf(error)}`, { cause: error });
  }
  const clients = path.join(dir, 'clients');
  const out = { cert: path.join(clients, `${name}.pem`), key: path.join(clients, `${name}.key`) };
  if (existsSync(out.cert) || existsSync(out.key)) throw new FaultdError('FAULTD_ERR_HUB_TLS', `a client certificate "${name}" exists already (${out.cert}); remove it first to reissue`);
  try {
    mkdirSync(clients, { recursive: true, mode: 0o700 });
    const { issueCertificate, newKeyPair } = await import('./certificates.js');
    const keys = await newKeyPair();
    const cert = await issueCertificate(keys, { commonName: name, validDays: 825, isCa: false, client: true, issuer: ca });
    writeFileSync(out.key, keys.privatePem, { mode: 0o600, flag: 'wx' });
    writeFileSync(out.cert, cert, { mode: 0o644, flag: 'wx' });
  } catch (error) {
    throw new FaultdError('FAULTD_ERR_HUB_TLS', `cannot write the client certificate in ${clients}: ${messageOf(error)}`, { cause: error });
  }
  return out;
}

/**
 * The server's key and certificate, and with `withCa` the CA that verifies agents' client
 * certificates (a hub with its own PKI may have no ca.pem otherwise).
 */
export function readHubTls(dir: string, withCa = false): { key: string; cert: string; ca?: string } {
  const files = hubTlsFiles(dir);
  try {
    return { key: readFileSync(files.serverKey, 'utf8'), cert: readFileSync(files.serverCert, 'utf8'), ...(withCa ? { ca: readFileSync(files.caCert, 'utf8') } : {}) };
  } catch (error) {
    throw new FaultdError('FAULTD_ERR_HUB_TLS', `cannot read the hub's server certificate in ${dir} (run faultd hub init): ${messageOf(error)}`, { cause: error });
  }
}
