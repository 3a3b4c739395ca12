// SPDX-License-Identifier: Apache-2.0
/** The command line as main.ts composes it from the `*-commands.ts` modules. */
import test from 'ava';

import { runCli, workspace } from '../../helpers/cli.js';

const COMMANDS = ['run', 'validate', 'faults', 'revert', 'status', 'doctor', 'agent', 'install', 'uninstall', 'hub'];

test('every command is registered and explains itself in --help', async (t) => {
  const ws = workspace();
  t.teardown(() => ws.remove());
  const top = await runCli(['--help'], ws.stateDir);
  t.is(top.code, 0);
  for (const name of COMMANDS) t.regex(top.stdout, new RegExp(`^  ${name} `, 'm'), `${name} is listed`);
  for (const args of [['run', '--help'], ['hub', 'serve', '--help'], ['hub', 'infra', 'list', '--help'], ['install', '--help']]) {
    const help = await runCli(args, ws.stateDir);
    t.is(help.code, 0, args.join(' '));
    t.regex(help.stdout, /^Usage: faultd /m, args.join(' '));
  }
});

test('a bad option or an unknown subcommand exits 2 with the reason, at every depth', async (t) => {
  const ws = workspace();
  t.teardown(() => ws.remove());
  const badOption = await runCli(['run', '--progress-interval', '1ms', 'x.yaml'], ws.stateDir);
  t.is(badOption.code, 2);
  t.regex(badOption.stderr, /--progress-interval.*must be a duration in 100ms–1h/);
  const badTtl = await runCli(['hub', 'serve', '--token-ttl', '1s'], ws.stateDir);
  t.is(badTtl.code, 2);
  t.regex(badTtl.stderr, /must be a duration in 10s–24h/);
  const unknown = await runCli(['hub', 'infra', 'bogus'], ws.stateDir);
  t.is(unknown.code, 2);
  t.regex(unknown.stderr, /unknown command 'bogus'/);
  const missing = await runCli(['install', '--hub-url', 'https://h:1'], ws.stateDir);
  t.is(missing.code, 2);
  t.regex(missing.stderr, /required option '--infra-id <id>' not specified/);
});
