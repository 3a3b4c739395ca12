// SPDX-License-Identifier: Apache-2.0
/**
 * One criterion of a probe: an observed value, read as the criterion's type, compared with its
 * value (Harness's comparator semantics).
 *
 * - `int`: the observed value must be a base-10 integer (`42`, `-7`, `+3`; surrounding white
 *   space ignored), `float`: a decimal number (`0.5`, `-1e3`); a number the check already has
 *   (an exit code, a Prometheus sample) is taken as it is, so a sample of `+Inf` compares as
 *   infinity and `NaN` fails every comparison. `string`: the text as it is.
 * - `==`, `!=`, `<`, `<=`, `>`, `>=`: numeric for int/float, by UTF-16 code units for strings.
 * - `contains` and `matches` (a JavaScript regular expression, unanchored) look at the observed
 *   text whatever the type; `oneOf` (a list) is equality with any element, numeric for int/float.
 */
import type { Comparison } from './types.js';

export interface ComparisonResult {
  readonly passed: boolean;
  /** Why the observed value could not be compared (not a number, NaN, bad criterion). */
  readonly error?: string;
}

const INTEGER = /^[+-]?\d+$/;
const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/** Compiled `matches` expressions, per criterion object (a probe compares thousands of times). */
const compiledPatterns = new WeakMap<Comparison, RegExp | Error>();

function patternOf(c: Comparison): RegExp | Error {
  let compiled = compiledPatterns.get(c);
  if (!compiled) {
    try {
      compiled = new RegExp(String(c.value));
    } catch (error) {
      compiled = error instanceof Error ? error : new Error(String(error));
    }
    compiledPatterns.set(c, compiled);
  }
  return compiled;
}

/** The observed text, quoted and cut for an error message. */
function shown(observed: string | number): string {
  if (typeof observed === 'number') return String(observed);
  return JSON.stringify(observed.length > 60 ? `${observed.slice(0, 60)}…` : observed);
}

type Read = { readonly ok: true; readonly value: number | string } | { readonly ok: false; readonly error: string };

/** The observed value read as `type`. */
function readObserved(observed: string | number, type: Comparison['type']): Read {
  if (type === 'string') return { ok: true, value: String(observed) };
  if (typeof observed === 'number') {
    if (Number.isNaN(observed)) return { ok: false, error: 'observed NaN (not a number): it fails every numeric comparison' };
    if (type === 'int' && !Number.isSafeInteger(observed)) return { ok: false, error: `expected an integer, saw ${shown(observed)}` };
    return { ok: true, value: observed };
  }
  const text = observed.trim();
  if (type === 'int') {
    const value = Number(text);
    if (!INTEGER.test(text)) return { ok: false, error: `expected an integer, saw ${shown(observed)}` };
    if (!Number.isSafeInteger(value)) return { ok: false, error: `integer out of range (±2^53): ${shown(observed)}` };
    return { ok: true, value };
  }
  const value = Number(text);
  if (!DECIMAL.test(text) || !Number.isFinite(value)) return { ok: false, error: `expected a number, saw ${shown(observed)}` };
  return { ok: true, value };
}

/** A criterion value (or list element) read as `type`; numbers were checked by the schema. */
function readExpected(value: string | number, type: Comparison['type']): number | string | undefined {
  if (type === 'string') return String(value);
  const n = typeof value === 'number' ? value : Number(value.trim());
  return typeof value === 'string' && value.trim() === '' ? undefined : Number.isNaN(n) ? undefined : n;
}

function ordered(a: number | string, b: number | string, criteria: '<' | '<=' | '>' | '>='): boolean {
  switch (criteria) {
    case '<':
      return a < b;
    case '<=':
      return a <= b;
    case '>':
      return a > b;
    case '>=':
      return a >= b;
  }
}

/** Compares `observed` with the criterion `c`. Never throws. */
export function compare(observed: string | number, c: Comparison): ComparisonResult {
  if (c.criteria === 'contains' || c.criteria === 'matches') {
    if (Array.isArray(c.value)) return { passed: false, error: `${c.criteria} needs one value, not a list` };
    if (typeof observed === 'number' && Number.isNaN(observed) && c.type !== 'string') return { passed: false, error: 'observed NaN (not a number): it fails every numeric comparison' };
    const text = String(observed);
    if (c.criteria === 'contains') return { passed: text.includes(String(c.value)) };
    const pattern = patternOf(c);
    if (pattern instanceof Error) return { passed: false, error: `invalid regular expression: ${pattern.message}` };
    return { passed: pattern.test(text) };
  }
  const read = readObserved(observed, c.type);
  if (!read.ok) return { passed: false, error: read.error };
  if (c.criteria === 'oneOf') {
    if (!Array.isArray(c.value)) return { passed: false, error: 'oneOf needs a list of values' };
    const values: readonly (string | number)[] = c.value;
    const expected = values.map((v) => readExpected(v, c.type));
    if (expected.includes(undefined)) return { passed: false, error: `oneOf list has a value that is not a number: ${JSON.stringify(values)}` };
    return { passed: expected.includes(read.value) };
  }
  if (Array.isArray(c.value)) return { passed: false, error: `${c.criteria} needs one value, not a list` };
  const single = c.value as string | number;
  const expected = readExpected(single, c.type);
  if (expected === undefined) return { passed: false, error: `criterion value is not a number: ${JSON.stringify(single)}` };
  switch (c.criteria) {
    case '==':
      return { passed: read.value === expected };
    case '!=':
      return { passed: read.value !== expected };
    default:
      return { passed: ordered(read.value, expected, c.criteria) };
  }
}

function formatValue(value: string | number, type: Comparison['type']): string {
  return type === 'string' || typeof value === 'string' ? JSON.stringify(String(value)) : String(value);
}

/** The criterion in words: `stdout (int) >= 3`, `body (string) matches /up|ok/`, `code (int) oneOf [200, 204]`. */
export function describeComparison(subject: string, c: Comparison): string {
  let value: string;
  if (Array.isArray(c.value)) {
    const values: readonly (string | number)[] = c.value;
    value = `[${values.map((v) => formatValue(v, c.type)).join(', ')}]`;
  } else if (c.criteria === 'matches') value = `/${String(c.value)}/`;
  else value = formatValue(c.value as string | number, c.criteria === 'contains' ? 'string' : c.type);
  return `${subject} (${c.type}) ${c.criteria} ${value}`;
}
