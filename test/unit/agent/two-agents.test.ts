// SPDX-License-Identifier: Apache-2.0
/**
 * Two agents on one infrastructure, each with its own HubClient, TokenSource and Heartbeat and
 * its own agent id, against a real hub: the second is refused (409 naming both hosts, logged
 * once as an error) and gets no task while the first gets it; after `hub infra release` the
 * second takes over without a restart, and the first is refused in turn.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import test from 'ava';
import { pino } from 'pino';

import { Heartbeat } from '../../../src/agent/heartbeat.js';
import { HubClient } from '../../../src/agent/hub-client.js';
import { HubLink } from '../../../src/agent/hub-link.js';
import { TokenSource } from '../../../src/agent/token-source.js';
import { API_PREFIX, type AgentIdentity, HeartbeatResponse, TaskResponse, TokenResponse } from '../../../src/protocol/messages.js';
import { QUEUED_EXPERIMENT, startHub, type TestHub } from '../../helpers/hub.js';

interface LogLine {
  level: number;
  msg: string;
}

const WARN = 40;
const ERROR = 50;

/** One agent: its own key file (a copy of the same key), identity, client, tokens, heartbeat and log. */
function agentOn(t: { teardown(fn: () => void | Promise<void>): void }, hub: TestHub, infraId: string, accessKey: string, identity: AgentIdentity) {
  const dir = mkdtempSync(path.join(tmpdir(), 'faultd-agent-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const keyFile = path.join(dir, 'access-key');
  writeFileSync(keyFile, `${accessKey}\n`, { mode: 0o600 });
  const lines: LogLine[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line) as LogLine) });
  const client = new HubClient({ url: hub.url, caPem: hub.ca });
  t.teardown(() => client.close());
  const tokens = new TokenSource({ client, infraId, keyFile, logger, agent: identity });
  const link = new HubLink(client, tokens);
  const heartbeat = new Heartbeat({ link, logger, agentVersion: '9.9.9', capabilities: [], agent: identity, idleMs: 100, runningMs: 100, currentRunId: () => undefined, onAbortRequested: () => undefined });
  const poll = async (): Promise<string | undefined> => {
    const reply = await link.get(`${API_PREFIX}/tasks/next?waitSeconds=0`, TaskResponse, 1000);
    return reply.status === 200 && 'body' in reply ? reply.body.task.runId : undefined;
  };
  const errors = () => lines.filter((l) => l.level >= ERROR).map((l) => l.msg);
  return { client, tokens, link, heartbeat, poll, errors, lines };
}

const A: AgentIdentity = { id: 'a1b2c3d4e5f60718293a4b5c', machineId: 'machine-a', hostname: 'host-a' };
const B: AgentIdentity = { id: 'f9e8d7c6b5a40312', machineId: 'machine-b', hostname: 'host-b' };

test('two agents on one infrastructure: the second is refused and runs nothing; after release it takes over', async (t) => {
  const hub = await startHub(t);
  const { id: infraId, accessKey } = await hub.service.createInfra('edge-1');
  const first = agentOn(t, hub, infraId, accessKey, A);
  const second = agentOn(t, hub, infraId, accessKey, B);

  // The first binds the infrastructure with its first exchange; its heartbeats are recorded.
  await first.tokens.token();
  const stopFirst = new AbortController();
  t.teardown(() => stopFirst.abort());
  const firstBeats = first.heartbeat.run(stopFirst.signal);
  const infra = async () => (await hub.service.listInfras())[0];
  while (!(await infra())?.lastSeen) await new Promise((resolve) => setTimeout(resolve, 10));
  t.like((await infra())?.binding, { hostname: 'host-a', agentId: A.id });

  // The second, with the same key: 409 naming both hosts, logged once however often it retries.
  const raw = await second.client.post(`${API_PREFIX}/token`, { infraId, accessKey, agent: B }, TokenResponse);
  t.is(raw.status, 409);
  t.regex('error' in raw ? raw.error : '', /bound to the agent on host-a .*refused the agent on host-b .*faultd hub infra release edge-1/);
  await t.throwsAsync(second.tokens.token(), { message: /refused the token exchange of infrastructure .*bound to the agent on host-a.*refused the agent on host-b/ });
  await t.throwsAsync(second.tokens.token());
  t.true(second.tokens.refused);
  t.is(second.errors().length, 1, 'logged once per occurrence, not once per retry');
  t.regex(second.errors()[0] ?? '', /the hub refuses this agent: .*host-a.*host-b.*Nothing runs here until the hub accepts it/);
  // Its heartbeats are refused too, and not recorded.
  const stopSecond = new AbortController();
  t.teardown(() => stopSecond.abort());
  const secondBeats = second.heartbeat.run(stopSecond.signal);
  await new Promise((resolve) => setTimeout(resolve, 300));
  t.is((await infra())?.hostname, 'host-a');
  // A heartbeat naming the other instance, even with a valid token, is refused the same way.
  const beat = await first.link.post(`${API_PREFIX}/heartbeat`, { agentVersion: '9.9.9', hostname: 'host-b', capabilities: [], agent: B }, HeartbeatResponse);
  t.is(beat.status, 409);
  t.regex('error' in beat ? beat.error : '', /bound to the agent on host-a.*refused the agent on host-b/);
  t.deepEqual(second.lines.filter((l) => l.level >= WARN).map((l) => l.msg), second.errors(), 'its failing beats repeat nothing at warning level');

  // A queued run goes to the first; the second cannot even ask.
  const run = await hub.service.queueRun('edge-1', QUEUED_EXPERIMENT);
  await t.throwsAsync(second.poll(), { message: /host-a/ });
  t.is((await hub.service.run(run.id))?.state, 'queued', 'the refused agent got no task');
  t.is(await first.poll(), run.id);
  await hub.service.closeRun(run.id, 'test over');

  // The first host is re-installed (it stops); the operator releases the infrastructure.
  stopFirst.abort();
  await firstBeats;
  t.like(await hub.service.releaseAgent('edge-1'), { hostname: 'host-a' });
  // The second takes over on its next try, without a restart.
  await second.tokens.token();
  t.false(second.tokens.refused);
  t.true(second.lines.some((l) => /accepts this agent/.test(l.msg)));
  t.like((await infra())?.binding, { hostname: 'host-b', agentId: B.id });
  while ((await infra())?.hostname !== 'host-b') await new Promise((resolve) => setTimeout(resolve, 10));
  const next = await hub.service.queueRun('edge-1', QUEUED_EXPERIMENT);
  t.is(await second.poll(), next.id);

  // The first comes back with its old token: 401, a new exchange, and the refusal names both.
  await t.throwsAsync(first.poll(), { message: /bound to the agent on host-b.*refused the agent on host-a/ });
  t.is(first.errors().length, 1);
  stopSecond.abort();
  await secondBeats;
});
