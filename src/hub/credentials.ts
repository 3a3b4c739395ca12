// SPDX-License-Identifier: Apache-2.0
/**
 * Access keys and tokens of the hub. Both are random with 256 bits of entropy and stored only
 * hashed: keys as salted HMAC-SHA256, tokens as SHA-256. A slow password hash would add nothing
 * against guessing 2^256 values and would cost a fleet reconnecting at once minutes of hub CPU.
 * Keys made before 2026-12-07 are stored as scrypt hashes and still accepted. Neither is ever
 * stored or logged in clear: a rotated key awaiting confirmation is stored hashed and sealed
 * with the current key.
 */
import { createCipheriv, createDecipheriv, createHash, createHmac, hkdfSync, randomBytes, scrypt, timingSafeEqual } from 'node:crypto';

import { ACCESS_KEY_PREFIX, ACCESS_TOKEN_PREFIX } from '../protocol/messages.js';

/** The salt of a key hashed with HMAC-SHA256 (keys made from 2026-12-07 on). */
const HMAC_SALT_BYTES = 32;
/** The salt of a key hashed with scrypt (N=2^14, r=8, p=1; keys made before 2026-12-07): its length tells the two apart. */
const SCRYPT_SALT_BYTES = 16;
const SCRYPT_KEYLEN = 32;

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

function keyHmac(key: string, salt: Buffer): Buffer {
  return createHmac('sha256', salt).update(key).digest();
}

export function hashKey(key: string): KeyHash {
  const salt = randomBytes(HMAC_SALT_BYTES);
  return { salt, hash: keyHmac(key, salt) };
}

/**
 * Checks a key against its hash, in constant time for a given hash. A key stored by faultd
 * before 2026-12-07 is checked with scrypt (~30 ms of CPU, on libuv's pool, so heartbeats and
 * TLS handshakes go on meanwhile); it stays so until the key is rotated.
 */
export function keyMatches(key: string, stored: KeyHash): Promise<boolean> {
  const same = (candidate: Buffer) => candidate.length === stored.hash.length && timingSafeEqual(candidate, stored.hash);
  if (stored.salt.length !== SCRYPT_SALT_BYTES) return Promise.resolve(same(keyHmac(key, stored.salt)));
  return new Promise((resolve, reject) => {
    scrypt(key, stored.salt, SCRYPT_KEYLEN, (error, candidate) => {
      if (error) reject(error);
      else resolve(same(candidate));
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
const SEAL_SALT_BYTES = 16;
/** version, salt, iv, tag; the ciphertext follows. */
const SEAL_HEADER_BYTES = 1 + SEAL_SALT_BYTES + IV_BYTES + TAG_BYTES;

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
  const salt = randomBytes(SEAL_SALT_BYTES);
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', sealingKey(currentKey, salt), iv);
  const sealed = Buffer.concat([cipher.update(pendingKey, 'utf8'), cipher.final()]);
  return Buffer.concat([Buffer.of(SEAL_VERSION), salt, iv, cipher.getAuthTag(), sealed]);
}

/** The rotated key sealed by sealPendingKey with `currentKey`; undefined for any other key or a damaged seal. */
export function openPendingKey(sealed: Buffer, currentKey: string): string | undefined {
  if (sealed.length < SEAL_HEADER_BYTES || sealed[0] !== SEAL_VERSION) return undefined;
  const ivAt = 1 + SEAL_SALT_BYTES;
  const tagAt = ivAt + IV_BYTES;
  try {
    const decipher = createDecipheriv('aes-256-gcm', sealingKey(currentKey, sealed.subarray(1, ivAt)), sealed.subarray(ivAt, tagAt));
    decipher.setAuthTag(sealed.subarray(tagAt, SEAL_HEADER_BYTES));
    return Buffer.concat([decipher.update(sealed.subarray(SEAL_HEADER_BYTES)), decipher.final()]).toString('utf8');
  } catch {
    return undefined;
  }
}
