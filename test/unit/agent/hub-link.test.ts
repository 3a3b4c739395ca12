// SPDX-License-Identifier: Apache-2.0
import test from 'ava';

import { expectStatus, isContact, RefusedByHub, RunUnknownToHub } from '../../../src/agent/hub-link.js';
import { HubReplyError } from '../../../src/agent/hub-client.js';
import { HeartbeatResponse } from '../../../src/protocol/messages.js';
import { linkTo, startHub } from '../../helpers/hub.js';

test('every answer of the hub is contact, whatever its status; a hub that is gone is not', async (t) => {
  const hub = await startHub(t);
  const { link } = await linkTo(t, hub);
  const before = link.lastContactAt;
  await new Promise((resolve) => setTimeout(resolve, 20));
  const refused = await link.post('/v1/heartbeat', { bad: 'body' }, HeartbeatResponse);
  t.is(refused.status, 400);
  t.true(link.lastContactAt > before, 'a 400 is contact: the hub was there to answer');
  const after = link.lastContactAt;
  await hub.stop();
  await t.throwsAsync(link.post('/v1/heartbeat', {}, HeartbeatResponse));
  t.is(link.lastContactAt, after);
});

test('expectStatus: 404 is a forgotten run, 400/413 a refusal for good, anything else a retryable error', (t) => {
  t.notThrows(() => expectStatus({ status: 204 }, [204]));
  t.throws(() => expectStatus({ status: 404, error: 'NOT_FOUND: x' }, [204]), { instanceOf: RunUnknownToHub });
  t.throws(() => expectStatus({ status: 413, error: 'PAYLOAD_TOO_LARGE: x' }, [204]), { instanceOf: RefusedByHub });
  t.throws(() => expectStatus({ status: 400, error: 'BAD_REQUEST: x' }, [204]), { instanceOf: RefusedByHub });
  t.throws(() => expectStatus({ status: 503, error: 'busy', retryAfterMs: 5 }, [204]), { instanceOf: HubReplyError });
});

test('a proxy in front of a dead hub (5xx, 408, 429) is no contact; the hub\'s own answers are', (t) => {
  for (const status of [200, 204, 400, 401, 404, 409, 413]) t.true(isContact(status), String(status));
  for (const status of [408, 429, 500, 502, 503, 504]) t.false(isContact(status), String(status));
});
