// SPDX-License-Identifier: Apache-2.0
/**
 * The hub under a simulated fleet, and the agent's own footprint:
 *  - N simulated agents (BENCH_FLEET_AGENTS, default 5000; bench/fleet-load.ts) against one
 *    `faultd hub serve` on SQLite, then against two replicas on one PostgreSQL server (agents
 *    spread over them as a round-robin balancer would; BENCH_FLEET_STORES=sqlite,postgres);
 *  - per store: the token storm, heartbeat latency p50/p99, dispatch latency (an operator queues
 *    a run through the operator API of replica 1 → the agent's long-poll has it) p50/p99 at a
 *    steady rate and for a fleet-wide burst, hub CPU and RSS per replica, PostgreSQL's CPU;
 *  - a heartbeat ramp (2×, 4×, 8× the fleet's rate) to show where the hub saturates;
 *  - a real `faultd agent` idle against a hub: RSS and CPU per minute, next to a bare Node.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';

import { openHubStore, parseHubDatabase } from '../src/hub/open-store.js';
import { localActor, OperatorService } from '../src/hub/operators/operator-service.js';
import { HubService } from '../src/hub/service.js';
import { initHubTls } from '../src/hub/tls.js';
import { postgresMissing, startPostgres } from '../test/helpers/postgres.js';
import { waitForLine } from './child-output.js';
import { HEARTBEAT_MS, RunQueuer, SimulatedFleet, type SimulatedInfra } from './fleet-load.js';
import { processTree, runTimeNs, statusBytes } from './proc.js';
import { percentile } from './stats.js';

const AGENTS = Number(process.env['BENCH_FLEET_AGENTS'] ?? 5000);
const WINDOW_MS = Number(process.env['BENCH_FLEET_SECONDS'] ?? 30) * 1000;
const DISPATCH_PER_S = Number(process.env['BENCH_FLEET_DISPATCH_RATE'] ?? 5);
const BURST = Math.min(AGENTS, Number(process.env['BENCH_FLEET_BURST'] ?? 1000));
const STORES = (process.env['BENCH_FLEET_STORES'] ?? 'sqlite,postgres').split(',');
/** A directory for each replica's stdout (e.g. with `--trace-gc` in BENCH_FLEET_HUB_NODE_ARGS), every heartbeat's send time and round trip, and every poll answer's time. */
const TRACE_DIR = process.env['BENCH_FLEET_TRACE'];
const RAMP = [2, 4, 8];
const RAMP_STEP_MS = 15_000;
const PORT = 18_443;
const IDLE_WARMUP_MS = 15_000;
const IDLE_WINDOW_MS = 30_000;
const HEARTBEAT_P99_TARGET_MS = 50;
const DISPATCH_P99_TARGET_MS = 200;
const EXPERIMENT = JSON.stringify({
  apiVersion: 'faultd/v1', kind: 'Experiment', metadata: { name: 'bench' },
  spec: { steps: [{ name: 's', faults: [{ kind: 'linux-cpu-stress', duration: '1s', params: { load: 10, workers: 1 } }] }] },
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const mib = (b: number) => (b / 2 ** 20).toFixed(0);
const ms = (v: number) => (Number.isNaN(v) ? '–' : v < 10 ? v.toFixed(1) : v.toFixed(0));
const p50p99 = (v: readonly number[]) => `${ms(percentile(v, 0.5))} / ${ms(percentile(v, 0.99))}`;

type Teardowns = (() => void | Promise<void>)[];

interface Phase {
  readonly heartbeatsPerS: number;
  readonly heartbeats: number[];
  readonly dispatches: number[];
  /** Each replica's CPU (fraction of one CPU), then PostgreSQL's (0 on SQLite). */
  readonly cpu: number[];
  readonly generatorCpu: number;
  /** The load generator's own event-loop delay p99 (ms): how much of a latency tail is its own. */
  readonly generatorLoopP99: number;
}

interface StoreFigures {
  readonly label: string;
  readonly replicas: number;
  readonly setupS: number;
  readonly stormS: number;
  readonly steady: Phase;
  readonly ramp: Phase[];
  readonly burst: number[];
  readonly burstTimeouts: number;
  readonly rssMax: number[];
  readonly errors: string;
}

/** CPU of each measured process group over a phase, as fractions of one CPU. */
function cpuMeter(groups: readonly (() => number[])[]): () => { cpu: number[]; generatorCpu: number } {
  const t0 = performance.now();
  const start = groups.map((pids) => runTimeNs(pids()));
  const self0 = runTimeNs([process.pid]);
  return () => {
    const seconds = (performance.now() - t0) / 1000;
    return { cpu: groups.map((pids, i) => (runTimeNs(pids()) - (start[i] ?? 0)) / 1e9 / seconds), generatorCpu: (runTimeNs([process.pid]) - self0) / 1e9 / seconds };
  };
}

/** Queues runs on random idle agents at `perSecond` until `done()`; hands each dispatch latency to `sink()`. */
async function driveDispatches(fleet: SimulatedFleet, queuer: RunQueuer, perSecond: number, done: () => boolean, sink: () => number[]): Promise<number> {
  const busy = new Set<number>();
  const inFlight: Promise<void>[] = [];
  let timeouts = 0;
  while (!done()) {
    let i = Math.floor(Math.random() * fleet.size);
    while (busy.has(i)) i = (i + 1) % fleet.size;
    busy.add(i);
    inFlight.push(
      (async () => {
        const infra = fleet.infra(i);
        const received = fleet.taskReceived(infra.id);
        const queuedAt = performance.now();
        if (await queuer.queue(infra.name, EXPERIMENT).catch(() => false)) {
          const at = await Promise.race([received, sleep(30_000).then(() => undefined)]);
          if (at === undefined) timeouts += 1;
          else sink().push(at - queuedAt);
          await sleep(2000); // the agent's result is in
        }
        busy.delete(i);
      })(),
    );
    await sleep(1000 / perSecond);
  }
  await Promise.all(inFlight);
  return timeouts;
}

/** Queues one run on each of the first `count` agents at once; the latencies of those received within 60 s. */
async function burst(fleet: SimulatedFleet, queuer: RunQueuer, count: number): Promise<{ latencies: number[]; timeouts: number }> {
  const latencies: number[] = [];
  let timeouts = 0;
  await Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const infra = fleet.infra(i);
      const received = fleet.taskReceived(infra.id);
      const queuedAt = performance.now();
      if (!(await queuer.queue(infra.name, EXPERIMENT).catch(() => false))) return;
      const at = await Promise.race([received, sleep(60_000).then(() => undefined)]);
      if (at === undefined) timeouts += 1;
      else latencies.push(at - queuedAt);
    }),
  );
  return { latencies, timeouts };
}

