// SPDX-License-Identifier: Apache-2.0
/**
 * A real Prometheus (Debian's `prometheus` package, bash scripts/install-deps.sh) for the
 * prometheus probes' tests: started on 127.0.0.1 with a temporary configuration and TSDB,
 * scraping every second a small exporter this process serves (gauges the test sets), killed by
 * pid and its directory removed at `stop()`.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { systemTool } from './netns.js';

/** Series the exporter serves: `name` → one value per label set (`{}` for none). */
export interface GaugeExporter {
  readonly port: number;
  /** Sets a gauge series (created if new). */
  set(name: string, value: number | string, labels?: Readonly<Record<string, string>>): void;
  /** Removes a series (Prometheus marks it stale at the next scrape). */
  remove(name: string, labels?: Readonly<Record<string, string>>): void;
  /** Scrapes served so far. */
  scrapes(): number;
}

export interface PrometheusServer {
  readonly pid: number;
  /** `http://127.0.0.1:<port>`. */
  readonly endpoint: string;
  readonly exporter: GaugeExporter;
  /** An instant query straight through Prometheus's HTTP API (the tests' oracle, not the check). */
  query(promql: string): Promise<unknown>;
  /** Waits until `promql` returns one sample whose value is `expected` (as Prometheus writes it). */
  waitForValue(promql: string, expected: string, timeoutMs?: number): Promise<void>;
  /** Kills Prometheus (SIGKILL by pid), waits for its exit, closes the exporter, removes its directory. Idempotent. */
  stop(): Promise<void>;
}

function seriesKey(name: string, labels: Readonly<Record<string, string>>): string {
  const pairs = Object.entries(labels).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k}=${JSON.stringify(v)}`);
  return pairs.length === 0 ? name : `${name}{${pairs.join(',')}}`;
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  return typeof address === 'object' && address ? address.port : 0;
}

/** A port nothing listens on now (bound and released; Prometheus takes it right after). */
async function freePort(): Promise<number> {
  const probe = createNetServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', () => resolve()));
  const address = probe.address();
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return typeof address === 'object' && address ? address.port : 0;
}

async function startExporter(): Promise<{ exporter: GaugeExporter; close: () => Promise<void> }> {
  const series = new Map<string, { name: string; value: string }>();
  let scrapes = 0;
  const server = createServer((req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    scrapes++;
    const names = new Set([...series.values()].map((s) => s.name));
    const lines = [...names].flatMap((name) => [`# TYPE ${name} gauge`, ...[...series].filter(([, s]) => s.name === name).map(([key, s]) => `${key} ${s.value}`)]);
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(`${lines.join('\n')}\n`);
  });
  const port = await listen(server);
  const exporter: GaugeExporter = {
    port,
    set: (name, value, labels = {}) => void series.set(seriesKey(name, labels), { name, value: String(value) }),
    remove: (name, labels = {}) => void series.delete(seriesKey(name, labels)),
    scrapes: () => scrapes,
  };
  return {
    exporter,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * Starts the exporter and Prometheus; resolves once Prometheus is ready (its query API answers
 * only then) and has scraped the exporter (`up` == 1). Ready takes ~0.1 s here; the first scrape
 * ~5 s, because Prometheus 2.42 passes discovered targets (static ones included) to the scrape
 * manager on a fixed 5 s tick, with no flag to shorten it: share one server per test file.
 */
export async function startPrometheus(): Promise<PrometheusServer> {
  const binary = systemTool('prometheus');
  const dir = mkdtempSync(path.join(tmpdir(), 'faultd-prometheus-'));
  const { exporter, close } = await startExporter();
  const config = path.join(dir, 'prometheus.yml');
  writeFileSync(
    config,
    [
      'global:',
      '  scrape_interval: 1s',
      '  scrape_timeout: 1s',
      '  evaluation_interval: 1s',
      'scrape_configs:',
      '  - job_name: faultd-test',
      '    static_configs:',
      `      - targets: ['127.0.0.1:${exporter.port}']`,
      '',
    ].join('\n'),
  );
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const child = spawn(binary, [`--config.file=${config}`, `--storage.tsdb.path=${path.join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
    await close();
    rmSync(dir, { recursive: true, force: true });
  };
  const query = async (promql: string): Promise<unknown> => {
    const response = await fetch(`${endpoint}/api/v1/query?query=${encodeURIComponent(promql)}`, { signal: AbortSignal.timeout(2000) });
    return response.json();
  };
  const valueOf = async (promql: string): Promise<string | undefined> => {
    try {
      const answer = (await query(promql)) as { data?: { result?: { value?: [number, string] }[] } };
      const result = answer.data?.result;
      return result?.length === 1 ? result[0]?.value?.[1] : undefined;
    } catch {
      return undefined;
    }
  };
  const waitForValue = async (promql: string, expected: string, timeoutMs = 10_000): Promise<void> => {
    const deadline = performance.now() + timeoutMs;
    let last: string | undefined;
    while (performance.now() < deadline) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`prometheus exited: ${stderr}`);
      last = await valueOf(promql);
      if (last === expected) return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`${promql} is still ${String(last)} after ${timeoutMs} ms, not ${expected}`);
  };
  const ready = async (): Promise<boolean> => {
    try {
      return (await fetch(`${endpoint}/-/ready`, { signal: AbortSignal.timeout(1000) })).ok;
    } catch {
      return false;
    }
  };
  try {
    const readyBy = performance.now() + 20_000;
    while (!(await ready())) {
      if (child.exitCode !== null || child.signalCode !== null || performance.now() > readyBy) throw new Error('/-/ready never answered');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await waitForValue('up', '1', 20_000);
    return { pid: child.pid ?? 0, endpoint, exporter, query, waitForValue, stop };
  } catch (error) {
    await stop();
    throw new Error(`Prometheus did not become ready: ${error instanceof Error ? error.message : String(error)}; stderr: ${stderr}`);
  }
}
