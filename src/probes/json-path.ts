// SPDX-License-Identifier: Apache-2.0
/**
 * A small JSON path reader for HTTP probes' body criteria: `$`, `$.a.b`, `$.a[0].b`,
 * `$['key with space']` (or double quotes, with `\'`, `\"` and `\\` escapes). No filters,
 * wildcards, slices or recursive descent: a path names one value or nothing.
 */

export type JsonPathSegment = string | number;

export type ParsedJsonPath = { readonly ok: true; readonly segments: readonly JsonPathSegment[] } | { readonly ok: false; readonly error: string };

export type JsonPathResult = { readonly found: true; readonly value: unknown } | { readonly found: false };

const NAME = /^[^.[\]\s'"]+/;
const INDEX = /^\[(\d+)\]/;

/** Reads a quoted key starting at `text[0]` (a quote); returns the key and the length consumed. */
function quotedKey(text: string): { key: string; length: number } | undefined {
  const quote = text[0];
  let key = '';
  for (let i = 1; i < text.length; i++) {
    const ch = text.charAt(i);
    if (ch === '\\') {
      const next = text[i + 1];
      if (next === undefined || !'\\\'"'.includes(next)) return undefined;
      key += next;
      i++;
    } else if (ch === quote) return { key, length: i + 1 };
    else key += ch;
  }
  return undefined;
}

/** Parses a path such as `$.a[0]['b c']` into its segments. */
export function parseJsonPath(path: string): ParsedJsonPath {
  if (!path.startsWith('$')) return { ok: false, error: `JSON path must start with $: ${JSON.stringify(path)}` };
  const segments: JsonPathSegment[] = [];
  let rest = path.slice(1);
  while (rest !== '') {
    const at = path.length - rest.length;
    if (rest.startsWith('.')) {
      const name = NAME.exec(rest.slice(1));
      if (!name) return { ok: false, error: `JSON path ${JSON.stringify(path)}: a name must follow '.' at offset ${at}` };
      segments.push(name[0]);
      rest = rest.slice(1 + name[0].length);
      continue;
    }
    const index = INDEX.exec(rest);
    if (index) {
      segments.push(Number(index[1]));
      rest = rest.slice(index[0].length);
      continue;
    }
    if (rest.startsWith("['") || rest.startsWith('["')) {
      const quoted = quotedKey(rest.slice(1));
      if (!quoted || rest[1 + quoted.length] !== ']') return { ok: false, error: `JSON path ${JSON.stringify(path)}: unterminated quoted key at offset ${at}` };
      segments.push(quoted.key);
      rest = rest.slice(2 + quoted.length);
      continue;
    }
    return { ok: false, error: `JSON path ${JSON.stringify(path)}: unexpected ${JSON.stringify(rest[0])} at offset ${at} (supported: $.name, [index], ['key'])` };
  }
  return { ok: true, segments };
}

/** The value at `segments` in a parsed JSON document, if there is one. */
export function readJsonPath(document: unknown, segments: readonly JsonPathSegment[]): JsonPathResult {
  let current: unknown = document;
  for (const segment of segments) {
    if (typeof segment === 'number') {
      if (!Array.isArray(current) || segment >= current.length) return { found: false };
      current = (current as unknown[])[segment];
    } else {
      if (current === null || typeof current !== 'object' || Array.isArray(current) || !Object.hasOwn(current, segment)) return { found: false };
      current = (current as Record<string, unknown>)[segment];
    }
  }
  return { found: true, value: current };
}

/**
 * A scalar as the body criterion compares it: numbers, booleans and null as JSON prints them,
 * strings without their quotes. Objects and arrays are not scalars (undefined).
 */
export function scalarText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return JSON.stringify(value);
  return undefined;
}
