// SPDX-License-Identifier: Apache-2.0
// createCheck makes the check each type names; each one observed something real here (a server
// on 127.0.0.1, a refused port, a command run as this test's own user).
import { createServer } from 'node:net';

import test from 'ava';

import { createCheck } from '../../../src/probes/checks/index.js';
import type { CheckEnvironment } from '../../../src/probes/types.js';
import { probeTarget } from '../../helpers/http-servers.js';

const NEVER = new AbortController().signal;
const SELF: CheckEnvironment = { cmdUser: { name: 'self', uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 } };

async function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

test('http', async (t) => {
  const target = await probeTarget(t);
  const check = createCheck({ type: 'http', url: target.origin, method: 'GET', headers: {}, insecureSkipVerify: false, criteria: { responseCode: { type: 'int', criteria: '==', value: 200 } } }, SELF);
  t.teardown(() => check.close());
  t.like(await check.attempt(2000, NEVER), { passed: true, observed: '200' });
  t.is(target.requests().length, 1);
});

test('cmd', async (t) => {
  const check = createCheck({ type: 'cmd', command: ['sh', '-c', 'echo 7; exit 0'], shell: false, env: {}, criteria: { exitCode: { type: 'int', criteria: '==', value: 0 }, stdout: { type: 'int', criteria: '==', value: 7 } } }, SELF);
  t.teardown(() => check.close());
  t.like(await check.attempt(5000, NEVER), { passed: true, observed: 'exit 0, stdout "7"', criterion: 'exitCode (int) == 0, stdout (int) == 7' });
});

test('prometheus', async (t) => {
  const port = await closedPort();
  const check = createCheck({ type: 'prometheus', endpoint: `http://127.0.0.1:${port}`, query: 'up', criteria: { value: { type: 'int', criteria: '==', value: 1 } } }, SELF);
  t.teardown(() => check.close());
  const outcome = await check.attempt(2000, NEVER);
  t.like(outcome, { passed: false, criterion: 'value (int) == 1' });
  t.regex(outcome.error ?? '', /ECONNREFUSED/);
});
