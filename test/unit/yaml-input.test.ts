// SPDX-License-Identifier: Apache-2.0
// Reading YAML input files: errors name the file and position and show the offending line.
import test from 'ava';

import { codeFrame, parseYamlInput } from '../../src/yaml-input.js';

test('the code frame shows the line before, the line and a caret under the column', (t) => {
  t.is(codeFrame('a: 1\nb: [\nc: 2\n', 3, 1), '  2 | b: [\n  3 | c: 2\n    | ^');
  t.is(codeFrame('key: "x', 1, 6), '  1 | key: "x\n    |      ^');
});

test('a long line is cut around the column, and control characters are not passed to the terminal', (t) => {
  const frame = codeFrame(`${'x'.repeat(500)}\u001b[31mY${'z'.repeat(500)}`, 1, 501);
  const [line = '', caret = ''] = frame.split('\n');
  t.true(line.length < 120, line);
  t.false(line.includes('\u001b'));
  t.true(line.includes('?[31mY'));
  t.is(line[caret.indexOf('^')], '?', 'the caret is under the offending character');
});

test('duplicate keys and syntax errors carry the code given, file, line and column', (t) => {
  const error = t.throws(() => parseYamlInput('a: 1\na: 2\n', 'f.yaml', 'FAULTD_ERR_CONFIG'));
  t.is((error as { code?: string }).code, 'FAULTD_ERR_CONFIG');
  t.is(error.message, 'f.yaml:2:1: Map keys must be unique\n  1 | a: 1\n  2 | a: 2\n    | ^');
});

test('non-finite numbers are kept as written; finite ones stay numbers', (t) => {
  t.deepEqual(parseYamlInput('a: .nan\nb: -.inf\nc: 1e400\nd: 1.5e3\ne: [1e999]\n', 'f.yaml', 'FAULTD_ERR_INPUT_SYNTAX'), { a: '.nan', b: '-.inf', c: '1e400', d: 1500, e: ['1e999'] });
});

test('a few aliases are fine; an alias bomb is refused by name', (t) => {
  t.deepEqual(parseYamlInput('a: &a [1, 2]\nb: *a\n', 'f.yaml', 'FAULTD_ERR_INPUT_SYNTAX'), { a: [1, 2], b: [1, 2] });
  const bomb = ['a: &a [x,x,x,x,x,x,x,x,x]', 'b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]', 'c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]', 'd: [*c,*c,*c,*c,*c,*c,*c,*c,*c]'].join('\n');
  t.throws(() => parseYamlInput(bomb, 'f.yaml', 'FAULTD_ERR_INPUT_SYNTAX'), { code: 'FAULTD_ERR_INPUT_SYNTAX', message: /^f\.yaml: its YAML aliases \(\*name\) expand into too many copies/ });
});
