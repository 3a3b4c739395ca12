// SPDX-License-Identifier: Apache-2.0
import { createServer } from 'node:http';

import test from 'ava';
import { z } from 'zod';

import { retryDelayMs } from '../../../src/agent/backoff.js';
import { HubClient, HubReplyError, parseRetryAfter } from '../../../src/agent/hub-client.js';

test('Retry-After is read as seconds or as an HTTP date; anything else is ignored', (t) => {
  const now = Date.parse('2026-11-25T12:00:00Z');
  t.is(parseRetryAfter('7', now), 7000);
  t.is(parseRetryAfter('Wed, 25 Nov 2026 12:00:30 GMT', now), 30_000);
  t.is(parseRetryAfter('Wed, 25 Nov 2026 11:00:00 GMT', now), 0, 'a date in the past: at once');
  t.is(parseRetryAfter(undefined, now), undefined);
  t.is(parseRetryAfter('soon', now), undefined);
});

test('a retry waits at least what the hub asked, capped at 5 min; without it, the jittered backoff', (t) => {
  t.true(retryDelayMs(1, new HubReplyError(503, 'busy', 7000)) >= 7000);
  t.is(retryDelayMs(1, new HubReplyError(503, 'busy', 3_600_000)), 300_000);
  for (let i = 0; i < 50; i += 1) t.true(retryDelayMs(3, new Error('down')) <= 4000);
  t.true(retryDelayMs(1, Object.assign(new Error('token exchange refused'), { retryAfterMs: 2000 })) >= 2000, 'an error carrying retryAfterMs counts too');
});

test("the hub client hands on a 503's Retry-After", async (t) => {
  const server = createServer((_req, res) => {
    res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '12' });
    res.end(JSON.stringify({ error: { code: 'BUSY', message: 'try later' } }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => server.close());
  const { port } = server.address() as { port: number };
  const client = new HubClient({ url: `http://127.0.0.1:${port}`, insecure: true });
  t.teardown(() => client.close());
  const reply = await client.post('/v1/heartbeat', {}, z.object({}));
  t.like(reply, { status: 503, error: 'BUSY: try later', retryAfterMs: 12_000 });
  t.is(HubReplyError.of(reply).retryAfterMs, 12_000);
});
