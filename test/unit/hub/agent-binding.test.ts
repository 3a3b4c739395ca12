// SPDX-License-Identifier: Apache-2.0
// One machine per infrastructure: the hub binds an infrastructure to the first agent identity it
// sees, refuses others (409) until `hub infra release` or a completed key rotation, accepts
// agents that send no identity, and migration 3 brings the binding to a schema-2 hub.db. Each
// test on SQLite and on a real PostgreSQL (skipped, saying why, where it is not installed), but
// migration 3's: no PostgreSQL database was ever at schema 2 (PostgreSQL came with schema 5).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import test from 'ava';
import Database from 'better-sqlite3';

import { escapeTerminalText } from '../../../src/cli/terminal-text.js';
import { AgentBindingConflict } from '../../../src/hub/agent-binding.js';
import { hashKey } from '../../../src/hub/credentials.js';
import { HUB_MIGRATIONS, migrate } from '../../../src/hub/migrations.js';
import { HubService } from '../../../src/hub/service.js';
import { SqliteHubStore } from '../../../src/hub/sqlite-store.js';
import type { AgentIdentity } from '../../../src/protocol/messages.js';
import { runCli } from '../../helpers/cli.js';
import { stopTestPostgres, testOnStores, type StoreBackend } from '../../helpers/hub-stores.js';

test.after.always(stopTestPostgres);

const HOST_A: AgentIdentity = { id: 'aaaaaaaa1111111111111111', machineId: 'm1', hostname: 'host-a' };
const HOST_B: AgentIdentity = { id: 'bbbbbbbb2222222222222222', machineId: 'm2', hostname: 'host-b' };
const HEARTBEAT = { agentVersion: '0.2.0', capabilities: [] };

async function hub(t: { teardown(fn: () => void | Promise<void>): void }, backend: StoreBackend) {
  const clock = { now: 1_000_000 };
  const store = await (await backend.database(t)).connect();
  const service = new HubService(store, { tokenTtlSeconds: 600, now: () => clock.now });
  const { id, accessKey } = await service.createInfra('edge-1');
  return { service, store, clock, id, accessKey };
}

testOnStores(test, 'the first identity binds the infrastructure; it keeps working, another instance is refused with both hosts named', async (t, backend) => {
  const { service, id, accessKey } = await hub(t, backend);
  const first = await service.exchangeToken({ infraId: id, accessKey, agent: HOST_A });
  t.truthy(first);
  t.like((await service.listInfras())[0]?.binding, { hostname: 'host-a', agentId: HOST_A.id, agentIdPrefix: 'aaaaaaaa', machineId: 'm1', since: new Date(1_000_000).toISOString() });
  t.truthy(await service.exchangeToken({ infraId: id, accessKey, agent: HOST_A }), 'the bound instance exchanges again');
  await t.notThrowsAsync(() => service.heartbeat(id, { ...HEARTBEAT, hostname: 'host-a', agent: HOST_A }));
  const refusal = await t.throwsAsync(service.exchangeToken({ infraId: id, accessKey, agent: HOST_B }), { instanceOf: AgentBindingConflict });
  t.regex(refusal?.message ?? '', /infrastructure "edge-1" is bound to the agent on host-a \(agent aaaaaaaa, since 1970-01-01T00:16:40\.000Z\); refused the agent on host-b \(agent bbbbbbbb\)/);
  t.regex(refusal?.message ?? '', /faultd hub infra release edge-1/);
  await t.throwsAsync(() => service.heartbeat(id, { ...HEARTBEAT, hostname: 'host-b', agent: HOST_B }), { instanceOf: AgentBindingConflict, message: /bound to the agent on host-a.*refused the agent on host-b/ });
  t.is((await service.listInfras())[0]?.hostname, 'host-a', 'a refused heartbeat is not recorded');
  t.is(await service.authenticate(first?.accessToken ?? ''), id, "the bound agent's token stays valid");
});

testOnStores(test, 'the same agent id on another machine (a copied state directory) is another instance', async (t, backend) => {
  const { service, id, accessKey } = await hub(t, backend);
  await service.exchangeToken({ infraId: id, accessKey, agent: HOST_A });
  await t.throwsAsync(service.exchangeToken({ infraId: id, accessKey, agent: { ...HOST_A, machineId: 'm9', hostname: 'clone' } }), { instanceOf: AgentBindingConflict, message: /refused the agent on clone/ });
  t.truthy(await service.exchangeToken({ infraId: id, accessKey, agent: { id: HOST_A.id, hostname: 'host-a' } }), 'the same agent that could not read /etc/machine-id this time is still itself');
});

