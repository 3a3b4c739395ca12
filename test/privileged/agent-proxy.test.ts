// SPDX-License-Identifier: Apache-2.0
// The agent reaching its hub through a real HTTP forward proxy (Debian's tinyproxy on 127.0.0.1):
// hub.proxy and HTTPS_PROXY/NO_PROXY end to end (the proxy's own log says whether a tunnel was
// opened), TLS verification and the pin still checked against the hub's certificate through the
// tunnel, and the proxy going away mid-run (the disconnect rollback reverts within
// disconnectTimeout + 1 s; the result arrives once the proxy is back).
import { readFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { createServer, type Socket } from 'node:net';
import path from 'node:path';

import type { ExecutionContext } from 'ava';

import { HubClient } from '../../src/agent/hub-client.js';
import { API_PREFIX } from '../../src/protocol/constants.js';
import { TokenReply } from '../../src/protocol/agent-replies.js';
import { issueClientCertificate, readHubTls } from '../../src/hub/tls.js';
import { finish, workspace, type CliChild, type Workspace } from '../helpers/cli.js';
import { startHub, type TestHub } from '../helpers/hub.js';
import { configureAgent, cpuAndMemoryExperiment, launchAgent, launchAgentWith, waitForState, type AgentSettings } from '../helpers/agent-process.js';
import { privilegedTest as test } from '../helpers/privileged.js';
import { stressorsMatching, waitUntil } from '../helpers/processes.js';
import { startTinyproxy } from '../helpers/tinyproxy.js';

const experiment = (seconds: number) => cpuAndMemoryExperiment(seconds, 'agent-proxy');

const hubPort = (hub: TestHub): number => Number(new URL(hub.url).port);

/** The SHA-256 fingerprint of the hub's certificate, as hub.pinSha256 takes it. */
const hubPin = (hub: TestHub): string => new X509Certificate(readHubTls(hub.dir, false).cert).fingerprint256;

/** Writes the agent's config (test/helpers/agent-process.ts) with extra `hub:` lines. */
async function configureWith(hub: TestHub, ws: Workspace, hubLines: readonly string[], settings: AgentSettings = {}): Promise<string> {
  const id = await configureAgent(hub, ws, settings);
  const file = path.join(ws.dir, 'config.yaml');
  ws.file('config.yaml', readFileSync(file, 'utf8').replace(/^hub:\n/, `hub:\n${hubLines.map((l) => `  ${l}\n`).join('')}`));
  return id;
}

/** Collects the agent's stdout and stderr (for failure messages and log checks). */
function output(agent: CliChild): () => string {
  let out = '';
  agent.stdout.on('data', (c: Buffer) => (out += c.toString()));
  agent.stderr.on('data', (c: Buffer) => (out += c.toString()));
  return () => out;
}

async function runToCompletion(t: ExecutionContext, hub: TestHub, out: () => string): Promise<void> {
  const run = await hub.service.queueRun('edge-1', experiment(2));
  t.true(await waitUntil(() => stressorsMatching(run.id).length === 2, 15_000), `both stressors run\n${out()}`);
  t.true(await waitForState(hub, run.id, ['finished'], 20_000), `the result arrived\n${out()}`);
  t.is((await hub.service.run(run.id))?.result?.verdict, 'completed');
  t.deepEqual(stressorsMatching(run.id), [], 'no stressor left');
}

test('hub.proxy: an experiment runs through the proxy (its log shows the CONNECT to the hub), with the CA and the pin checked end to end', async (t) => {
  const hub = await startHub(t);
  const proxy = await startTinyproxy(t, [hubPort(hub)]);
  const ws = workspace();
  t.teardown(() => ws.remove());
  await configureWith(hub, ws, [`proxy: ${proxy.url}`, `pinSha256: "${hubPin(hub)}"`, 'requestTimeout: 5s']);
  const agent = launchAgent(t, ws);
  const out = output(agent);
  await runToCompletion(t, hub, out);
  t.true(proxy.connects().includes(`127.0.0.1:${hubPort(hub)}`), proxy.log());
  t.regex(out(), /"proxy":"http:\/\/127\.0\.0\.1:\d+","from":"hub\.proxy".*forward proxy/);
  agent.kill('SIGTERM');
  t.is((await finish(agent)).code, 0);
});

test('through the proxy, a wrong pin still fails (checked against the hub\'s certificate), a right one passes, and a refused CONNECT says so', async (t) => {
  const hub = await startHub(t);
  const other = await startHub(t);
  // CONNECT is allowed to the hub only: the second hub's port is refused by the proxy.
  const proxy = await startTinyproxy(t, [hubPort(hub)]);
  const { id, accessKey } = await hub.service.createInfra('edge-1');
  const token = (client: HubClient) => client.post(`${API_PREFIX}/token`, { infraId: id, accessKey }, TokenReply);
  const proxied = { proxy: { url: proxy.url, source: 'hub.proxy' } };

  const right = new HubClient({ url: hub.url, caPem: hub.ca, pinSha256: hubPin(hub), ...proxied });
  t.teardown(() => right.close());
  t.is((await token(right)).status, 200);
  t.is(proxy.connects().length, 1, proxy.log());

  // A pin of another certificate: the CA verifies the hub, the pin does not match.
  const wrong = new HubClient({ url: hub.url, caPem: hub.ca, pinSha256: hubPin(other), ...proxied });
  t.teardown(() => wrong.close());
  const refused = await t.throwsAsync(token(wrong));
  t.is((refused as { code?: string }).code, 'FAULTD_ERR_AGENT_AUTH');
  t.regex(refused?.message ?? '', /fingerprint .* does not match the configured pinSha256/);
  t.is(proxy.connects().length, 2, 'the handshake went through the tunnel');

  const notAllowed = new HubClient({ url: other.url, caPem: other.ca, ...proxied });
  t.teardown(() => notAllowed.close());
  const denied = await t.throwsAsync(token(notAllowed));
  t.is((denied as { code?: string }).code, 'FAULTD_ERR_AGENT_UNREACHABLE');
  t.regex(denied?.message ?? '', /the proxy 127\.0\.0\.1:\d+ answered 403 .*to CONNECT 127\.0\.0\.1:\d+/);
});

test('through the proxy, mutual TLS still holds: the hub sees the agent\'s client certificate (and its absence)', async (t) => {
  const hub = await startHub(t, { requireClientCert: true });
  const proxy = await startTinyproxy(t, [hubPort(hub)]);
  const { id, accessKey } = await hub.service.createInfra('edge-1');
  const issued = await issueClientCertificate(hub.dir, 'edge-1.example');
  const clientCert = { cert: readFileSync(issued.cert, 'utf8'), key: readFileSync(issued.key, 'utf8') };
  const connect = (withCert: boolean) => {
    const client = new HubClient({ url: hub.url, caPem: hub.ca, proxy: { url: proxy.url, source: 'hub.proxy' }, ...(withCert ? { clientCert } : {}) });
    t.teardown(() => client.close());
    return client.post(`${API_PREFIX}/token`, { infraId: id, accessKey }, TokenReply);
  };
  const without = await connect(false);
  t.is(without.status, 401);
  t.regex('error' in without ? without.error : '', /a client certificate signed by the hub CA is required/);
  t.is((await connect(true)).status, 200);
  t.is(proxy.connects().length, 2, proxy.log());
});

test('hub.requestTimeout reaches the agent: a proxy that never answers CONNECT fails each call after 1 s, not the default 10 s', async (t) => {
  const hub = await startHub(t);
  const held = new Set<Socket>();
  const silent = createServer((socket) => held.add(socket));
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    for (const socket of held) socket.destroy();
    silent.close();
  });
  const port = (silent.address() as { port: number }).port;
  const ws = workspace();
  t.teardown(() => ws.remove());
  await configureWith(hub, ws, [`proxy: http://127.0.0.1:${port}`, 'requestTimeout: 1s']);
  const agent = launchAgent(t, ws);
  const out = output(agent);
  t.true(await waitUntil(() => /within 1000 ms/.test(out()), 8000), out());
  t.false(/within 10000 ms/.test(out()));
  t.true(held.size >= 1, 'the agent connected to the proxy');
  agent.kill('SIGTERM');
  await finish(agent);
});