async function storeScenario(root: string, store: string, teardowns: Teardowns): Promise<StoreFigures> {
  const dir = mkdtempSync(path.join(tmpdir(), 'faultd-bench-fleet-'));
  teardowns.push(() => rmSync(dir, { recursive: true, force: true }));
  const { files } = await initHubTls(path.join(dir, 'tls'), []);
  const ca = readFileSync(files.caCert, 'utf8');
  let database = `sqlite:${path.join(dir, 'hub.db')}`;
  let postgresPids = (): number[] => [];
  if (store === 'postgres') {
    // Durable, as SQLite is: every commit of a run, result or token waits for the disk.
    const server = await startPostgres({ teardown: (fn) => teardowns.push(fn) }, { durable: true });
    database = await server.createDatabase();
    const postmaster = Number(readFileSync(path.join(server.socketDir, 'data', 'postmaster.pid'), 'utf8').split('\n')[0]);
    postgresPids = () => processTree(postmaster);
  }
  const replicas = store === 'postgres' ? 2 : 1;

  const setupStarted = performance.now();
  const hubStore = await openHubStore(parseHubDatabase(database, dir), dir);
  const infras: SimulatedInfra[] = [];
  let token: string;
  try {
    const service = new HubService(hubStore);
    for (let i = 0; i < AGENTS; i += 1) {
      const name = `bench-${i}`;
      infras.push({ name, ...(await service.createInfra(name)) });
    }
    const operators = new OperatorService(hubStore.operators(), { now: Date.now });
    await operators.addUser(localActor(), 'bench', 'operator', 'bench bench bench');
    token = (await operators.createToken(localActor(), 'bench')).token;
  } finally {
    await hubStore.close();
  }
  const setupS = (performance.now() - setupStarted) / 1000;

  const hubs: ChildProcess[] = [];
  for (let r = 0; r < replicas; r += 1) {
    // BENCH_FLEET_HUB_NODE_ARGS: e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` to profile the replicas.
    const nodeArgs = (process.env['BENCH_FLEET_HUB_NODE_ARGS'] ?? '').split(' ').filter(Boolean);
    const hub = spawn(process.execPath, [...nodeArgs, path.join(root, 'bin/faultd.js'), 'hub', '--hub-dir', dir, 'serve', '--listen', `127.0.0.1:${PORT + r}`], {
      stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, FAULTD_HUB_DATABASE: database },
    });
    teardowns.push(() => stopChild(hub));
    hubs.push(hub);
    await waitForLine(hub, /serving on/, 30_000);
    if (TRACE_DIR) hub.stdout?.pipe(createWriteStream(path.join(TRACE_DIR, `${store}-hub-${r + 1}.log`)));
    else hub.stdout?.resume();
  }
  const urls = hubs.map((_, r) => `https://127.0.0.1:${PORT + r}`);
  const fleet = new SimulatedFleet(urls, ca, infras);
  fleet.trace = TRACE_DIR !== undefined;
  const t0 = performance.now();
  const marks: string[] = [`0 s is ${t0.toFixed(0)} ms after this process started (the time base of its --trace-gc lines)`];
  const queuer = new RunQueuer(urls[0] ?? '', ca, token);
  try {
    const stormS = (await fleet.exchangeTokens()) / 1000;
    // Every agent is heartbeating and polling, and the storm's after-effects (each agent's second
    // TLS connection, its garbage) are behind.
    await sleep(2 * HEARTBEAT_MS);
    const groups = [...hubs.map((hub) => () => [hub.pid ?? 0]), postgresPids];
    const rssMax = hubs.map(() => 0);
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        hubs.forEach((hub, r) => (rssMax[r] = Math.max(rssMax[r] ?? 0, statusBytes(hub.pid ?? 0, 'VmRSS'))));
        await sleep(1000);
      }
    })();

    const phases: Phase[] = [];
    let current: number[] = [];
    let phasesDone = false;
    const dispatching = driveDispatches(fleet, queuer, DISPATCH_PER_S, () => phasesDone, () => current);
    const measure = async (windowMs: number): Promise<Phase> => {
      marks.push(`${((performance.now() - t0) / 1000).toFixed(1)} s: a ${windowMs / 1000} s window at ${fleet.heartbeatMs} ms heartbeats`);
      fleet.takeHeartbeats();
      current = [];
      const meter = cpuMeter(groups);
      const loop = monitorEventLoopDelay({ resolution: 10 });
      loop.enable();
      await sleep(windowMs);
      loop.disable();
      const heartbeats = fleet.takeHeartbeats();
      return { heartbeatsPerS: (AGENTS * 1000) / fleet.heartbeatMs, heartbeats, dispatches: current, ...meter(), generatorLoopP99: loop.percentile(99) / 1e6 };
    };
    phases.push(await measure(WINDOW_MS));
    for (const factor of RAMP) {
      const previous = fleet.heartbeatMs;
      fleet.heartbeatMs = HEARTBEAT_MS / factor;
      await sleep(previous); // every loop is on the new interval
      phases.push(await measure(RAMP_STEP_MS));
    }
    fleet.heartbeatMs = HEARTBEAT_MS;
    phasesDone = true;
    await dispatching;
    await sleep(HEARTBEAT_MS / RAMP[RAMP.length - 1]! + 2000);
    const burstFigures = await burst(fleet, queuer, BURST);
    sampling = false;
    await sampler;
    const [steady, ...ramp] = phases;
    if (!steady) throw new Error('no steady phase');
    const errors = Object.entries(fleet.errors).filter(([, n]) => n > 0).map(([call, n]) => `${call} ${n}`);
    if (queuer.errors.length) errors.push(`queue: ${queuer.errors.join('; ')}`);
    return {
      label: store === 'postgres' ? 'PostgreSQL, two replicas' : 'SQLite, one hub', replicas, setupS, stormS, steady, ramp,
      burst: burstFigures.latencies, burstTimeouts: burstFigures.timeouts, rssMax, errors: errors.join(', ') || 'none',
    };
  } finally {
    await fleet.stop();
    await queuer.close();
    if (TRACE_DIR) {
      const seconds = (at: number) => ((at - t0) / 1000).toFixed(3);
      const write = (name: string, lines: readonly string[]) => writeFileSync(path.join(TRACE_DIR, `${store}-${name}`), lines.join('\n') + '\n');
      write('marks.txt', marks);
      write('polls.csv', ['answered_s,status', ...fleet.pollTrace.map(([at, status]) => `${seconds(at)},${status}`)]);
      write('heartbeats.csv', ['sent_s,ms', ...fleet.heartbeatTrace.map(([at, took]) => `${seconds(at)},${took.toFixed(1)}`)]);
    }
  }
}

