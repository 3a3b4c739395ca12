// SPDX-License-Identifier: Apache-2.0
import test from 'ava';

import { parseJsonPath, readJsonPath, scalarText, type JsonPathSegment } from '../../../src/probes/json-path.js';

function segments(path: string): readonly JsonPathSegment[] {
  const parsed = parseJsonPath(path);
  if (!parsed.ok) throw new Error(parsed.error);
  return parsed.segments;
}

const document: unknown = {
  status: 'up',
  checks: [{ name: 'db', ok: true, latency: 1.5 }, { name: 'cache', ok: false, latency: null }],
  'key with space': { 'it\'s': 7 },
  nested: { a: { b: 0 } },
};

test('paths parse into names and indexes', (t) => {
  t.deepEqual(segments('$'), []);
  t.deepEqual(segments('$.a.b'), ['a', 'b']);
  t.deepEqual(segments('$.a[0].b'), ['a', 0, 'b']);
  t.deepEqual(segments("$['key with space']"), ['key with space']);
  t.deepEqual(segments('$["x"][12]'), ['x', 12]);
  t.deepEqual(segments("$['it\\'s']"), ["it's"]);
  t.deepEqual(segments('$.with-dash.under_score'), ['with-dash', 'under_score']);
});

test('malformed paths and unsupported syntax are errors', (t) => {
  for (const bad of ['', 'a.b', '$.', '$..a', '$.a[*]', '$[?(@.x)]', "$['open", '$[-1]', '$.a[0', '$ .a', '$[1:2]']) {
    const parsed = parseJsonPath(bad);
    t.false(parsed.ok, bad);
  }
  const parsed = parseJsonPath('$.a[*]');
  t.false(parsed.ok);
  if (!parsed.ok) t.regex(parsed.error, /unexpected "\[" at offset 3/);
});

test('values are found by name, index and quoted key', (t) => {
  t.deepEqual(readJsonPath(document, segments('$.status')), { found: true, value: 'up' });
  t.deepEqual(readJsonPath(document, segments('$.checks[1].name')), { found: true, value: 'cache' });
  t.deepEqual(readJsonPath(document, segments('$.checks[0].latency')), { found: true, value: 1.5 });
  t.deepEqual(readJsonPath(document, segments("$['key with space']['it\\'s']")), { found: true, value: 7 });
  t.deepEqual(readJsonPath(document, segments('$.nested.a.b')), { found: true, value: 0 });
  t.deepEqual(readJsonPath(document, segments('$.checks[1].latency')), { found: true, value: null }, 'null is a value');
  t.deepEqual(readJsonPath(document, segments('$')), { found: true, value: document });
});

test('absent paths are not found (and never read inherited properties)', (t) => {
  for (const path of ['$.missing', '$.checks[2]', '$.checks.name', '$.status.length', '$.status[0]', '$.nested.toString', '$.checks[0].name.x']) {
    t.deepEqual(readJsonPath(document, segments(path)), { found: false }, path);
  }
});

test('scalars print as JSON would, strings without quotes; objects and arrays are not scalars', (t) => {
  t.is(scalarText('up'), 'up');
  t.is(scalarText(3), '3');
  t.is(scalarText(1.5), '1.5');
  t.is(scalarText(true), 'true');
  t.is(scalarText(null), 'null');
  t.is(scalarText({ a: 1 }), undefined);
  t.is(scalarText([1]), undefined);
});