test('HTTPS_PROXY is honoured when the config sets no proxy; NO_PROXY covering the hub (and hub.proxy: none) connect directly', async (t) => {
  const cases: { env: (hubPort: number, proxyUrl: string) => Record<string, string>; lines: string[]; through: boolean }[] = [
    { env: (_, url) => ({ HTTPS_PROXY: url }), lines: [], through: true },
    { env: (_, url) => ({ HTTPS_PROXY: url, NO_PROXY: 'example.com, 127.0.0.1' }), lines: [], through: false },
    { env: (port, url) => ({ https_proxy: url, no_proxy: `127.0.0.0/8:${port}` }), lines: [], through: false },
    { env: (port, url) => ({ https_proxy: url, no_proxy: `127.0.0.1:${port + 1}` }), lines: [], through: true },
    { env: (_, url) => ({ HTTPS_PROXY: url }), lines: ['proxy: none'], through: false },
  ];
  for (const c of cases) {
    // A hub and a proxy per case: an infrastructure binds to one agent instance.
    const hub = await startHub(t);
    const proxy = await startTinyproxy(t, [hubPort(hub)]);
    const ws = workspace();
    t.teardown(() => ws.remove());
    await configureWith(hub, ws, c.lines);
    const env = c.env(hubPort(hub), proxy.url);
    const agent = launchAgentWith(t, ws, env);
    const out = output(agent);
    await runToCompletion(t, hub, out);
    agent.kill('SIGTERM');
    await finish(agent);
    t.is(proxy.connects().length > 0, c.through, `${JSON.stringify({ env, lines: c.lines })}\n${proxy.log()}`);
    await hub.stop();
    await proxy.kill();
  }
});

test('the proxy going away mid-run: faults revert within disconnectTimeout + 1 s; the result arrives once the proxy is back', async (t) => {
  const hub = await startHub(t);
  const proxy = await startTinyproxy(t, [hubPort(hub)]);
  const ws = workspace();
  t.teardown(() => ws.remove());
  await configureWith(hub, ws, [`proxy: ${proxy.url}`], { disconnectTimeout: '5s' });
  const agent = launchAgent(t, ws);
  const out = output(agent);
  const run = await hub.service.queueRun('edge-1', experiment(120));
  t.true(await waitUntil(() => stressorsMatching(run.id).length === 2, 15_000), out());
  await proxy.kill();
  const stopped = Date.now();
  t.true(await waitUntil(() => stressorsMatching(run.id).length === 0, 9000), 'reverted on its own');
  const after = Date.now() - stopped;
  t.log(`proxy killed → faults reverted after ${after} ms (disconnectTimeout 5 s)`);
  t.true(after <= 5000 + 1000, `${after} ms`);
  await proxy.restart();
  t.true(await waitForState(hub, run.id, ['finished'], 30_000), `result delivered through the proxy again\n${out()}`);
  t.like((await hub.service.run(run.id))?.result, { verdict: 'aborted', reason: 'control plane unreachable' });
  agent.kill('SIGTERM');
  await finish(agent);
});