/** The first ramp step where the hub missed the heartbeat target or a replica used a whole CPU. */
function saturation(figures: StoreFigures): string {
  const over = [figures.steady, ...figures.ramp].find((p) => percentile(p.heartbeats, 0.99) > HEARTBEAT_P99_TARGET_MS || p.cpu.slice(0, figures.replicas).some((c) => c >= 0.95));
  return over ? `at ${over.heartbeatsPerS.toFixed(0)} heartbeats/s (as ${(over.heartbeatsPerS * HEARTBEAT_MS / 1000).toFixed(0)} agents)` : `not within the ramp (up to ${(AGENTS * RAMP[RAMP.length - 1]!).toFixed(0)} agents' worth)`;
}

function storeTable(all: readonly StoreFigures[]): string[] {
  const row = (label: string, cell: (f: StoreFigures) => string) => `| ${label} | ${all.map(cell).join(' | ')} |`;
  const cpu = (p: Phase, f: StoreFigures) => p.cpu.slice(0, f.replicas).map((c) => (c * 100).toFixed(0)).join(' + ') + (f.replicas > 1 ? ` (PostgreSQL ${(p.cpu[f.replicas]! * 100).toFixed(0)})` : '');
  const lines = [
    `| ${AGENTS} simulated agents on 127.0.0.1 (heartbeat 10 s, long-poll 25 s), ${WINDOW_MS / 1000} s window | ${all.map((f) => f.label).join(' | ')} |`,
    `|---|${all.map(() => '---|').join('')}`,
    row(`set-up: ${AGENTS} infrastructures created (s)`, (f) => f.setupS.toFixed(1)),
    row(`token storm: all ${AGENTS} agents exchange their key at once (s)`, (f) => f.stormS.toFixed(1)),
    row(`heartbeat p50 / p99 (ms), ${AGENTS / 10}/s; target p99 ≤ ${HEARTBEAT_P99_TARGET_MS}`, (f) => `${p50p99(f.steady.heartbeats)} (${f.steady.heartbeats.length})`),
    row(`dispatch p50 / p99 (ms): queued through replica 1 → the agent has it, ${DISPATCH_PER_S}/s; target p99 ≤ ${DISPATCH_P99_TARGET_MS}`, (f) => `${p50p99(f.steady.dispatches)} (${f.steady.dispatches.length})`),
    row(`burst: ${BURST} runs queued at once, dispatch p50 / p99 / last (ms)`, (f) => `${p50p99(f.burst)} / ${ms(Math.max(...f.burst))}${f.burstTimeouts ? `, ${f.burstTimeouts} not within 60 s` : ''}`),
    row('hub CPU per replica (% of one CPU), steady', (f) => cpu(f.steady, f)),
    row('hub RSS per replica, max (MiB)', (f) => f.rssMax.map(mib).join(' + ')),
    row('load generator CPU (% of one CPU), steady', (f) => (f.steady.generatorCpu * 100).toFixed(0)),
    row('load generator event-loop delay p99 (ms), steady: part of every latency it measures', (f) => ms(f.steady.generatorLoopP99)),
  ];
  RAMP.forEach((factor, i) => {
    lines.push(row(`ramp ${factor}×: ${(AGENTS * factor) / 10} heartbeats/s: p50 / p99 (ms); dispatch p99; hub CPU %`, (f) => {
      const p = f.ramp[i];
      return p ? `${p50p99(p.heartbeats)}; ${ms(percentile(p.dispatches, 0.99))}; ${cpu(p, f)}` : '–';
    }));
  });
  lines.push(row(`saturates (heartbeat p99 > ${HEARTBEAT_P99_TARGET_MS} ms or a replica at 95 % CPU)`, saturation));
  lines.push(row('failed calls', (f) => f.errors));
  return lines;
}

