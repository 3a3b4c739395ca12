// SPDX-License-Identifier: Apache-2.0
// faultd install / uninstall with --no-systemctl into temporary directories: what is written,
// with which modes, idempotency, refusals that write nothing, and a clean uninstall.
// (With systemd for real: test/system.)
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import test, { type ExecutionContext } from 'ava';

import { loadConfig } from '../../../src/config/config.js';
import { runCli } from '../../helpers/cli.js';

const KEY = `fdk_${'k'.repeat(43)}`;

function dirs(t: ExecutionContext) {
  const root = mkdtempSync(path.join(tmpdir(), 'faultd-install-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const keyFile = path.join(root, 'key');
  writeFileSync(keyFile, `${KEY}\n`, { mode: 0o600 });
  const caFile = path.join(root, 'ca-src.pem');
  writeFileSync(caFile, '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
  const configDir = path.join(root, 'etc', 'faultd');
  const unitDir = path.join(root, 'units');
  const stateDir = path.join(root, 'state');
  const install = (...extra: string[]) =>
    runCli(['install', '--hub-url', 'https://hub.test:8443', '--infra-id', 'inf_abc', '--access-key-file', keyFile, '--ca-file', caFile, '--config-dir', configDir, '--unit-dir', unitDir, '--no-systemctl', ...extra], stateDir);
  const uninstall = () => runCli(['uninstall', '--config-dir', configDir, '--unit-dir', unitDir, '--no-systemctl'], stateDir);
  return { root, keyFile, configDir, unitDir, stateDir, install, uninstall };
}

test('install writes a valid config, the key 0600, the CA and a unit with this faultd; a second install changes nothing', async (t) => {
  const d = dirs(t);
  const first = await d.install();
  t.is(first.code, 0, first.stdout + first.stderr);
  t.regex(first.stdout, /created +.*access-key/);
  const config = loadConfig(path.join(d.configDir, 'config.yaml'), true);
  t.like(config.hub, { url: 'https://hub.test:8443', infraId: 'inf_abc', accessKeyFile: path.join(d.configDir, 'access-key'), caFile: path.join(d.configDir, 'ca.pem') });
  t.is(statSync(path.join(d.configDir, 'access-key')).mode & 0o777, 0o600);
  t.is(readFileSync(path.join(d.configDir, 'access-key'), 'utf8').trim(), KEY);
  t.is(statSync(d.configDir).mode & 0o777, 0o700);
  const unit = readFileSync(path.join(d.unitDir, 'faultd.service'), 'utf8');
  t.regex(unit, /^Type=notify$/m);
  t.true(unit.includes(`ExecStart=${process.execPath} ${path.resolve('bin/faultd.js')} --config ${d.configDir}/config.yaml agent`), unit);
  t.true(unit.includes(`ExecStartPre=-${process.execPath} ${path.resolve('bin/faultd.js')} revert --remnants`));
  t.false(unit.includes('/usr/local/bin/faultd'));
  // systemd's own checker accepts the unit as written (and rejects a broken one).
  const verify = spawnSync('systemd-analyze', ['verify', path.join(d.unitDir, 'faultd.service')], { encoding: 'utf8' });
  t.is(verify.status, 0, verify.stderr);
  t.is(verify.stderr.trim(), '', 'no warnings');
  writeFileSync(path.join(d.root, 'broken.service'), unit.replace('Type=notify', 'Type=notifyy'));
  t.regex(spawnSync('systemd-analyze', ['verify', path.join(d.root, 'broken.service')], { encoding: 'utf8' }).stderr, /Failed to parse service type/);
  const again = await d.install();
  t.is(again.code, 0);
  t.deepEqual(again.stdout.split('\n').filter((l) => /^(created|updated|unchanged)/.test(l)).map((l) => l.split(/ +/)[0]), ['unchanged', 'unchanged', 'unchanged', 'unchanged']);
  // The agent may have rotated its key since: a different key file does not replace it without --force.
  writeFileSync(d.keyFile, `fdk_${'r'.repeat(43)}\n`, { mode: 0o600 });
  const kept = await d.install();
  t.regex(kept.stdout, /kept +.*access-key \(it differs from --access-key-file: the agent may have rotated it; --force replaces it\)/);
  t.is(readFileSync(path.join(d.configDir, 'access-key'), 'utf8').trim(), KEY);
  t.regex((await d.install('--force')).stdout, /updated +.*access-key/);
  t.is(readFileSync(path.join(d.configDir, 'access-key'), 'utf8').trim(), `fdk_${'r'.repeat(43)}`);
});

test('bad input is refused before anything is written', async (t) => {
  const d = dirs(t);
  chmodSync(d.keyFile, 0o644);
  const unsafe = await d.install();
  t.not(unsafe.code, 0);
  t.regex(unsafe.stdout + unsafe.stderr, /mode 0644; it must be readable by its owner only: chmod 600/);
  chmodSync(d.keyFile, 0o600);
  const badUrl = await runCli(['install', '--hub-url', 'ftp://x', '--infra-id', 'inf_abc', '--access-key-file', d.keyFile, '--config-dir', d.configDir, '--unit-dir', d.unitDir, '--no-systemctl'], d.stateDir);
  t.not(badUrl.code, 0);
  t.regex(badUrl.stdout + badUrl.stderr, /hub\.url: must be an http\(s\) URL/);
  t.false(existsSync(d.configDir));
  t.false(existsSync(d.unitDir));
});

test('a config.yaml install did not write is kept unless --force; uninstall removes exactly what install wrote, twice safely', async (t) => {
  const d = dirs(t);
  mkdirSync(d.configDir, { recursive: true });
  writeFileSync(path.join(d.configDir, 'config.yaml'), 'safety:\n  sshPorts: [22]\n');
  writeFileSync(path.join(d.configDir, 'notes.txt'), 'mine');
  const refused = await d.install();
  t.not(refused.code, 0);
  t.regex(refused.stdout + refused.stderr, /config\.yaml exists with other contents and was not written by faultd install; move it away, or pass --force to replace it/);
  t.is((await d.install('--force')).code, 0);
  const removed = await d.uninstall();
  t.is(removed.code, 0, removed.stdout + removed.stderr);
  t.regex(removed.stdout, /no remnants to revert/);
  t.deepEqual(readdirSync(d.configDir), ['notes.txt'], 'only what install wrote is gone');
  t.false(existsSync(path.join(d.unitDir, 'faultd.service')));
  const again = await d.uninstall();
  t.is(again.code, 0);
  t.regex(again.stdout, /nothing installed by faultd install/);
  t.false(existsSync(d.stateDir), 'uninstall does not create a state dir to find no ledger in it');
});

test("files install finds in place are never its own: a foreign CA or unit is refused without --force, and identical ones are left by uninstall", async (t) => {
  const d = dirs(t);
  mkdirSync(d.configDir, { recursive: true });
  mkdirSync(d.unitDir, { recursive: true });
  const adminCa = '-----BEGIN CERTIFICATE-----\nADMIN\n-----END CERTIFICATE-----\n';
  writeFileSync(path.join(d.configDir, 'ca.pem'), adminCa);
  writeFileSync(path.join(d.unitDir, 'faultd.service'), '[Service]\nExecStart=/bin/true\n');
  const refused = await d.install();
  t.is(refused.code, 1);
  t.regex(refused.stderr, /ca\.pem, .*faultd\.service exist with other contents and were not written by faultd install; move them away, or pass --force to replace them/);
  t.is(readFileSync(path.join(d.configDir, 'ca.pem'), 'utf8'), adminCa, 'nothing was written');
  t.false(existsSync(path.join(d.configDir, 'config.yaml')));
  // The same CA and the key already in place (the operator put them there): used, not owned.
  rmSync(path.join(d.unitDir, 'faultd.service'));
  writeFileSync(path.join(d.configDir, 'ca.pem'), readFileSync(path.join(d.root, 'ca-src.pem')));
  writeFileSync(path.join(d.configDir, 'access-key'), `${KEY}\n`, { mode: 0o600 });
  const installed = await d.install();
  t.is(installed.code, 0, installed.stderr);
  t.regex(installed.stdout, /unchanged +.*ca\.pem \(already there; not faultd install's, so uninstall leaves it\)/);
  t.is((await d.uninstall()).code, 0);
  t.deepEqual(readdirSync(d.configDir).sort(), ['access-key', 'ca.pem'], "the operator's files stay");
  t.false(existsSync(path.join(d.unitDir, 'faultd.service')), 'the unit install wrote is gone');
});