testOnStores(test, 'a wrong key is refused as before, without saying whom the infrastructure is bound to', async (t, backend) => {
  const { service, id, accessKey } = await hub(t, backend);
  await service.exchangeToken({ infraId: id, accessKey, agent: HOST_A });
  t.is(await service.exchangeToken({ infraId: id, accessKey: `${accessKey.slice(0, -2)}xx`, agent: HOST_B }), undefined);
});

testOnStores(test, 'an agent that sends no identity (faultd before the binding) is accepted while unbound and binds nothing; once bound it is refused, its token too', async (t, backend) => {
  const { service, id, accessKey } = await hub(t, backend);
  const old = await service.exchangeToken({ infraId: id, accessKey });
  t.truthy(old);
  await service.heartbeat(id, { ...HEARTBEAT, hostname: 'old-host' });
  t.is((await service.listInfras())[0]?.binding, undefined);
  t.is(await service.authenticate(old?.accessToken ?? ''), id);
  await service.exchangeToken({ infraId: id, accessKey, agent: HOST_A });
  await t.throwsAsync(service.exchangeToken({ infraId: id, accessKey }), { instanceOf: AgentBindingConflict, message: /bound to the agent on host-a.*sends no identity.*faultd hub infra release edge-1/ });
  t.is(await service.authenticate(old?.accessToken ?? ''), undefined, 'its token from before the binding stops working');
  await t.throwsAsync(() => service.heartbeat(id, { ...HEARTBEAT, hostname: 'old-host' }), { instanceOf: AgentBindingConflict });
});

testOnStores(test, 'an agent without identity cannot complete a rotation meant for the bound agent', async (t, backend) => {
  const { service, id, accessKey } = await hub(t, backend);
  await service.exchangeToken({ infraId: id, accessKey, agent: HOST_A });
  await service.rotateKey('edge-1');
  const rotated = await service.exchangeToken({ infraId: id, accessKey, agent: HOST_A });
  const newKey = rotated?.rotation?.newAccessKey ?? '';
  t.truthy(newKey);
  await t.throwsAsync(service.exchangeToken({ infraId: id, accessKey: newKey }), { instanceOf: AgentBindingConflict });
  t.like((await service.listInfras())[0], { keyRotation: 'awaiting confirmation' });
  t.truthy(await service.exchangeToken({ infraId: id, accessKey: newKey, agent: HOST_A }), 'the bound agent still completes it');
});

testOnStores(test, 'release: the next identity binds; tokens of the released instance stop working (401), so it learns it is refused', async (t, backend) => {
  const { service, id, accessKey, clock } = await hub(t, backend);
  const a = await service.exchangeToken({ infraId: id, accessKey, agent: HOST_A });
  clock.now += 5000;
  t.like(await service.releaseAgent('edge-1'), { hostname: 'host-a', agentIdPrefix: 'aaaaaaaa' });
  t.is((await service.listInfras())[0]?.binding, undefined);
  t.is(await service.releaseAgent('edge-1'), undefined, 'nothing to release twice');
  t.is(await service.authenticate(a?.accessToken ?? ''), undefined, "the released instance's token no longer authenticates");
  const b = await service.exchangeToken({ infraId: id, accessKey, agent: HOST_B });
  t.is(await service.authenticate(b?.accessToken ?? ''), id);
  t.like((await service.listInfras())[0]?.binding, { hostname: 'host-b', since: new Date(1_005_000).toISOString() });
  await t.throwsAsync(service.exchangeToken({ infraId: id, accessKey, agent: HOST_A }), { instanceOf: AgentBindingConflict, message: /bound to the agent on host-b.*refused the agent on host-a/ });
  await t.throwsAsync(() => service.releaseAgent('nope'), { message: /no infrastructure named "nope"/ });
});

testOnStores(test, 'a completed key rotation clears the binding, confirmed by call or by exchanging the new key', async (t, backend) => {
  const { service, id, accessKey } = await hub(t, backend);
  const first = await service.exchangeToken({ infraId: id, accessKey, agent: HOST_A });
  await service.rotateKey('edge-1');
  const rotating = await service.exchangeToken({ infraId: id, accessKey, agent: HOST_A });
  t.truthy(rotating?.rotation);
  t.truthy((await service.listInfras())[0]?.binding, 'still bound while the rotation is open');
  t.true(await service.confirmKey(id, rotating?.rotation?.rotationId ?? ''));
  t.is((await service.listInfras())[0]?.binding, undefined, 'cleared by the confirmation');
  t.is(await service.authenticate(first?.accessToken ?? ''), undefined);
  const newKey = rotating?.rotation?.newAccessKey ?? '';
  t.truthy(await service.exchangeToken({ infraId: id, accessKey: newKey, agent: HOST_B }), 'the next identity to use the new key binds');
  t.is((await service.listInfras())[0]?.binding?.hostname, 'host-b');

  await service.rotateKey('edge-1');
  const again = await service.exchangeToken({ infraId: id, accessKey: newKey, agent: HOST_B });
  // Confirmed by exchanging the pending key (the confirmation answer was lost): cleared, then bound to the presenter.
  t.truthy(await service.exchangeToken({ infraId: id, accessKey: again?.rotation?.newAccessKey ?? '', agent: HOST_A }));
  t.is((await service.listInfras())[0]?.binding?.hostname, 'host-a');
});

