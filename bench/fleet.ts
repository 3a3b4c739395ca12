// SPDX-License-Identifier: Apache-2.0
/**
 * The hub under a simulated fleet, and the agent's own footprint:
 *  - a `faultd hub serve` process with N infrastructures (BENCH_FLEET_AGENTS, default 1000);
 *  - a bounded load generator on 127.0.0.1 with N simulated agents, each exchanging its key for
 *    a token, then heartbeating every 10 s (jittered) while holding a 25 s long-poll open, as
 *    `faultd agent` does at its default intervals;
 *  - heartbeat latency p50/p99 and the hub's CPU and RSS over the steady window;
 *  - a real `faultd agent` idle against the same hub: RSS and CPU per minute, next to a bare Node.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { Agent, request } from 'undici';

import { HubService } from '../src/hub/service.js';
import { SqliteHubStore } from '../src/hub/sqlite-store.js';
import { initHubTls } from '../src/hub/tls.js';
import { waitForLine } from './child-output.js';
import { runTimeNs, statusBytes } from './proc.js';
import { percentile } from './stats.js';

const AGENTS = Number(process.env['BENCH_FLEET_AGENTS'] ?? 1000);
const WINDOW_MS = Number(process.env['BENCH_FLEET_SECONDS'] ?? 30) * 1000;
const HEARTBEAT_MS = 10_000;
const POLL_WAIT_S = 25;
const PORT = 18_443;
const IDLE_WARMUP_MS = 15_000;
const IDLE_WINDOW_MS = 30_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function fleet(root: string): Promise<string[]> {
  const dir = mkdtempSync(path.join(tmpdir(), 'faultd-bench-fleet-'));
  const children: ChildProcess[] = [];
  try {
    const { files } = await initHubTls(path.join(dir, 'tls'), []);
    const ca = readFileSync(files.caCert, 'utf8');
    const store = new SqliteHubStore(path.join(dir, 'hub.db'));
    const service = new HubService(store);
    const infras: { id: string; accessKey: string }[] = [];
    for (let i = 0; i < AGENTS; i += 1) infras.push(await service.createInfra(`bench-${i}`));
    await store.close();
    const hub = spawn(process.execPath, [path.join(root, 'bin/faultd.js'), 'hub', '--hub-dir', dir, 'serve', '--listen', `127.0.0.1:${PORT}`], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(hub);
    await waitForLine(hub, /serving on/, 15_000);
    const url = `https://127.0.0.1:${PORT}`;
    // One connection pool per simulated agent, as each real agent has its own.
    const simulated = infras.map((infra) => ({ infra, dispatcher: new Agent({ connect: { ca } }) }));
    const post = async (dispatcher: Agent, route: string, body: unknown, token?: string) => {
      const started = process.hrtime.bigint();
      const r = await request(`${url}${route}`, { method: 'POST', dispatcher, headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) }, body: JSON.stringify(body) });
      const text = await r.body.text();
      return { status: r.statusCode, json: text ? (JSON.parse(text) as Record<string, unknown>) : undefined, ms: Number(process.hrtime.bigint() - started) / 1e6 };
    };
    // Token storm: every agent starts at once.
    const stormStart = Date.now();
    const tokens = await Promise.all(simulated.map(async ({ infra, dispatcher }) => ({ dispatcher, token: String((await post(dispatcher, '/v1/token', { infraId: infra.id, accessKey: infra.accessKey })).json?.['accessToken']) })));
    const stormMs = Date.now() - stormStart;
    const latencies: number[] = [];
    let stop = false;
    const agents = tokens.map(async ({ token, dispatcher }) => {
      const poller = (async () => {
        while (!stop) {
          const r = await request(`${url}/v1/tasks/next?waitSeconds=${POLL_WAIT_S}`, { method: 'GET', dispatcher, headers: { authorization: `Bearer ${token}` }, headersTimeout: (POLL_WAIT_S + 10) * 1000 }).catch(() => undefined);
          await r?.body.text();
        }
      })();
      await sleep(Math.random() * HEARTBEAT_MS);
      while (!stop) {
        const r = await post(dispatcher, '/v1/heartbeat', { agentVersion: '0.1.0', hostname: 'bench', capabilities: ['linux-cpu-stress'] }, token);
        if (r.status === 200) latencies.push(r.ms);
        await sleep(HEARTBEAT_MS);
      }
      await poller;
    });
    await sleep(HEARTBEAT_MS); // every agent is heartbeating and polling
    latencies.length = 0;
    const hubPid = hub.pid ?? 0;
    const cpu0 = runTimeNs([hubPid]);
    const t0 = Date.now();
    let rssMax = 0;
    while (Date.now() - t0 < WINDOW_MS) {
      await sleep(1000);
      rssMax = Math.max(rssMax, statusBytes(hubPid, 'VmRSS'));
    }
    const hubCpu = (runTimeNs([hubPid]) - cpu0) / 1e9 / ((Date.now() - t0) / 1000);
    const windowLatencies = [...latencies];

    // A real agent, idle against the same hub (one more infrastructure).
    const agentStore = new SqliteHubStore(path.join(dir, 'hub.db'));
    const agentService = new HubService(agentStore);
    const own = await agentService.createInfra('bench-agent');
    const second = await agentService.createInfra('bench-agent-one-process');
    await agentStore.close();
    const keyFile = path.join(dir, 'access-key');
    writeFileSync(keyFile, `${own.accessKey}\n`, { mode: 0o600 });
    const config = path.join(dir, 'config.yaml');
    writeFileSync(config, `hub:\n  url: ${url}\n  infraId: ${own.id}\n  accessKeyFile: ${keyFile}\n  caFile: ${files.caCert}\n`);
    // The agent as it runs (an idle process, workers only for work), the one-process agent of
    // 0.1.0 as the peer, and a bare Node, side by side over the same window.
    const startAgent = (configFile: string, stateDir: string, env: NodeJS.ProcessEnv) => {
      const child = spawn(process.execPath, [path.join(root, 'bin/faultd.js'), '--config', configFile, '--state-dir', path.join(dir, stateDir), '--log-format', 'json', 'agent'], { stdio: ['ignore', 'pipe', 'inherit'], env });
      children.push(child);
      return child;
    };
    const agent = startAgent(config, 'state', process.env);
    await waitForLine(agent, /agent started/, 15_000);
    const oneProcessConfig = path.join(dir, 'config-one.yaml');
    const secondKey = path.join(dir, 'access-key-one');
    writeFileSync(secondKey, `${second.accessKey}\n`, { mode: 0o600 });
    writeFileSync(oneProcessConfig, `hub:\n  url: ${url}\n  infraId: ${second.id}\n  accessKeyFile: ${secondKey}\n  caFile: ${files.caCert}\n`);
    const oneProcess = startAgent(oneProcessConfig, 'state-one', { ...process.env, FAULTD_AGENT_ONE_PROCESS: '1' });
    const bare = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 120000)'], { stdio: 'ignore' });
    children.push(bare);
    await waitForLine(oneProcess, /agent started/, 15_000);
    await sleep(IDLE_WARMUP_MS); // start-up work (JIT, first TLS handshakes, GC) is not idle cost
    const pids = [agent.pid ?? 0, oneProcess.pid ?? 0, bare.pid ?? 0];
    const idleCpu0 = pids.map((pid) => runTimeNs([pid]));
    const a0 = Date.now();
    await sleep(IDLE_WINDOW_MS);
    const perMinute = (ns: number) => ((ns / 1e6) * 60_000) / (Date.now() - a0);
    const [agentCpuMsPerMin = 0, oneProcessCpuMsPerMin = 0, bareCpuMsPerMin = 0] = pids.map((pid, i) => perMinute(runTimeNs([pid]) - (idleCpu0[i] ?? 0)));
    const [agentRss = 0, oneProcessRss = 0, bareRss = 0] = pids.map((pid) => statusBytes(pid, 'VmRSS'));
    const idleChildren = readFileSync(`/proc/${agent.pid ?? 0}/task/${agent.pid ?? 0}/children`, 'utf8').trim();

    stop = true;
    await Promise.all(simulated.map(({ dispatcher }) => dispatcher.destroy()));
    await Promise.allSettled(agents);
    const mib = (b: number) => (b / 2 ** 20).toFixed(1);
    return [
      `| measure (${AGENTS} simulated agents on 127.0.0.1, ${WINDOW_MS / 1000} s window) | value |`,
      '|---|---|',
      `| token storm: all ${AGENTS} agents exchange their key at once (s) | ${(stormMs / 1000).toFixed(1)} |`,
      `| heartbeat latency p50 / p99 (ms, ${windowLatencies.length} heartbeats) | ${percentile(windowLatencies, 0.5).toFixed(1)} / ${percentile(windowLatencies, 0.99).toFixed(1)} |`,
      `| hub CPU (% of one CPU) with ${AGENTS} long-polls held open | ${(hubCpu * 100).toFixed(1)} |`,
      `| hub RSS, max (MiB) | ${mib(rssMax)} |`,
      '',
      '| `faultd agent` idle (default intervals: heartbeat 10 s, long-poll 25 s) | faultd agent (idle process) | one-process agent (`FAULTD_AGENT_ONE_PROCESS=1`, as 0.1.0) | bare `node -e setTimeout` |',
      '|---|---|---|---|',
      `| RSS (MiB) | ${mib(agentRss)} | ${mib(oneProcessRss)} | ${mib(bareRss)} |`,
      `| RSS over bare Node (MiB) | +${mib(agentRss - bareRss)} | +${mib(oneProcessRss - bareRss)} | |`,
      `| CPU (ms per minute, over ${IDLE_WINDOW_MS / 1000} s after ${IDLE_WARMUP_MS / 1000} s of warm-up) | ${agentCpuMsPerMin.toFixed(0)} | ${oneProcessCpuMsPerMin.toFixed(0)} | ${bareCpuMsPerMin.toFixed(0)} |`,
      `| worker processes while idle | ${idleChildren === '' ? 0 : idleChildren.split(' ').length} | | |`,
      '',
      'The token storm is bounded by the hub checking each key with scrypt (about 30 ms of CPU each, off the event loop); in steady state an agent exchanges its key every 6.7 minutes (two thirds of the 10 min token lifetime).',
    ];
  } finally {
    for (const child of children) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}
