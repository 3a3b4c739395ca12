// SPDX-License-Identifier: Apache-2.0
/**
 * The certificate the HTTP interceptor presents when it terminates TLS (`httpsEnabled` with
 * `customCertificates`, Harness: base64 of the PEM key and certificate, `cat key.pem cert.crt |
 * base64`; plain PEM text is taken too). Parsed at validation; written at apply, before the
 * interceptor starts, into a directory of the fault's own (0700, files 0600) whose path is in the
 * ledger's intent, and removed by the revert once the interceptor is gone.
 */
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** The largest customCertificates faultd takes (a key and a chain of a few certificates). */
export const MAX_CERTIFICATES_BYTES = 64 * 1024;

export interface TlsMaterial {
  /** PEM private key. */
  readonly key: string;
  /** PEM certificates, the leaf first, as given. */
  readonly chain: string;
}

const KEY_BLOCK = /-----BEGIN ((?:RSA |EC |ENCRYPTED )?PRIVATE KEY)-----[\s\S]+?-----END \1-----/g;
const CERT_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** Parses customCertificates; throws with the reason (the caller names the field). */
export function parseTlsMaterial(value: string): TlsMaterial {
  const text = value.includes('-----BEGIN') ? value : decodeBase64(value);
  if (Buffer.byteLength(text) > MAX_CERTIFICATES_BYTES) throw new Error(`is ${Buffer.byteLength(text)} bytes of PEM: at most ${MAX_CERTIFICATES_BYTES}`);
  const keys = text.match(KEY_BLOCK) ?? [];
  const certificates = text.match(CERT_BLOCK) ?? [];
  if (keys.length !== 1) throw new Error(`must hold exactly one PEM private key (found ${keys.length}): base64 of "cat key.pem cert.crt"`);
  if (keys[0]?.includes('ENCRYPTED')) throw new Error('holds an encrypted private key: give it without a passphrase');
  if (certificates.length === 0) throw new Error('holds no PEM certificate: base64 of "cat key.pem cert.crt"');
  return { key: `${keys[0] ?? ''}\n`, chain: `${certificates.join('\n')}\n` };
}

function decodeBase64(value: string): string {
  const compact = value.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(compact)) throw new Error('is neither base64 nor PEM text');
  return Buffer.from(compact, 'base64').toString('utf8');
}

/** Where a fault's TLS files go: /run/faultd/tls/<fault> as root, else under this user's tmpdir. */
export function tlsDirOf(faultId: string, isRoot: boolean): string {
  const base = isRoot ? '/run/faultd/tls' : path.join(tmpdir(), `faultd-tls-${process.getuid?.() ?? 0}`);
  return path.join(base, faultId);
}

export interface TlsFiles {
  readonly cert: string;
  readonly key: string;
}

export const tlsFilesOf = (dir: string): TlsFiles => ({ cert: path.join(dir, 'cert.pem'), key: path.join(dir, 'key.pem') });

/** Writes the key and chain into `dir` (made here, 0700; refused if it exists); files 0600. */
export function writeTlsMaterial(dir: string, material: TlsMaterial): TlsFiles {
  mkdirSync(path.dirname(dir), { recursive: true, mode: 0o700 });
  mkdirSync(dir, { mode: 0o700 });
  const files = tlsFilesOf(dir);
  writeFileSync(files.key, material.key, { mode: 0o600, flag: 'wx' });
  writeFileSync(files.cert, material.chain, { mode: 0o600, flag: 'wx' });
  return files;
}

/** Removes the fault's TLS directory; true if something was removed. Throws if it is still there. */
export function removeTlsMaterial(dir: string): boolean {
  if (!existsSync(dir)) return false;
  rmSync(dir, { recursive: true, force: true });
  if (existsSync(dir)) throw new Error(`${dir} is still there after removal`);
  return true;
}
