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
    const infras = Array.from({ length: AGENTS }, (_, i) => service.createInfra(`bench-${i}`));
    store.close();
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
    const own = new HubService(agentStore).createInfra('bench-agent');
    agentStore.close();
    const keyFile = path.join(dir, 'access-key');
    writeFileSync(keyFile, `${own.accessKey}\n`, { mode: 0o600 });
    const config = path.join(dir, 'config.yaml');
    writeFileSync(config, `hub:\n  url: ${url}\n  infraId: ${own.id}\n  accessKeyFile: ${keyFile}\n  caFile: ${files.caCert}\n`);
    const agent = spawn(process.execPath, [path.join(root, 'bin/faultd.js'), '--config', config, '--state-dir', path.join(dir, 'state'), '--log-format', 'json', 'agent'], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(agent);
    const bare = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 120000)'], { stdio: 'ignore' });
    children.push(bare);
    await waitForLine(agent, /agent started/, 15_000);
    await sleep(IDLE_WARMUP_MS); // start-up work (JIT, first TLS handshakes, GC) is not idle cost
    const agentCpu0 = runTimeNs([agent.pid ?? 0]);
    const bareCpu0 = runTimeNs([bare.pid ?? 0]);
    const a0 = Date.now();
    await sleep(IDLE_WINDOW_MS);
    const perMinute = (ns: number) => ((ns / 1e6) * 60_000) / (Date.now() - a0);
    const agentCpuMsPerMin = perMinute(runTimeNs([agent.pid ?? 0]) - agentCpu0);
    const bareCpuMsPerMin = perMinute(runTimeNs([bare.pid ?? 0]) - bareCpu0);
    const agentRss = statusBytes(agent.pid ?? 0, 'VmRSS');
    const bareRss = statusBytes(bare.pid ?? 0, 'VmRSS');

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
      '| `faultd agent` idle (default intervals: heartbeat 10 s, long-poll 25 s) | faultd agent | bare `node -e setTimeout` |',
      '|---|---|---|',
      `| RSS (MiB) | ${mib(agentRss)} | ${mib(bareRss)} |`,
      `| CPU (ms per minute, over ${IDLE_WINDOW_MS / 1000} s after ${IDLE_WARMUP_MS / 1000} s of warm-up) | ${agentCpuMsPerMin.toFixed(0)} | ${bareCpuMsPerMin.toFixed(0)} |`,
      '',
      'The token storm is bounded by the hub checking each key with scrypt (about 30 ms of CPU each, off the event loop); in steady state an agent exchanges its key every 6.7 minutes (two thirds of the 10 min token lifetime).',
    ];
  } finally {
    for (const child of children) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}
