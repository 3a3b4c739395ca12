// SPDX-License-Identifier: Apache-2.0
// hub.proxy and hub.requestTimeout in the configuration, `faultd install --http-proxy`, and the
// agent refusing an unusable HTTPS_PROXY: bad values exit 2 naming the field, write nothing,
// and never echo a password.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import test, { type ExecutionContext } from 'ava';

import { ConfigSchema, loadConfig } from '../../../src/config/config.js';
import { finish, runCli, startCli } from '../../helpers/cli.js';

const KEY = `fdk_${'k'.repeat(43)}`;

function scratch(t: ExecutionContext) {
  const root = mkdtempSync(path.join(tmpdir(), 'faultd-proxy-config-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const keyFile = path.join(root, 'key');
  writeFileSync(keyFile, `${KEY}\n`, { mode: 0o600 });
  return { root, keyFile, stateDir: path.join(root, 'state'), configDir: path.join(root, 'etc'), unitDir: path.join(root, 'units') };
}

/** The configuration's problems for a hub block with `extra`, or [] when it is valid. */
function hubProblems(extra: Record<string, unknown>): string[] {
  const result = ConfigSchema.safeParse({ hub: { url: 'https://hub.test:8443', ...extra } });
  return result.success ? [] : result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
}

test('hub.proxy takes http://host:port or none; https://, credentials, other schemes and paths are refused naming hub.proxy', (t) => {
  t.deepEqual(hubProblems({ proxy: 'http://proxy.example.com:3128' }), []);
  t.deepEqual(hubProblems({ proxy: 'none' }), []);
  t.deepEqual(hubProblems({ proxy: 'http://10.0.0.1:8080', insecure: true, url: 'http://hub.test:8080' }), [], 'an http:// hub (tests only) may use a proxy too');
  t.regex(hubProblems({ proxy: 'https://proxy:3128' }).join(), /^hub\.proxy: is https:\/\//);
  t.regex(hubProblems({ proxy: 'http://u:hunter2@proxy:3128' }).join(), /^hub\.proxy: carries credentials/);
  t.false(hubProblems({ proxy: 'http://u:hunter2@proxy:3128' }).join().includes('hunter2'));
  t.regex(hubProblems({ proxy: 'socks5h://proxy:1080' }).join(), /^hub\.proxy: must be an http:\/\/ URL/);
  t.regex(hubProblems({ proxy: 'http://proxy:3128/x' }).join(), /^hub\.proxy: must be http:\/\/host:port/);
  t.regex(hubProblems({ proxy: 3128 }).join(), /^hub\.proxy: must be an http:\/\/ URL .* or none/);
});

test('hub.requestTimeout is a duration in 1s–2m; unset means the built-in 10 s', (t) => {
  t.is(ConfigSchema.parse({ hub: { url: 'https://hub.test', requestTimeout: '30s' } }).hub?.requestTimeout, 30_000);
  t.is(ConfigSchema.parse({ hub: { url: 'https://hub.test', requestTimeout: 2 } }).hub?.requestTimeout, 2000);
  t.is(ConfigSchema.parse({ hub: { url: 'https://hub.test' } }).hub?.requestTimeout, undefined);
  for (const bad of ['500ms', '3m', 0, 'soon']) t.regex(hubProblems({ requestTimeout: bad }).join(), /^hub\.requestTimeout: must be a duration in 1s–2m/, String(bad));
});

test('a config file with a bad hub.proxy is refused naming the field, without the password', (t) => {
  const d = scratch(t);
  writeFileSync(path.join(d.root, 'config.yaml'), 'hub:\n  url: https://hub.test:8443\n  proxy: http://bob:pa55word@proxy:3128\n');
  const error = t.throws(() => loadConfig(path.join(d.root, 'config.yaml'), true));
  t.regex(error.message, /hub\.proxy: carries credentials/);
  t.false(error.message.includes('pa55word'));
});

test('faultd install --http-proxy writes hub.proxy; a bad one exits 2 naming hub.proxy and writes nothing', async (t) => {
  const d = scratch(t);
  const install = (proxy: string) => runCli(['install', '--hub-url', 'https://hub.test:8443', '--infra-id', 'inf_abc', '--access-key-file', d.keyFile, '--config-dir', d.configDir, '--unit-dir', d.unitDir, '--no-systemctl', '--http-proxy', proxy], d.stateDir);
  for (const bad of ['https://proxy:3128', 'http://carol:letmein@proxy:3128', 'proxy:3128']) {
    const refused = await install(bad);
    t.is(refused.code, 2, refused.stdout + refused.stderr);
    t.regex(refused.stderr, /hub\.proxy: /);
    t.false((refused.stdout + refused.stderr).includes('letmein'));
    t.false(existsSync(d.configDir), 'nothing written');
    t.false(existsSync(d.unitDir));
  }
  const ok = await install('http://proxy.example.com:3128');
  t.is(ok.code, 0, ok.stdout + ok.stderr);
  t.is(loadConfig(path.join(d.configDir, 'config.yaml'), true).hub?.proxy, 'http://proxy.example.com:3128');
  t.regex(readFileSync(path.join(d.configDir, 'config.yaml'), 'utf8'), /^ {2}proxy: http:\/\/proxy\.example\.com:3128$/m);
});

test('faultd agent refuses an unusable HTTPS_PROXY with exit 2 naming the variable, without its value, before contacting anything', async (t) => {
  const d = scratch(t);
  writeFileSync(path.join(d.root, 'config.yaml'), `hub:\n  url: https://hub.test:8443\n  infraId: inf_abc\n  accessKeyFile: ${d.keyFile}\n`);
  const agent = startCli(['agent'], d.stateDir, undefined, { HTTPS_PROXY: 'http://dave:opensesame@proxy:3128', https_proxy: '', NO_PROXY: '', no_proxy: '' });
  const result = await finish(agent);
  t.is(result.code, 2, result.stdout + result.stderr);
  t.regex(result.stderr, /the environment variable HTTPS_PROXY carries credentials: proxies that need authentication are not supported/);
  t.false((result.stdout + result.stderr).includes('opensesame'));
});
