// SPDX-License-Identifier: Apache-2.0
import test from 'ava';

import { compare, describeComparison } from '../../../src/probes/compare.js';
import type { Comparator, Comparison, ValueType } from '../../../src/probes/types.js';

const c = (type: ValueType, criteria: Comparator, value: Comparison['value']): Comparison => ({ type, criteria, value });
const passes = (observed: string | number, comparison: Comparison): boolean => {
  const result = compare(observed, comparison);
  if (result.error !== undefined) throw new Error(`unexpected error: ${result.error}`);
  return result.passed;
};

test('int: every ordering comparator, numerically (not as text)', (t) => {
  t.true(passes('10', c('int', '>', 9)));
  t.false(passes('10', c('int', '<', 9)), '"10" < "9" as text, not as numbers');
  t.true(passes('3', c('int', '>=', 3)));
  t.false(passes('2', c('int', '>=', 3)));
  t.true(passes('3', c('int', '<=', 3)));
  t.false(passes('4', c('int', '<=', 3)));
  t.true(passes('-7', c('int', '<', 0)));
  t.true(passes('+3', c('int', '==', 3)));
  t.true(passes(' 42\n', c('int', '==', 42)), 'white space around is ignored');
  t.false(passes('42', c('int', '==', 43)));
  t.true(passes('42', c('int', '!=', 43)));
  t.false(passes('42', c('int', '!=', 42)));
  t.true(passes(0, c('int', '==', 0)), 'a number observed is taken as it is');
  t.true(passes('007', c('int', '==', 7)), 'base 10, leading zeros are not octal');
});

test('int: a non-integer is an error that shows what was seen', (t) => {
  for (const bad of ['3.5', 'abc', '', '0x10', '1e3', '12abc']) {
    const result = compare(bad, c('int', '==', 3));
    t.false(result.passed, bad);
    t.is(result.error, `expected an integer, saw ${JSON.stringify(bad)}`, bad);
  }
  t.regex(compare(2.5, c('int', '==', 2)).error ?? '', /expected an integer, saw 2\.5/);
  t.regex(compare('99999999999999999999', c('int', '>', 1)).error ?? '', /out of range/);
});

test('float: decimal numbers, compared numerically', (t) => {
  t.true(passes('0.5', c('float', '<', 0.75)));
  t.false(passes('0.9', c('float', '<', 0.75)));
  t.true(passes('-1e3', c('float', '==', -1000)));
  t.true(passes('.5', c('float', '==', 0.5)));
  t.true(passes('2.50', c('float', '>=', 2.5)));
  t.false(passes('2.49', c('float', '>=', 2.5)));
  t.true(passes('10', c('float', '>', 9.5)));
  t.true(passes('1.5', c('float', '!=', 1.25)));
  t.true(passes(Number.POSITIVE_INFINITY, c('float', '>', 1e300)), 'a +Inf sample compares as infinity');
  t.false(passes(Number.NEGATIVE_INFINITY, c('float', '>', -1e300)));
});

test('float: text that is not a finite decimal number is an error; NaN fails every comparison', (t) => {
  for (const bad of ['', 'abc', 'Infinity', 'NaN', '0x1f', '1,5']) {
    const result = compare(bad, c('float', '<', 1));
    t.false(result.passed, bad);
    t.is(result.error, `expected a number, saw ${JSON.stringify(bad)}`, bad);
  }
  for (const criteria of ['==', '!=', '<', '<=', '>', '>=', 'oneOf', 'contains'] as const) {
    const result = compare(Number.NaN, c('float', criteria, criteria === 'oneOf' ? [1] : 1));
    t.false(result.passed, criteria);
    t.regex(result.error ?? '', /NaN.*fails every numeric comparison/, criteria);
  }
});

test('string: equality, lexicographic order, contains, matches', (t) => {
  t.true(passes('ok', c('string', '==', 'ok')));
  t.false(passes('ok ', c('string', '==', 'ok')), 'strings are compared as they are');
  t.true(passes('ok', c('string', '!=', 'OK')));
  t.true(passes('apple', c('string', '<', 'banana')));
  t.true(passes('10', c('string', '<', '9')), 'lexicographic, not numeric');
  t.true(passes('b', c('string', '<=', 'b')));
  t.true(passes('b', c('string', '>', 'a')));
  t.false(passes('a', c('string', '>=', 'b')));
  t.true(passes('status: healthy', c('string', 'contains', 'healthy')));
  t.false(passes('status: unhealthy', c('string', 'contains', 'Healthy')));
  t.true(passes('version 1.2.3', c('string', 'matches', '^version \\d+\\.\\d+')));
  t.false(passes('v1.2.3', c('string', 'matches', '^version')));
  t.true(passes(200, c('string', '==', '200')), 'a number observed as a string');
});

test('contains and matches look at the text whatever the type', (t) => {
  t.true(passes('123', c('int', 'contains', '2')));
  t.true(passes('0.25', c('float', 'matches', '^0\\.2')));
  t.false(compare('x', c('string', 'contains', ['a'])).passed);
  t.regex(compare('x', c('string', 'contains', ['a'])).error ?? '', /needs one value/);
});

test('matches: the expression is compiled once per criterion; a bad one is an error', (t) => {
  const criterion = c('string', 'matches', 'a+');
  t.true(passes('caab', criterion));
  t.false(passes('cb', criterion));
  t.true(passes('a', criterion), 'no lastIndex state carried between calls');
  const bad = c('string', 'matches', '(unclosed');
  const result = compare('x', bad);
  t.false(result.passed);
  t.regex(result.error ?? '', /^invalid regular expression: /);
  t.deepEqual(compare('y', bad), result);
});

test('oneOf: equal to any element, numerically for int and float', (t) => {
  t.true(passes('204', c('int', 'oneOf', [200, 204])));
  t.false(passes('500', c('int', 'oneOf', [200, 204])));
  t.true(passes('200', c('int', 'oneOf', ['200', 201])), 'elements given as text are read as numbers');
  t.true(passes('1.50', c('float', 'oneOf', [1.5, 2.5])));
  t.true(passes('up', c('string', 'oneOf', ['up', 'ok'])));
  t.false(passes('Up', c('string', 'oneOf', ['up', 'ok'])));
  t.false(passes('1.0', c('string', 'oneOf', ['1'])), 'strings equal as text only');
  t.regex(compare('1', c('int', 'oneOf', 1)).error ?? '', /oneOf needs a list/);
  t.regex(compare('1', c('int', 'oneOf', ['x'])).error ?? '', /not a number/);
  t.regex(compare('1', c('int', '==', [1])).error ?? '', /== needs one value, not a list/);
  t.regex(compare('1', c('int', '==', 'x')).error ?? '', /criterion value is not a number: "x"/);
});

test('describeComparison says the subject, type, comparator and value', (t) => {
  t.is(describeComparison('stdout', c('int', '>=', 3)), 'stdout (int) >= 3');
  t.is(describeComparison('responseCode', c('int', 'oneOf', [200, 204])), 'responseCode (int) oneOf [200, 204]');
  t.is(describeComparison('body', c('string', 'contains', 'ok')), 'body (string) contains "ok"');
  t.is(describeComparison('body', c('string', 'matches', 'up|ok')), 'body (string) matches /up|ok/');
  t.is(describeComparison('$.status', c('string', '==', 'green')), '$.status (string) == "green"');
  t.is(describeComparison('value', c('float', '<', 0.5)), 'value (float) < 0.5');
  t.is(describeComparison('state', c('string', 'oneOf', ['a', 'b'])), 'state (string) oneOf ["a", "b"]');
});
