// SPDX-License-Identifier: Apache-2.0
/**
 * Access keys and tokens of the hub. Keys are long-lived and stored only as salted scrypt
 * hashes; tokens are short-lived, high-entropy, and stored as SHA-256 hashes. Neither is ever
 * stored or logged in clear.
 */
import { createHash, randomBytes, scrypt, scryptSync, timingSafeEqual } from 'node:crypto';

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
