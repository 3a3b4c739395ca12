// SPDX-License-Identifier: Apache-2.0
// Input errors through the CLI: each exits 2, names the file (and field) and says in plain words
// what is wrong: YAML syntax with the offending line, alias bombs, a disk fill of a directory that
// does not exist (validate and run --dry-run alike), and the agent's configuration.
import { chmodSync } from 'node:fs';

import test from 'ava';

import { finish, runCli, startCli, waitForLine, workspace, type Workspace } from '../../helpers/cli.js';

/** An alias bomb: each level refers 9 times to the one before (9^6 strings when expanded). */
const ALIAS_BOMB = [
  'a: &a ["x","x","x","x","x","x","x","x","x"]',
  'b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]',
  'c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]',
  'd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]',
  'e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]',
  'f: [*e,*e,*e,*e,*e,*e,*e,*e,*e]',
  '',
].join('\n');

function ws(t: { teardown(fn: () => void): void }): Workspace {
  const w = workspace();
  t.teardown(() => w.remove());
  return w;
}

const diskFill = (dir: string): string =>
  `apiVersion: faultd/v1\nkind: Experiment\nmetadata: { name: fill }\nspec:\n  steps:\n    - faults:\n        - kind: linux-disk-fill\n          params: { path: ${dir}, size: 1Mi }\n`;

test('an alias bomb in an experiment exits 2 naming the file and what is wrong', async (t) => {
  const w = ws(t);
  const file = w.file('bomb.yaml', ALIAS_BOMB);
  const result = await runCli(['validate', file], w.stateDir);
  t.is(result.code, 2, result.stderr);
  t.is(result.stderr, `faultd: ${file}: its YAML aliases (*name) expand into too many copies of their anchors (&name), more than faultd reads (as an "alias bomb" does). Write the values out, or use fewer aliases\n`);
});

test('an alias bomb in the configuration exits 2 naming the configuration file', async (t) => {
  const w = ws(t);
  const config = w.file('config.yaml', ALIAS_BOMB);
  const result = await runCli(['validate', w.file('x.yaml', '{}')], w.stateDir);
  t.is(result.code, 2, result.stderr);
  t.true(result.stderr.startsWith(`faultd: ${config}: its YAML aliases (*name) expand`), result.stderr);
});

test('a YAML syntax error shows file:line:column, the offending line and a caret', async (t) => {
  const w = ws(t);
  const file = w.file('bad.yaml', 'apiVersion: faultd/v1\nkind: Experiment\nspec:\n  steps: [\nmetadata: { name: x }\n');
  const result = await runCli(['validate', file], w.stateDir);
  t.is(result.code, 2, result.stderr);
  t.is(
    result.stderr,
    [
      `faultd: ${file}:5:1: Flow sequence in block collection must be sufficiently indented and end with a ]`,
      '  4 |   steps: [',
      '  5 | metadata: { name: x }',
      '    | ^',
      '',
    ].join('\n'),
  );
});

test('a syntax error in the configuration is shown the same way, exit 2', async (t) => {
  const w = ws(t);
  const config = w.file('config.yaml', 'safety:\n  excludeIPs: [10.0.0.1\n');
  const result = await runCli(['validate', w.file('x.yaml', '{}')], w.stateDir);
  t.is(result.code, 2, result.stderr);
  t.is(
    result.stderr,
    [`faultd: ${config}:3:1: Flow sequence in block collection must be sufficiently indented and end with a ]`, '  2 |   excludeIPs: [10.0.0.1', '  3 | ', '    | ^', ''].join('\n'),
  );
});

