// SPDX-License-Identifier: Apache-2.0
// The hub client's transport rules: plain http:// only when asked for (insecure), never with TLS
// settings, and an http:// URL at a TLS hub says so instead of "other side closed".
import test from 'ava';
import { z } from 'zod';

import { HubClient } from '../../../src/agent/hub-client.js';
import { startHub } from '../../helpers/hub.js';

test('an http:// URL is refused without insecure, and with TLS settings', (t) => {
  t.throws(() => new HubClient({ url: 'http://127.0.0.1:1' }), { code: 'FAULTD_ERR_AGENT_CONFIG', message: /hub\.url http:\/\/127\.0\.0\.1:1 is plain http:\/\/: the access key and tokens would cross the network unencrypted/ });
  t.throws(() => new HubClient({ url: 'http://127.0.0.1:1', insecure: true, pinSha256: 'AB' }), { code: 'FAULTD_ERR_AGENT_CONFIG', message: /so pinSha256 would be ignored/ });
  t.throws(() => new HubClient({ url: 'http://127.0.0.1:1', insecure: true, caPem: 'x', clientCert: { cert: 'c', key: 'k' } }), { message: /so caFile, clientCertFile would be ignored/ });
  t.notThrows(() => void new HubClient({ url: 'http://127.0.0.1:1', insecure: true }).close());
  t.notThrows(() => void new HubClient({ url: 'https://127.0.0.1:1', caPem: 'x' }).close());
});

test('an http:// URL pointed at a TLS hub says the hub speaks TLS', async (t) => {
  const hub = await startHub(t);
  const plainUrl = hub.url.replace(/^https:/, 'http:');
  const client = new HubClient({ url: plainUrl, insecure: true });
  t.teardown(() => client.close());
  const host = new URL(hub.url).host;
  const expected = { code: 'FAULTD_ERR_AGENT_UNREACHABLE', message: `/v1/token: the hub at ${host} speaks TLS, but hub.url says http://: use https://${host}` };
  await t.throwsAsync(client.post('/v1/token', {}, z.object({})), expected);
  await t.throwsAsync(client.get('/v1/tasks', z.object({}), 'token', 0), { ...expected, message: expected.message.replace('/v1/token', '/v1/tasks') });
});

test('an http:// URL at a port where nothing listens is plainly unreachable', async (t) => {
  const client = new HubClient({ url: 'http://127.0.0.1:1', insecure: true });
  t.teardown(() => client.close());
  await t.throwsAsync(client.post('/v1/token', {}, z.object({})), { code: 'FAULTD_ERR_AGENT_UNREACHABLE', message: /the hub is unreachable \(ECONNREFUSED/ });
});
