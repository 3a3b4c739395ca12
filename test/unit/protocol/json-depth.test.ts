// SPDX-License-Identifier: Apache-2.0
import test from 'ava';

import { jsonNestingDepth, MAX_JSON_DEPTH } from '../../../src/protocol/json-depth.js';

test('counts arrays and objects, not scalars', (t) => {
  t.is(jsonNestingDepth('42'), 0);
  t.is(jsonNestingDepth('"x"'), 0);
  t.is(jsonNestingDepth('{}'), 1);
  t.is(jsonNestingDepth('{"a":[1,{"b":[]}],"c":{}}'), 4);
  t.is(jsonNestingDepth('[[],[[]],[]]'), 3, 'the deepest branch, not the number of brackets');
});

test('brackets inside strings do not count, escaped quotes and backslashes included', (t) => {
  t.is(jsonNestingDepth('{"a":"[[[{{{"}'), 1);
  t.is(jsonNestingDepth('["\\"[[[", "\\\\", ["x"]]'), 2, 'an escaped quote does not end the string; an escaped backslash does not escape the quote after it');
  t.is(jsonNestingDepth('["\\u005b["]'), 1);
});

test('stops past the limit: a 100 000-level body is judged without scanning it all', (t) => {
  const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
  t.is(jsonNestingDepth(deep), MAX_JSON_DEPTH + 1);
  t.is(jsonNestingDepth(deep, 5), 6);
  t.is(jsonNestingDepth(`${'['.repeat(MAX_JSON_DEPTH)}${']'.repeat(MAX_JSON_DEPTH)}`), MAX_JSON_DEPTH, 'exactly the limit is within it');
});
