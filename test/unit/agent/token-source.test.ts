// SPDX-License-Identifier: Apache-2.0
// The agent's credentials against a real hub over TLS on 127.0.0.1: token refresh at 2/3 of its
// lifetime, one retry after a 401, key rotation stored atomically and confirmed, a crash between
// storing and confirming, an unsafe key file, the CA and the certificate pin, and no secret in
// the logs.
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { X509Certificate } from 'node:crypto';

import test from 'ava';
import type { pino } from 'pino';

import { HubClient } from '../../../src/agent/hub-client.js';
import { writeAccessKey } from '../../../src/agent/key-file.js';
import { TokenSource } from '../../../src/agent/token-source.js';
import { createLogger } from '../../../src/log.js';
import { HeartbeatResponse } from '../../../src/protocol/messages.js';
import { SILENT, startHub, type TestHub } from '../../helpers/hub.js';

function keyFile(t: { teardown(fn: () => void): void }, key: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'faultd-agent-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'access-key');
  writeFileSync(file, `${key}\n`, { mode: 0o600 });
  return file;
}

function agentFor(t: { teardown(fn: () => void | Promise<void>): void }, hub: TestHub, file: string, infraId: string, extra: { now?: () => number; logger?: pino.Logger; pin?: string } = {}) {
  const client = new HubClient({ url: hub.url, caPem: hub.ca, ...(extra.pin ? { pinSha256: extra.pin } : {}) });
  t.teardown(() => client.close());
  return { client, tokens: new TokenSource({ client, infraId, keyFile: file, logger: extra.logger ?? SILENT, ...(extra.now ? { now: extra.now } : {}) }) };
}

const beat = { agentVersion: '0.1.0', hostname: 'test', capabilities: [] };

test('a token is reused, then refreshed once 2/3 of its TTL have passed; concurrent callers share one exchange', async (t) => {
  const hub = await startHub(t, { hub: { tokenTtlSeconds: 3 } });
  const { id, accessKey } = await hub.service.createInfra('edge-1');
  const clock = { now: 0 };
  const { tokens } = agentFor(t, hub, keyFile(t, accessKey), id, { now: () => clock.now });
  const [a, b] = await Promise.all([tokens.token(), tokens.token()]);
  t.is(a, b);
  t.is(tokens.exchanges, 1, 'single-flight');
  clock.now = 1900;
  t.is(await tokens.token(), a, 'still fresh before 2 s');
  clock.now = 2100;
  const refreshed = await tokens.token();
  t.not(refreshed, a, 'refreshed after 2/3 of 3 s');
  t.is(tokens.exchanges, 2);
});

test('a 401 (token expired at the hub) leads to one new exchange and a retry', async (t) => {
  const hub = await startHub(t, { hub: { tokenTtlSeconds: 3 } });
  const { id, accessKey } = await hub.service.createInfra('edge-1');
  const clock = { now: 0 };
  const { client, tokens } = agentFor(t, hub, keyFile(t, accessKey), id, { now: () => clock.now });
  await tokens.token();
  // The agent's clock says the token is fresh, but the hub has expired it (real 3 s pass).
  await new Promise((resolve) => setTimeout(resolve, 3100));
  const reply = await tokens.withToken((token) => client.post('/v1/heartbeat', beat, HeartbeatResponse, token));
  t.is(reply.status, 200);
  t.is(tokens.exchanges, 2);
});

test('key rotation: the new key is stored atomically (0600), confirmed, and the old key stops working', async (t) => {
  const hub = await startHub(t);
  const { id, accessKey } = await hub.service.createInfra('edge-1');
  const file = keyFile(t, accessKey);
  const lines: string[] = [];
  const logger = createLogger('text', (line) => lines.push(line));
  const { tokens } = agentFor(t, hub, file, id, { logger });
  await hub.service.rotateKey('edge-1');
  await tokens.token();
  const stored = readFileSync(file, 'utf8').trim();
  t.not(stored, accessKey);
  t.is(statSync(file).mode & 0o777, 0o600);
  t.is((await hub.service.listInfras())[0]?.keyRotation, 'none', 'confirmed');
  t.is(await hub.service.exchangeToken({ infraId: id, accessKey }), undefined, 'the old key no longer works');
  t.truthy(await hub.service.exchangeToken({ infraId: id, accessKey: stored }));
  const log = lines.join('');
  t.regex(log, /access key rotated and confirmed/);
  t.false(log.includes(stored.slice(4)) || log.includes(accessKey.slice(4)) || log.includes('fdt_'), 'no key or token in the log');
});

test('a crash between storing and confirming a rotated key does not lock the agent out', async (t) => {
  const hub = await startHub(t);
  const { id, accessKey } = await hub.service.createInfra('edge-1');
  const file = keyFile(t, accessKey);
  await hub.service.rotateKey('edge-1');
  // What the agent did before it crashed: got the rotation, stored the key, never confirmed.
  const response = await hub.service.exchangeToken({ infraId: id, accessKey });
  writeAccessKey(file, response?.rotation?.newAccessKey ?? '');
  t.is((await hub.service.listInfras())[0]?.keyRotation, 'awaiting confirmation');
  // The restarted agent starts from the file.
  const { tokens } = agentFor(t, hub, file, id);
  t.regex(await tokens.token(), /^fdt_/);
  t.is((await hub.service.listInfras())[0]?.keyRotation, 'none', 'rotation finished on restart');
  t.truthy(await hub.service.exchangeToken({ infraId: id, accessKey: readFileSync(file, 'utf8').trim() }));
});

test('an unsafe or wrong key file, a revoked key, a wrong pin: clear errors', async (t) => {
  const hub = await startHub(t);
  const { id, accessKey } = await hub.service.createInfra('edge-1');
  const loose = keyFile(t, accessKey);
  chmodSync(loose, 0o644);
  await t.throwsAsync(agentFor(t, hub, loose, id).tokens.token(), { message: /has mode 0644; it must be readable by its owner only: chmod 600/ });
  await t.throwsAsync(agentFor(t, hub, keyFile(t, 'not-a-key'), id).tokens.token(), { message: /does not hold a faultd access key/ });
  const revoked = keyFile(t, `fdk_${'x'.repeat(43)}`);
  await t.throwsAsync(agentFor(t, hub, revoked, id).tokens.token(), { message: /the hub refused the token exchange of infrastructure .*UNAUTHORIZED: unknown infrastructure or wrong access key/ });
  const goodFile = keyFile(t, accessKey);
  const pin = new X509Certificate(readFileSync(path.join(hub.dir, 'server.pem'))).fingerprint256;
  t.regex(await agentFor(t, hub, goodFile, id, { pin }).tokens.token(), /^fdt_/, 'the right pin passes');
  const wrongPin = pin.replace(/^[0-9A-F]{2}/, (b) => (b === '00' ? '01' : '00'));
  await t.throwsAsync(agentFor(t, hub, goodFile, id, { pin: wrongPin }).tokens.token(), { message: /TLS identity did not verify/ });
});

test('the logger redacts keys, tokens and authorization headers wherever they appear', (t) => {
  const lines: string[] = [];
  const logger = createLogger('text', (line) => lines.push(line));
  const secret = `fdk_${'s'.repeat(43)}`;
  logger.info({ accessKey: secret, rotation: { newAccessKey: secret }, request: { headers: { authorization: 'Bearer fdt_abc' } }, accessToken: 'fdt_abc' }, 'sending');
  const log = lines.join('\n');
  t.false(log.includes('sss') || log.includes('fdt_abc'), log);
  t.regex(log, /\[redacted\]/);
});