/** A real `faultd agent` idle against a hub, next to the one-process agent of 0.1.0 and a bare Node. */
async function idleAgent(root: string, teardowns: Teardowns): Promise<string[]> {
  const dir = mkdtempSync(path.join(tmpdir(), 'faultd-bench-idle-'));
  teardowns.push(() => rmSync(dir, { recursive: true, force: true }));
  const { files } = await initHubTls(path.join(dir, 'tls'), []);
  const store = await openHubStore(parseHubDatabase(undefined, dir), dir);
  const service = new HubService(store);
  const own = await service.createInfra('bench-agent');
  const second = await service.createInfra('bench-agent-one-process');
  await store.close();
  const hub = spawn(process.execPath, [path.join(root, 'bin/faultd.js'), 'hub', '--hub-dir', dir, 'serve', '--listen', `127.0.0.1:${PORT}`], { stdio: ['ignore', 'pipe', 'inherit'] });
  teardowns.push(() => void hub.kill('SIGKILL'));
  await waitForLine(hub, /serving on/, 15_000);
  const url = `https://127.0.0.1:${PORT}`;
  const configFor = (name: string, infra: { id: string; accessKey: string }) => {
    const keyFile = path.join(dir, `access-key-${name}`);
    writeFileSync(keyFile, `${infra.accessKey}\n`, { mode: 0o600 });
    const config = path.join(dir, `config-${name}.yaml`);
    writeFileSync(config, `hub:\n  url: ${url}\n  infraId: ${infra.id}\n  accessKeyFile: ${keyFile}\n  caFile: ${files.caCert}\n`);
    return config;
  };
  const startAgent = (name: string, infra: { id: string; accessKey: string }, env: NodeJS.ProcessEnv) => {
    const child = spawn(process.execPath, [path.join(root, 'bin/faultd.js'), '--config', configFor(name, infra), '--state-dir', path.join(dir, `state-${name}`), '--log-format', 'json', 'agent'], {
      stdio: ['ignore', 'pipe', 'inherit'], env,
    });
    teardowns.push(() => void child.kill('SIGKILL'));
    return child;
  };
  // The agent as it runs (an idle process, workers only for work), the one-process agent of
  // 0.1.0 as the peer, and a bare Node, side by side over the same window.
  const agent = startAgent('agent', own, process.env);
  await waitForLine(agent, /agent started/, 15_000);
  const oneProcess = startAgent('one', second, { ...process.env, FAULTD_AGENT_ONE_PROCESS: '1' });
  const bare = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 120000)'], { stdio: 'ignore' });
  teardowns.push(() => void bare.kill('SIGKILL'));
  await waitForLine(oneProcess, /agent started/, 15_000);
  await sleep(IDLE_WARMUP_MS); // start-up work (JIT, first TLS handshakes, GC) is not idle cost
  const pids = [agent.pid ?? 0, oneProcess.pid ?? 0, bare.pid ?? 0];
  const idleCpu0 = pids.map((pid) => runTimeNs([pid]));
  const a0 = Date.now();
  await sleep(IDLE_WINDOW_MS);
  const perMinute = (ns: number) => ((ns / 1e6) * 60_000) / (Date.now() - a0);
  const [agentCpu = 0, oneProcessCpu = 0, bareCpu = 0] = pids.map((pid, i) => perMinute(runTimeNs([pid]) - (idleCpu0[i] ?? 0)));
  const [agentRss = 0, oneProcessRss = 0, bareRss = 0] = pids.map((pid) => statusBytes(pid, 'VmRSS'));
  const idleChildren = readFileSync(`/proc/${agent.pid ?? 0}/task/${agent.pid ?? 0}/children`, 'utf8').trim();
  const mib1 = (b: number) => (b / 2 ** 20).toFixed(1);
  return [
    '| `faultd agent` idle (default intervals: heartbeat 10 s, long-poll 25 s) | faultd agent (idle process) | one-process agent (`FAULTD_AGENT_ONE_PROCESS=1`, as 0.1.0) | bare `node -e setTimeout` |',
    '|---|---|---|---|',
    `| RSS (MiB) | ${mib1(agentRss)} | ${mib1(oneProcessRss)} | ${mib1(bareRss)} |`,
    `| RSS over bare Node (MiB) | +${mib1(agentRss - bareRss)} | +${mib1(oneProcessRss - bareRss)} | |`,
    `| CPU (ms per minute, over ${IDLE_WINDOW_MS / 1000} s after ${IDLE_WARMUP_MS / 1000} s of warm-up) | ${agentCpu.toFixed(0)} | ${oneProcessCpu.toFixed(0)} | ${bareCpu.toFixed(0)} |`,
    `| worker processes while idle | ${idleChildren === '' ? 0 : idleChildren.split(' ').length} | | |`,
  ];
}