test('a disk fill of a directory that does not exist: validate and run --dry-run give the same answer, exit 2 naming the field', async (t) => {
  const w = ws(t);
  const file = w.file('fill.yaml', diskFill(`${w.dir}/no-such-dir`));
  const expected = `faultd: ${file} is not a valid experiment:\n  spec.steps[0].faults[0].params.path: must be an existing directory; it does not exist (got "${w.dir}/no-such-dir")\n`;
  const validate = await runCli(['validate', file], w.stateDir);
  t.is(validate.code, 2);
  t.is(validate.stderr, expected);
  const dryRun = await runCli(['run', '--dry-run', file], w.stateDir);
  t.is(dryRun.code, 2);
  t.is(dryRun.stderr, expected);
  const notADirectory = await runCli(['validate', w.file('fill2.yaml', diskFill(file))], w.stateDir);
  t.is(notADirectory.code, 2);
  t.regex(notADirectory.stderr, /params\.path: must be an existing directory; it is not a directory/);
  const existing = await runCli(['validate', w.file('fill3.yaml', diskFill(w.dir))], w.stateDir);
  t.is(existing.code, 0, existing.stderr);
});

function agentConfig(w: Workspace, hub: Record<string, string | boolean>): string {
  const key = w.file('access-key', `fdk_${'a'.repeat(43)}\n`);
  chmodSync(key, 0o600);
  const lines = Object.entries({ infraId: 'infra-1', accessKeyFile: key, ...hub }).map(([k, v]) => `  ${k}: ${typeof v === 'string' ? JSON.stringify(v) : String(v)}`);
  return w.file('config.yaml', `hub:\n${lines.join('\n')}\n`);
}

test('agent configuration errors exit 2, as docs/errors.md says', async (t) => {
  const w = ws(t);
  const config = w.file('config.yaml', 'hub:\n  url: https://127.0.0.1:1\n');
  const missing = await runCli(['agent'], w.stateDir);
  t.is(missing.code, 2, missing.stderr);
  t.is(missing.stderr, `faultd: ${config}: the agent needs hub.infraId, hub.accessKeyFile (see README, "The agent")\n`);
  const key = w.file('open-key', `fdk_${'a'.repeat(43)}\n`);
  chmodSync(key, 0o644);
  w.file('config.yaml', `hub:\n  url: https://127.0.0.1:1\n  infraId: infra-1\n  accessKeyFile: ${key}\n`);
  const unsafeKey = await runCli(['agent'], w.stateDir);
  t.is(unsafeKey.code, 2, unsafeKey.stderr);
  t.regex(unsafeKey.stderr, /has mode 0644; it must be readable by its owner only/);
});

test('an http:// hub is refused unless insecure: true, and never next to TLS settings', async (t) => {
  const w = ws(t);
  const config = agentConfig(w, { url: 'http://127.0.0.1:1' });
  const plain = await runCli(['agent'], w.stateDir);
  t.is(plain.code, 2, plain.stderr);
  t.is(plain.stderr, `faultd: ${config} is not a valid faultd configuration:\n  hub.url: is plain http://: the agent's access key and tokens would cross the network unencrypted. Use https://, or set hub.insecure: true (tests only)\n`);
  agentConfig(w, { url: 'http://127.0.0.1:1', insecure: true, caFile: `${w.dir}/ca.pem` });
  const withCa = await runCli(['agent'], w.stateDir);
  t.is(withCa.code, 2, withCa.stderr);
  t.regex(withCa.stderr, /hub\.caFile: caFile is a TLS setting, but hub\.url is plain http:\/\/ \(it would be ignored\): use https:\/\/, or drop them/);
});

test('an agent with insecure: true says so loudly when it starts', async (t) => {
  const w = ws(t);
  agentConfig(w, { url: 'http://127.0.0.1:1', insecure: true });
  const agent = startCli(['agent'], w.stateDir);
  const done = finish(agent);
  t.teardown(() => agent.kill('SIGKILL'));
  const line = await waitForLine(agent, /INSECURE/);
  t.regex(line, /WARN {2}INSECURE: hub\.insecure is set and hub\.url is http:\/\/, so the access key and tokens cross the network unencrypted/);
  agent.kill('SIGTERM');
  t.is((await done).code, 0);
});
