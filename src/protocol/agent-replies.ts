// SPDX-License-Identifier: Apache-2.0
/**
 * The hub's answers that the idle agent reads (token, heartbeat, task, error), checked by hand
 * instead of with zod: the idle process loads nothing it does not need (README, "Footprint").
 * Each accepts and refuses what its zod schema in messages.ts does, which
 * test/unit/protocol/agent-replies.test.ts checks on the same samples. Unknown fields are
 * ignored, as zod's non-strict objects do.
 */
import { ACCESS_KEY_PREFIX, ACCESS_TOKEN_PREFIX, RUN_ID_PATTERN, SECRET_MAX_LENGTH, SECRET_MIN_BODY } from './constants.js';
import type { Checked, ValidationIssue, Validator } from './validator.js';

export interface TokenReply {
  readonly accessToken: string;
  readonly expiresAt: string;
  readonly ttlSeconds: number;
  readonly rotation?: { readonly rotationId: string; readonly newAccessKey: string };
}

export interface HeartbeatReply {
  readonly serverTime: string;
  readonly abort: string[];
}

export interface TaskReply {
  readonly task: { readonly runId: string; readonly experiment: unknown; readonly queuedAt: string };
}

export interface ErrorReply {
  readonly error: { readonly code: string; readonly message: string };
}

/** ISO 8601 date-time as zod's `z.iso.datetime()` takes it by default: UTC ("Z"), seconds, optional fraction. */
const ISO_DATETIME = /^(\d{4})-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d+)?Z$/;

/** A real calendar day (no 30 February): the date survives a round trip through Date. */
function isIsoDatetime(text: string): boolean {
  const match = ISO_DATETIME.exec(text);
  if (!match) return false;
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const at = new Date(0);
  at.setUTCFullYear(year, month - 1, day); // not Date.UTC, which reads years 0–99 as 1900–1999
  return at.getUTCFullYear() === year && at.getUTCMonth() === month - 1 && at.getUTCDate() === day;
}

type Fields = Readonly<Record<string, unknown>>;
type Check = (value: unknown, path: PropertyKey[], issues: ValidationIssue[]) => void;

const isObject = (value: unknown): value is Fields => typeof value === 'object' && value !== null && !Array.isArray(value);

function issue(issues: ValidationIssue[], path: PropertyKey[], message: string): void {
  issues.push({ path: [...path], message });
}

const string =
  (test: (s: string) => boolean = () => true, what = 'a string'): Check =>
  (value, path, issues) => {
    if (typeof value !== 'string' || !test(value)) issue(issues, path, `expected ${what}`);
  };

const secret = (prefix: string): Check =>
  string((s) => s.startsWith(prefix) && s.length >= prefix.length + SECRET_MIN_BODY && s.length <= SECRET_MAX_LENGTH, `a ${prefix}… secret`);
const nonEmpty = string((s) => s.length > 0, 'a non-empty string');
const datetime = string(isIsoDatetime, 'an ISO date-time');

const positiveInteger: Check = (value, path, issues) => {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) issue(issues, path, 'expected a positive integer');
};

const anything: Check = () => undefined;

const arrayOf =
  (item: Check): Check =>
  (value, path, issues) => {
    if (!Array.isArray(value)) {
      issue(issues, path, 'expected an array');
      return;
    }
    value.forEach((element, i) => item(element, [...path, i], issues));
  };

/** An object with these fields; `optional` ones may be absent (undefined). */
function object(fields: Readonly<Record<string, Check>>, optional: readonly string[] = []): Check {
  return (value, path, issues) => {
    if (!isObject(value)) {
      issue(issues, path, 'expected an object');
      return;
    }
    for (const [key, check] of Object.entries(fields)) {
      // An `anything` field may hold any value, but must be there (as with zod's z.unknown()).
      if (check === anything ? !(key in value) : value[key] === undefined) {
        if (!optional.includes(key)) issue(issues, [...path, key], 'required');
        continue;
      }
      check(value[key], [...path, key], issues);
    }
  };
}

/** A validator from a check; the data is the input itself (unknown fields kept, as they are harmless). */
function validator<T>(check: Check): Validator<T> {
  return {
    safeParse(input: unknown): Checked<T> {
      const issues: ValidationIssue[] = [];
      check(input, [], issues);
      return issues.length ? { success: false, error: { issues } } : { success: true, data: input as T };
    },
  };
}

export const TokenReply = validator<TokenReply>(
  object({ accessToken: secret(ACCESS_TOKEN_PREFIX), expiresAt: datetime, ttlSeconds: positiveInteger, rotation: object({ rotationId: nonEmpty, newAccessKey: secret(ACCESS_KEY_PREFIX) }) }, ['rotation']),
);

export const HeartbeatReply = validator<HeartbeatReply>(object({ serverTime: datetime, abort: arrayOf(string()) }));

export const TaskReply = validator<TaskReply>(
  object({ task: object({ runId: string((s) => RUN_ID_PATTERN.test(s), '1–64 of A-Z, a-z, 0-9, "_", "-"'), experiment: anything, queuedAt: datetime }) }),
);

export const ErrorReply = validator<ErrorReply>(object({ error: object({ code: string(), message: string() }) }));
