// SPDX-License-Identifier: Apache-2.0
/**
 * Access keys and tokens of the hub. Keys are long-lived and stored only as salted scrypt
 * hashes; tokens are short-lived, high-entropy, and stored as SHA-256 hashes. Neither is ever
 * stored or logged in clear: a rotated key awaiting confirmation is stored hashed and sealed
 * with the current key.
 */
import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes, scrypt, scryptSync, timingSafeEqual } from 'node:crypto';

import { ACCESS_KEY_PREFIX, ACCESS_TOKEN_PREFIX } from '../protocol/messages.js';

const SCRYPT_KEYLEN = 32;
const SALT_BYTES = 16;

export function newAccessKey(): string {
  return `${ACCESS_KEY_PREFIX}${randomBytes(32).toString('base64url')}`;
}

export function newAccessToken(): string {
  return `${ACCESS_TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
}

export function newId(prefix: string): string {
  return `${prefix}${randomBytes(9).toString('base64url')}`;
}

export interface KeyHash {
  readonly salt: Buffer;
  readonly hash: Buffer;
}

export function hashKey(key: string): KeyHash {
  const salt = randomBytes(SALT_BYTES);
  return { salt, hash: scryptSync(key, salt, SCRYPT_KEYLEN) };
}

/**
 * Checks a key against its hash. Asynchronous: scrypt costs ~30 ms of CPU and runs on libuv's
 * pool, so a hub receiving many token requests at once (a fleet reconnecting) keeps serving
 * heartbeats and TLS handshakes meanwhile.
 */
export function keyMatches(key: string, stored: KeyHash): Promise<boolean> {
  return new Promise((resolve, reject) => {
    scrypt(key, stored.salt, SCRYPT_KEYLEN, (error, candidate) => {
      if (error) reject(error);
      else resolve(candidate.length === stored.hash.length && timingSafeEqual(candidate, stored.hash));
    });
  });
}

/** Tokens carry 256 bits of entropy: a plain SHA-256 identifies them without storing them. */
export function tokenHash(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

const SEAL_VERSION = 1;
const SEAL_INFO = 'faultd pending access key';
const IV_BYTES = 12;
const TAG_BYTES = 16;
/** version, salt, iv, tag; the ciphertext follows. */
const SEAL_HEADER_BYTES = 1 + SALT_BYTES + IV_BYTES + TAG_BYTES;

function sealingKey(currentKey: string, salt: Buffer): Buffer {
  // The current key has 256 bits of entropy: HKDF suffices (scrypt is for guessable secrets).
  return Buffer.from(hkdfSync('sha256', currentKey, salt, SEAL_INFO, 32));
}

/**
 * Seals a rotated key handed out to an agent with the key the agent presented (AES-256-GCM, a
 * key derived by HKDF-SHA256): the store then holds nothing that works without the current
 * key, yet the next exchange with that key can hand out the same rotated key again.
 */
export function sealPendingKey(pendingKey: string, currentKey: string): Buffer {
  const salt = randomBytes(SALT_BYTES);
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', sealingKey(currentKey, salt), iv);
  const sealed = Buffer.concat([cipher.update(pendingKey, 'utf8'), cipher.final()]);
  return Buffer.concat([Buffer.of(SEAL_VERSION), salt, iv, cipher.getAuthTag(), sealed]);
}

/** The rotated key sealed by sealPendingKey with `currentKey`; undefined for any other key or a damaged seal. */
export function openPendingKey(sealed: Buffer, currentKey: string): string | undefined {
  if (sealed.length < SEAL_HEADER_BYTES || sealed[0] !== SEAL_VERSION) return undefined;
  const ivAt = 1 + SALT_BYTES;
  const tagAt = ivAt + IV_BYTES;
  try {
    const decipher = createDecipheriv('aes-256-gcm', sealingKey(currentKey, sealed.subarray(1, ivAt)), sealed.subarray(ivAt, tagAt));
    decipher.setAuthTag(sealed.subarray(tagAt, SEAL_HEADER_BYTES));
    return Buffer.concat([decipher.update(sealed.subarray(SEAL_HEADER_BYTES)), decipher.final()]).toString('utf8');
  } catch {
    return undefined;
  }
}