testOnStores(test, 'the store binds only an unbound infrastructure: of two agents binding at once, the first wins', async (t, backend) => {
  const { store, id } = await hub(t, backend);
  t.true(await store.bindAgent(id, { agentId: HOST_A.id, hostname: 'host-a', since: 1 }));
  t.false(await store.bindAgent(id, { agentId: HOST_B.id, hostname: 'host-b', since: 2 }));
  t.deepEqual((await store.infraById(id))?.binding, { agentId: HOST_A.id, hostname: 'host-a', since: 1 });
  t.true(await store.releaseAgent(id));
  t.false(await store.releaseAgent(id));
});

test('migration 3: a hub.db at schema version 2 gets the binding columns, keeps its rows, and binds', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'faultd-hubdb-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'hub.db');
  const accessKey = `fdk_${'k'.repeat(43)}`;
  const old = new Database(file);
  migrate(old, file, HUB_MIGRATIONS.slice(0, 2));
  t.is(Number(old.pragma('user_version', { simple: true })), 2);
  const key = hashKey(accessKey);
  old.prepare("INSERT INTO infras (id, name, created_at, key_salt, key_hash, hostname) VALUES ('inf_a', 'edge-1', 1000, ?, ?, 'edge-1.example')").run(key.salt, key.hash);
  old.prepare("INSERT INTO tokens (hash, infra_id, expires_at) VALUES ('tokhash', 'inf_a', 99999999999999)").run();
  old.close();

  const store = new SqliteHubStore(file);
  t.teardown(() => store.close());
  const db = new Database(file, { readonly: true });
  t.teardown(() => db.close());
  t.true(Number(db.pragma('user_version', { simple: true })) >= 3);
  const infraColumns = db.prepare("SELECT name FROM pragma_table_info('infras')").pluck().all() as string[];
  t.true(['bound_agent_id', 'bound_machine_id', 'bound_hostname', 'bound_since'].every((c) => infraColumns.includes(c)), infraColumns.join(','));
  t.true((db.prepare("SELECT name FROM pragma_table_info('tokens')").pluck().all() as string[]).includes('agent_id'));
  t.like(await store.infraById('inf_a'), { name: 'edge-1', hostname: 'edge-1.example', binding: undefined });
  t.deepEqual(await store.token('tokhash'), { infraId: 'inf_a', expiresAt: 99999999999999 }, 'a token from before the binding has no agent');
  const service = new HubService(store);
  t.truthy(await service.exchangeToken({ infraId: 'inf_a', accessKey, agent: HOST_A }));
  t.is((await store.infraById('inf_a'))?.binding?.hostname, 'host-a');
});

testOnStores(test, 'hub infra list shows the binding (text and --json, escaped); hub infra release clears it', async (t, backend) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'faultd-hubcli-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const db = await backend.database(t);
  const cli = (...args: string[]) => runCli(['hub', '--hub-dir', dir, '--database', db.url, ...args], path.join(dir, 'state'));
  const store = await db.connect();
  const service = new HubService(store);
  const { id, accessKey } = await service.createInfra('edge-1');
  const evilHost = 'host-\u001b[31ma\u202E';
  await service.exchangeToken({ infraId: id, accessKey, agent: { ...HOST_A, hostname: evilHost } });
  const list = await cli('infra', 'list');
  t.is(list.code, 0, list.stderr);
  t.true(list.stdout.includes(`bound to ${escapeTerminalText(evilHost)} (agent aaaaaaaa, since `), list.stdout);
  t.false(list.stdout.includes('\u001b'));
  const json = JSON.parse((await cli('infra', 'list', '--json')).stdout) as { binding?: { hostname: string; agentId: string; since: string } }[];
  t.like(json[0]?.binding, { hostname: evilHost, agentId: HOST_A.id });
  const released = await cli('infra', 'release', 'edge-1');
  t.is(released.code, 0, released.stderr);
  t.regex(released.stdout, /"edge-1" released from the agent on .*\(agent aaaaaaaa, bound since .*\): the next agent to use its key binds it/);
  t.regex((await cli('infra', 'list')).stdout, /edge-1\s+\S+\s+inf_\S+\s+.*; not bound;/);
  t.regex((await cli('infra', 'release', 'edge-1')).stdout, /was not bound to an agent; nothing changed/);
  const unknown = await cli('infra', 'release', 'nope');
  t.is(unknown.code, 2);
  t.regex(unknown.stderr, /no infrastructure named "nope"/);
});
