// SPDX-License-Identifier: Apache-2.0
// The hub's HTTP API over real TLS on 127.0.0.1, with a CA the test generates; each test on
// SQLite and on a real PostgreSQL (skipped, saying why, where it is not installed).
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { connect as connectTcp } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

import test from 'ava';
import { Agent, request } from 'undici';

import { HubClient } from '../../../src/agent/hub-client.js';
import { startHubServer } from '../../../src/hub/server.js';
import { HubService } from '../../../src/hub/service.js';
import { SqliteHubStore } from '../../../src/hub/sqlite-store.js';
import { issueCertificate, newKeyPair } from '../../../src/hub/certificates.js';
import { initHubTls, issueClientCertificate } from '../../../src/hub/tls.js';
import { TokenResponse } from '../../../src/protocol/messages.js';
import { SILENT, startHub, type TestHub as Hub } from '../../helpers/hub.js';
import { stopTestPostgres, testOnStores } from '../../helpers/hub-stores.js';

test.after.always(stopTestPostgres);

async function call(hub: Hub, method: 'GET' | 'POST', route: string, body?: unknown, token?: string) {
  const response = await request(`${hub.url}${route}`, {
    method,
    dispatcher: hub.agent,
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.body.text();
  return { status: response.statusCode, json: text ? (JSON.parse(text) as Record<string, unknown>) : undefined };
}

testOnStores(test, 'token exchange and heartbeat over TLS; unknown fields are ignored', async (t, backend) => {
  const hub = await startHub(t, { backend });
  const { id, accessKey } = await hub.service.createInfra('edge-1');
  const token = await call(hub, 'POST', '/v1/token', { infraId: id, accessKey, someFutureField: 1 });
  t.is(token.status, 200);
  const accessToken = String(token.json?.['accessToken']);
  t.regex(accessToken, /^fdt_/);
  const beat = await call(hub, 'POST', '/v1/heartbeat', { agentVersion: '0.1.0', hostname: 'h', capabilities: ['linux-cpu-stress'] }, accessToken);
  t.is(beat.status, 200);
  t.deepEqual(beat.json?.['abort'], []);
  t.is((await hub.service.listInfras())[0]?.state, 'CONNECTED');
});

testOnStores(test, 'bad requests are refused with a clear status and message', async (t, backend) => {
  const hub = await startHub(t, { backend });
  const { id, accessKey } = await hub.service.createInfra('edge-1');
  const missing = await call(hub, 'POST', '/v1/token', { infraId: id });
  t.is(missing.status, 400);
  t.regex(JSON.stringify(missing.json), /accessKey/);
  const wrong = await call(hub, 'POST', '/v1/token', { infraId: id, accessKey: `${accessKey.slice(0, -3)}abc` });
  t.is(wrong.status, 401);
  t.like(wrong.json, { error: { code: 'UNAUTHORIZED' } });
  const noToken = await call(hub, 'POST', '/v1/heartbeat', { agentVersion: '1', hostname: 'h', capabilities: [] });
  t.is(noToken.status, 401);
  t.regex(JSON.stringify(noToken.json), /an access token is required/);
  const unknownToken = await call(hub, 'POST', '/v1/heartbeat', { agentVersion: '1', hostname: 'h', capabilities: [] }, 'fdt_0123456789abcdef0123');
  t.is(unknownToken.status, 401);
  t.is((await call(hub, 'GET', '/v1/nothing')).status, 404);
  const token = String((await call(hub, 'POST', '/v1/token', { infraId: id, accessKey })).json?.['accessToken']);
  const stale = await call(hub, 'POST', '/v1/key/confirm', { rotationId: 'rot_nope' }, token);
  t.is(stale.status, 409);
});

testOnStores(test, 'a client with another CA, or a server with an expired certificate, fails the TLS handshake', async (t, backend) => {
  const hub = await startHub(t, { backend });
  const otherCaKeys = await newKeyPair();
  const otherCa = await issueCertificate(otherCaKeys, { commonName: 'other CA', validDays: 1, isCa: true });
  const stranger = new Agent({ connect: { ca: otherCa } });
  t.teardown(() => stranger.close());
  const error = await t.throwsAsync(request(`${hub.url}/v1/token`, { method: 'POST', dispatcher: stranger, body: '{}' }));
  t.regex((error as { code?: string }).code ?? error?.message ?? '', /UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED|unable to verify/i);
  // A server certificate that expired yesterday, from the right CA.
  const caKey = readFileSync(path.join(hub.dir, 'ca.key'), 'utf8');
  const keys = await newKeyPair();
  const expired = await issueCertificate(keys, {
    commonName: 'expired', validDays: 1, isCa: false, subjectAltNames: ['127.0.0.1'], issuer: { certPem: hub.ca, keyPem: caKey }, notBefore: new Date(Date.now() - 3 * 86_400_000),
  });
  const service = new HubService(new SqliteHubStore(':memory:'));
  const old = await startHubServer({ service, logger: SILENT, host: '127.0.0.1', port: 0, tls: { key: keys.privatePem, cert: expired } });
  t.teardown(() => old.close());
  const expiredError = await t.throwsAsync(request(`${old.url}/v1/token`, { method: 'POST', dispatcher: hub.agent, body: '{}' }));
  t.regex((expiredError as { code?: string }).code ?? expiredError?.message ?? '', /CERT_HAS_EXPIRED/);
});

testOnStores(test, 'the hub keeps infrastructures and keys across a restart', async (t, backend) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'faultd-hub-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const first = await startHub(t, { dir, backend });
  const { id, accessKey } = await first.service.createInfra('edge-1');
  await first.stop();
  const second = await startHub(t, { dir, database: first.database });
  t.is((await call(second, 'POST', '/v1/token', { infraId: id, accessKey })).status, 200);
  t.is((await initHubTls(dir, [])).created, false, 'hub init leaves existing certificates alone');
});

testOnStores(test, 'close() ends connections still in their TLS handshake: none is served after the hub has stopped', async (t, backend) => {
  const hub = await startHub(t, { backend });
  const port = Number(new URL(hub.url).port);
  // A client that connected but has not finished its handshake (as an agent's new connection
  // can be at the moment the hub stops): not yet an HTTP connection, so closeAllConnections()
  // does not see it, and server.close() would wait for it and then serve it.
  const pending = connectTcp(port, '127.0.0.1');
  const socketClosed = new Promise<void>((resolve) => pending.once('close', () => resolve()));
  pending.on('error', () => undefined);
  await new Promise<void>((resolve) => pending.once('connect', () => resolve()));
  await new Promise((resolve) => setTimeout(resolve, 100));
  const stopped = await Promise.race([hub.stop().then(() => true), new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 3000))]);
  t.true(stopped, 'close() returned within 3 s');
  const ended = await Promise.race([socketClosed.then(() => true), new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 1000))]);
  t.true(ended, 'the half-open connection was ended by the hub');
  pending.destroy();
});