/** SIGTERM (a hub stops cleanly, writing a profile if asked), SIGKILL after 10 s. */
async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await Promise.race([exited, sleep(10_000)]);
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}

async function withTeardowns<T>(body: (teardowns: Teardowns) => Promise<T>): Promise<T> {
  const teardowns: Teardowns = [];
  try {
    return await body(teardowns);
  } finally {
    for (const fn of teardowns.reverse()) await fn();
  }
}

export async function fleet(root: string): Promise<string[]> {
  const figures: StoreFigures[] = [];
  const skipped: string[] = [];
  for (const store of STORES) {
    const missing = store === 'postgres' ? postgresMissing() : undefined;
    if (missing) skipped.push(`PostgreSQL skipped: ${missing}`);
    else figures.push(await withTeardowns((teardowns) => storeScenario(root, store, teardowns)));
  }
  const idle = process.env['BENCH_FLEET_IDLE'] === '0' ? [] : await withTeardowns((teardowns) => idleAgent(root, teardowns));
  return [
    ...storeTable(figures),
    ...skipped.map((s) => `\n${s}`),
    '',
    'Latencies are measured by the load generator (one Node process holding every simulated agent\'s connections), so they include its own event-loop delay; all processes share this machine\'s CPUs. Dispatch latency runs from the operator\'s queue call (operator API of replica 1) to the agent\'s long-poll answer; on two replicas half the agents hold their poll on replica 2, which hears of the run by NOTIFY. The ramp shortens every agent\'s heartbeat interval (10 s → 5, 2.5, 1.25 s) with the same long-polls held, to find where the hub saturates.',
    '',
    ...idle,
  ];
}
