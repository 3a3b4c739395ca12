// SPDX-License-Identifier: Apache-2.0
// The argv reader of the idle agent's entry, which cannot use commander, agrees with main.ts.
import { spawnSync } from 'node:child_process';

import test from 'ava';

import { GLOBAL_OPTIONS_WITH_VALUE, isPlainAgentCommand, readInvocation } from '../../src/command-verb.js';
import { FAULTD_BIN } from '../helpers/cli.js';

test('the verb is the first word that is neither a global option nor its value', (t) => {
  t.is(readInvocation(['agent']).verb, 'agent');
  t.is(readInvocation(['--config', 'agent', 'run', 'x.yaml']).verb, 'run', 'a value that looks like a verb is a value');
  t.is(readInvocation(['--config=/etc/faultd/config.yaml', '--log-format', 'json', 'agent']).verb, 'agent');
  t.deepEqual(readInvocation(['--state-dir', '/s', 'run', 'x.yaml', '--dry-run']).rest, ['x.yaml', '--dry-run']);
  t.is(readInvocation(['--state-dir']).verb, undefined);
  t.is(readInvocation([]).verb, undefined);
});

test('global option values, the last one winning', (t) => {
  const invocation = readInvocation(['--log-format', 'text', '--log-format=json', '--config', 'a=b.yaml', 'agent']);
  t.is(invocation.option('--log-format'), 'json');
  t.is(invocation.option('--config'), 'a=b.yaml');
  t.is(invocation.option('--state-dir'), undefined);
});

test('only a plain `faultd [global options] agent` is run as the idle agent process', (t) => {
  t.true(isPlainAgentCommand(['agent']));
  t.true(isPlainAgentCommand(['--config', '/etc/faultd/config.yaml', '--log-format', 'json', 'agent']));
  t.true(isPlainAgentCommand(['--max-memory-fraction=0.5', 'agent']));
  t.false(isPlainAgentCommand(['agent', '--help']), 'help is the CLI\'s');
  t.false(isPlainAgentCommand(['--help', 'agent']));
  t.false(isPlainAgentCommand(['-V', 'agent']));
  t.false(isPlainAgentCommand(['agent', 'extra']), 'a bad argument gets the CLI\'s error');
  t.false(isPlainAgentCommand(['--unknown', 'agent']));
  t.false(isPlainAgentCommand(['run', 'agent']));
  t.false(isPlainAgentCommand(['hub', 'serve']));
});

test('the global options that take a value are main.ts\'s (from `faultd --help`)', (t) => {
  const help = spawnSync(process.execPath, [FAULTD_BIN, '--help'], { encoding: 'utf8' });
  t.is(help.status, 0, help.stderr);
  const withValue = [...help.stdout.matchAll(/^\s+(?:-\w, )?(--[\w-]+) <[^>]+>/gm)].map((m) => m[1]);
  t.deepEqual([...withValue].sort(), [...GLOBAL_OPTIONS_WITH_VALUE].sort());
});
