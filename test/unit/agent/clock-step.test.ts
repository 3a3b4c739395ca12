// SPDX-License-Identifier: Apache-2.0
// faultd's own waits under a stepped system clock, without root: Date.now is moved ±24 h in
// this test process (as linux-time-chaos moves CLOCK_REALTIME) and the disconnect watchdog,
// the agent's token and the hub's token check must not notice. They run on CLOCK_MONOTONIC
// (src/monotonic.ts) and the hub's steady clock.
import test, { type ExecutionContext } from 'ava';

import { watchForDisconnect } from '../../../src/agent/disconnect-watchdog.js';
import { monotonicMs, steadyWallClock } from '../../../src/monotonic.js';
import { HubService } from '../../../src/hub/service.js';
import { SqliteHubStore } from '../../../src/hub/sqlite-store.js';
import { HeartbeatResponse } from '../../../src/protocol/messages.js';
import { linkTo, startHub } from '../../helpers/hub.js';

const beat = { agentVersion: '0.1.0', hostname: 'test', capabilities: [] };

const DAY_MS = 24 * 3_600_000;

/** Moves Date.now by `offsetMs` until the test ends. */
function skewDateNow(t: ExecutionContext, offsetMs: number): void {
  const real = Date.now.bind(Date);
  Date.now = () => real() + offsetMs;
  t.teardown(() => {
    Date.now = real;
  });
}

for (const offset of [DAY_MS, -DAY_MS]) {
  const label = offset > 0 ? '+24h' : '-24h';

  test.serial(`${label}: the disconnect watchdog does not take a clock step for silence`, async (t) => {
    const contact = monotonicMs();
    const lost: number[] = [];
    const stop = watchForDisconnect({ lastContactAt: () => contact, timeoutMs: 2_000, onLost: (ms) => lost.push(ms) });
    t.teardown(stop);
    skewDateNow(t, offset);
    await new Promise((resolve) => setTimeout(resolve, 700));
    t.deepEqual(lost, []);
  });

  test.serial(`${label}: the agent's token stays in use across the step, the hub still accepts it, and contact stays recent`, async (t) => {
    const hub = await startHub(t);
    const { link, tokens } = await linkTo(t, hub);
    t.is((await link.post('/v1/heartbeat', beat, HeartbeatResponse)).status, 200);
    const contactBefore = link.lastContactAt;
    skewDateNow(t, offset);
    t.is(link.lastContactAt, contactBefore, 'contact time is monotonic: the step does not age it');
    t.is((await link.post('/v1/heartbeat', beat, HeartbeatResponse)).status, 200, 'the hub accepts the token issued before the step');
    t.is(tokens.exchanges, 1, 'no new exchange: the refresh is counted from the TTL on CLOCK_MONOTONIC');
  });
}

test.serial('the hub: a token issued before a ±24 h step is still valid, and expires after its TTL of monotonic time', async (t) => {
  const store = new SqliteHubStore(':memory:');
  t.teardown(() => store.close());
  const service = new HubService(store, { tokenTtlSeconds: 1 });
  const { id, accessKey } = await service.createInfra('edge-1');
  const token = (await service.exchangeToken({ infraId: id, accessKey }))?.accessToken ?? '';
  skewDateNow(t, DAY_MS);
  t.is(await service.authenticate(token), id, '+24 h: not expired');
  skewDateNow(t, -DAY_MS);
  t.is(await service.authenticate(token), id, '-24 h: still valid');
  await new Promise((resolve) => setTimeout(resolve, 1100));
  t.is(await service.authenticate(token), undefined, 'expired after 1 s of monotonic time');
});

test.serial('steadyWallClock follows the system clock it started with, not a later step', (t) => {
  const clock = steadyWallClock();
  const before = clock();
  skewDateNow(t, -DAY_MS);
  const after = clock();
  t.true(after - before >= 0 && after - before < 1000, `moved ${after - before} ms`);
});
