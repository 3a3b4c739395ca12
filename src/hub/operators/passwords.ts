// SPDX-License-Identifier: Apache-2.0
/**
 * Operator passwords, hashed with scrypt (node:crypto; no native dependency) and a random salt
 * per user. The stored form names its parameters, so they can be raised later and old hashes
 * still verify: `scrypt$<N>$<r>$<p>$<salt b64url>$<hash b64url>`. Verification is asynchronous
 * (libuv's pool) and compares in constant time; an unknown user is checked against a dummy
 * hash of the same cost, so both failures take as long.
 */
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

/** 2^15 × 8 × 1 needs 32 MiB and ~60 ms per check here: login only, never per request. */
const COST = { N: 2 ** 15, r: 8, p: 1 } as const;
const KEY_BYTES = 32;
const SALT_BYTES = 16;
const MAX_MEM = 64 * 1024 * 1024;

export const MIN_PASSWORD_LENGTH = 12;
export const MAX_PASSWORD_LENGTH = 1024;

function derive(password: string, salt: Buffer, cost: { N: number; r: number; p: number }): Promise<Buffer> {
  const options: ScryptOptions = { N: cost.N, r: cost.r, p: cost.p, maxmem: MAX_MEM };
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFC'), salt, KEY_BYTES, options, (error, key) => {
      if (error) reject(error);
      else resolve(key);
    });
  });
}

/** Why `password` cannot be used, or undefined when it can. */
export function passwordProblem(password: string): string | undefined {
  if (password.length < MIN_PASSWORD_LENGTH) return `a password needs at least ${MIN_PASSWORD_LENGTH} characters`;
  if (password.length > MAX_PASSWORD_LENGTH) return `a password has at most ${MAX_PASSWORD_LENGTH} characters`;
  return undefined;
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const key = await derive(password, salt, COST);
  return ['scrypt', COST.N, COST.r, COST.p, salt.toString('base64url'), key.toString('base64url')].join('$');
}

interface ParsedHash {
  readonly N: number;
  readonly r: number;
  readonly p: number;
  readonly salt: Buffer;
  readonly key: Buffer;
}

function parseHash(stored: string): ParsedHash | undefined {
  const [scheme, n, r, p, salt, key] = stored.split('$');
  if (scheme !== 'scrypt' || !n || !r || !p || !salt || !key) return undefined;
  const cost = { N: Number(n), r: Number(r), p: Number(p) };
  if (![cost.N, cost.r, cost.p].every((v) => Number.isSafeInteger(v) && v > 0)) return undefined;
  return { ...cost, salt: Buffer.from(salt, 'base64url'), key: Buffer.from(key, 'base64url') };
}

/** A hash nobody's password matches, checked for unknown users so they cost the same time. */
let dummy: Promise<string> | undefined;

/**
 * True when `password` matches `stored`. With `stored` undefined (no such user) it still runs
 * one scrypt of the same cost and returns false.
 */
export async function verifyPassword(password: string, stored: string | undefined): Promise<boolean> {
  dummy ??= hashPassword(randomBytes(24).toString('base64url'));
  const parsed = parseHash(stored ?? (await dummy));
  if (!parsed) return false;
  const candidate = await derive(password, parsed.salt, parsed);
  const matches = candidate.length === parsed.key.length && timingSafeEqual(candidate, parsed.key);
  return matches && stored !== undefined;
}