testOnStores(test, 'mutual TLS: with --require-client-cert only agents holding a certificate from the hub CA get through', async (t, backend) => {
  const hub = await startHub(t, { backend, requireClientCert: true });
  const { id, accessKey } = await hub.service.createInfra('edge-1');
  const connect = (clientCert?: { cert: string; key: string }) => {
    const client = new HubClient({ url: hub.url, caPem: hub.ca, ...(clientCert ? { clientCert } : {}) });
    t.teardown(() => client.close());
    return client.post('/v1/token', { infraId: id, accessKey }, TokenResponse);
  };
  const without = await connect();
  t.is(without.status, 401);
  t.regex('error' in without ? without.error : '', /UNAUTHORIZED: a client certificate signed by the hub CA is required/);

  const issued = await issueClientCertificate(hub.dir, 'edge-1.example');
  t.is(statSync(issued.key).mode & 0o777, 0o600);
  const good = await connect({ cert: readFileSync(issued.cert, 'utf8'), key: readFileSync(issued.key, 'utf8') });
  t.is(good.status, 200);
  await t.throwsAsync(issueClientCertificate(hub.dir, 'edge-1.example'), { message: /exists already/ }, 'never overwritten');
  await t.throwsAsync(issueClientCertificate(hub.dir, '../evil'), { message: /client name/ });

  // A certificate from another CA is refused too.
  const otherKeys = await newKeyPair();
  const otherCa = await issueCertificate(otherKeys, { commonName: 'other CA', validDays: 1, isCa: true });
  const keys = await newKeyPair();
  const foreign = await issueCertificate(keys, { commonName: 'intruder', validDays: 1, isCa: false, client: true, issuer: { certPem: otherCa, keyPem: otherKeys.privatePem } });
  const refused = await connect({ cert: foreign, key: keys.privatePem });
  t.is(refused.status, 401);
  t.regex('error' in refused ? refused.error : '', /client certificate .* required \(UNABLE_TO_VERIFY_LEAF_SIGNATURE\)/);
});

testOnStores(test, 'infrastructures created at once under one name (by two operators): one is created, the others are told it exists', async (t, backend) => {
  const hub = await startHub(t, { backend });
  for (let round = 0; round < 5; round += 1) {
    const name = `edge-${round}`;
    const outcomes = await Promise.allSettled([1, 2, 3, 4].map(() => hub.service.createInfra(name)));
    t.is(outcomes.filter((o) => o.status === 'fulfilled').length, 1, name);
    for (const refused of outcomes.filter((o) => o.status === 'rejected')) t.like(refused.reason, { code: 'FAULTD_ERR_HUB_INPUT', message: `infrastructure "${name}" already exists` }, name);
  }
  t.is((await hub.service.listInfras()).length, 5);
});
