// SPDX-License-Identifier: Apache-2.0
/**
 * The HTTP interceptor's cost for requests it passes through, on loopback in one throwaway
 * namespace (so the nf_tables redirect, too, stays out of the host's): the HTTP/1.1 test server
 * (test/helpers/http-servers.ts) answers GET /small (100 bytes), and wrk measures, per path,
 * (a) the latency of sequential keep-alive requests on one connection (p50, p99) and
 * (b) the request rate with 32 keep-alive connections, plus the proxy's CPU time per request:
 *   - direct to the server (the floor);
 *   - haproxy 2.6 as an HTTP proxy (mode http, server connections reused) and as a TCP proxy;
 *   - nginx as a reverse proxy (proxy_pass to an upstream with keepalive);
 *   - faultd's interceptor (`faultd-stressor http`, a latency fault of 0 ms on a path no request
 *     has, so every request is parsed, matched and passed through) asked on its own port, and
 *     behind an nf_tables output redirect of the server's port as the fault installs it —
 *     these two rows only when the built faultd-stressor has the `http` mode.
 * Every path is measured in each of BENCH_HTTP_ROUNDS rounds (interleaved; medians reported).
 * Peers' configurations go to a temporary directory; every process is killed by pid at the end.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { stressorFile } from '../src/native/load.js';
import { startHttpServers, type HttpServers } from '../test/helpers/http-servers.js';
import { readLine } from './child-output.js';
import { ip } from './netns-pair.js';
import { processTree, runTimeNs } from './proc.js';
import { median } from './stats.js';

const NS = `fdbench-http-${process.pid}`;
const SERVER_PORT = 8080;
const HAPROXY_HTTP_PORT = 8101;
const HAPROXY_TCP_PORT = 8102;
const NGINX_PORT = 8103;
const FAULTD_PORT = 8104;
const FAULTD_REDIRECT_PORT = 8105;
const MARK = 0x4fd7;
const CONNECTIONS = 32;
const LATENCY_S = Number(process.env['BENCH_HTTP_LATENCY_SECONDS'] ?? 3);
const THROUGHPUT_S = Number(process.env['BENCH_HTTP_SECONDS'] ?? 5);
const ROUNDS = Number(process.env['BENCH_HTTP_ROUNDS'] ?? 3);
const PATH = '/small';

/** wrk's report as JSON (latency in µs from its histogram; errors of every kind, non-2xx apart). */
const WRK_SCRIPT = `
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('{"requests":%d,"durationUs":%d,"p50":%d,"p99":%d,"errors":%d,"non2xx":%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout, e.status))
end
`;

interface WrkRun {
  readonly requests: number;
  readonly durationUs: number;
  readonly p50: number;
  readonly p99: number;
  readonly errors: number;
  readonly non2xx: number;
}

interface Sample {
  readonly p50: number;
  readonly p99: number;
  readonly rps: number;
  /** The proxy's CPU per request during the rate run (µs); undefined for direct. */
  readonly cpuUs: number | undefined;
  readonly errors: number;
}

interface Path {
  readonly label: string;
  readonly port: number;
  /** The proxy's pid (its process tree is charged), none for direct. */
  readonly pid?: number;
  /** Set up before this path's runs and undone after (the redirect). */
  readonly around?: { before(): void; after(): void };
}

const inNs = (args: readonly string[]) => spawnSync('ip', ['netns', 'exec', NS, ...args], { encoding: 'utf8', timeout: 120_000 });

function wrk(script: string, port: number, connections: number, seconds: number): WrkRun {
  const r = inNs(['wrk', '-t1', `-c${connections}`, `-d${seconds}s`, '--timeout', '2s', '-s', script, `http://127.0.0.1:${port}${PATH}`]);
  const line = r.stdout.split('\n').find((l) => l.startsWith('{'));
  if (!line) throw new Error(`wrk on port ${port}: ${r.stdout}${r.stderr}`);
  return JSON.parse(line) as WrkRun;
}

function measure(script: string, target: Path): Sample {
  target.around?.before();
  try {
    wrk(script, target.port, CONNECTIONS, 1);
    const latency = wrk(script, target.port, 1, LATENCY_S);
    const pids = target.pid === undefined ? [] : processTree(target.pid);
    const cpu0 = runTimeNs(pids);
    const rate = wrk(script, target.port, CONNECTIONS, THROUGHPUT_S);
    const cpuNs = runTimeNs(pids) - cpu0;
    return {
      p50: latency.p50,
      p99: latency.p99,
      rps: rate.requests / (rate.durationUs / 1e6),
      cpuUs: target.pid === undefined ? undefined : cpuNs / 1e3 / Math.max(1, rate.requests),
      errors: latency.errors + latency.non2xx + rate.errors + rate.non2xx,
    };
  } finally {
    target.around?.after();
  }
}

/** Polls GET /small through `port` until it answers 200. */
async function answering(port: number, child: ChildProcess): Promise<void> {
  for (let i = 0; i < 100; i += 1) {
    if (child.exitCode !== null) throw new Error(`exited (${child.exitCode}) before answering on ${port}`);
    if (inNs(['curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', `http://127.0.0.1:${port}${PATH}`]).stdout === '200') return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`nothing answers on ${port}`);
}

function haproxyConfig(): string {
  return `global
  nbthread 1
  maxconn 4096
defaults
  timeout connect 5s
  timeout client 60s
  timeout server 60s
frontend http_in
  mode http
  bind 127.0.0.1:${HAPROXY_HTTP_PORT}
  default_backend http_out
backend http_out
  mode http
  http-reuse always
  server app 127.0.0.1:${SERVER_PORT}
frontend tcp_in
  mode tcp
  bind 127.0.0.1:${HAPROXY_TCP_PORT}
  default_backend tcp_out
backend tcp_out
  mode tcp
  server app 127.0.0.1:${SERVER_PORT}
`;
}

function nginxConfig(dir: string): string {
  return `daemon off;
master_process off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/nginx-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  upstream app { server 127.0.0.1:${SERVER_PORT}; keepalive 64; }
  server {
    listen 127.0.0.1:${NGINX_PORT};
    location / { proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
}
`;
}

/** The modes the built faultd-stressor lists in its usage error (an unknown mode names them all). */
function stressorModes(): string[] {
  const r = spawnSync(stressorFile(), ['--list-modes'], { encoding: 'utf8' });
  return (/one of ([^)]*)\)/.exec(`${r.stdout}${r.stderr}`)?.[1] ?? '').split(',').map((m) => m.trim());
}

/** faultd-stressor http passing everything through: a 0 ms latency fault on a path no request has. */
async function interceptor(port: number, upstream: readonly string[]): Promise<ChildProcess> {
  const child = spawn('ip', [
    'netns', 'exec', NS, stressorFile(), 'http', `--mark=${MARK}`, `--port=${port}`, ...upstream,
    '--action=latency', '--latency-ms=0', '--direction=both', '--path=/never-matches',
  ], { stdio: ['ignore', 'pipe', 'inherit'] });
  await readLine(child, (l) => l.includes('"ready"'));
  return child;
}

/** The redirect faultd's egress chain adds (its mark accepted first), on the server's port. */
function redirect(): { before(): void; after(): void } {
  const rules = `table ip fdbench {
  chain out {
    type nat hook output priority -100; policy accept;
    meta mark ${MARK} accept
    ip daddr 127.0.0.1 tcp dport ${SERVER_PORT} redirect to :${FAULTD_REDIRECT_PORT}
  }
}
`;
  return {
    before: () => {
      const r = spawnSync('ip', ['netns', 'exec', NS, 'nft', '-f', '-'], { input: rules, encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`nft: ${r.stderr}`);
    },
    after: () => {
      spawnSync('ip', ['netns', 'exec', NS, 'nft', 'delete', 'table', 'ip', 'fdbench']);
    },
  };
}

const loadAverage = (): string => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

export async function httpInterceptor(): Promise<string[]> {
  for (const tool of ['wrk', 'haproxy', 'nginx', 'curl']) {
    if (spawnSync(tool, ['-v']).error) throw new Error(`${tool} is missing: bash scripts/install-deps.sh --bench`);
  }
  const dir = mkdtempSync(path.join(tmpdir(), 'faultd-bench-http-'));
  const children: ChildProcess[] = [];
  let servers: HttpServers | undefined;
  const loadBefore = loadAverage();
  ip('netns', 'add', NS);
  try {
    ip('-n', NS, 'link', 'set', 'lo', 'up');
    const script = path.join(dir, 'report.lua');
    writeFileSync(script, WRK_SCRIPT);
    servers = await startHttpServers({ netns: { name: NS }, host: '127.0.0.1', ports: { http1: SERVER_PORT } });
    writeFileSync(path.join(dir, 'haproxy.cfg'), haproxyConfig());
    writeFileSync(path.join(dir, 'nginx.conf'), nginxConfig(dir));
    const start = (args: readonly string[]) => {
      const child = spawn('ip', ['netns', 'exec', NS, ...args], { stdio: ['ignore', 'ignore', 'inherit'] });
      children.push(child);
      return child;
    };
    const haproxy = start(['haproxy', '-db', '-f', path.join(dir, 'haproxy.cfg')]);
    const nginx = start(['nginx', '-p', `${dir}/`, '-e', `${dir}/nginx-error.log`, '-c', path.join(dir, 'nginx.conf')]);
    await answering(HAPROXY_HTTP_PORT, haproxy);
    await answering(HAPROXY_TCP_PORT, haproxy);
    await answering(NGINX_PORT, nginx);
    const paths: Path[] = [
      { label: 'direct to the server (floor)', port: SERVER_PORT },
      { label: 'haproxy, mode http (peer)', port: HAPROXY_HTTP_PORT, pid: haproxy.pid ?? 0 },
      { label: 'haproxy, mode tcp (peer, no HTTP parsing)', port: HAPROXY_TCP_PORT, pid: haproxy.pid ?? 0 },
      { label: 'nginx, proxy_pass with upstream keepalive (peer)', port: NGINX_PORT, pid: nginx.pid ?? 0 },
    ];
    const hasHttpMode = stressorModes().includes('http');
    if (hasHttpMode) {
      const own = await interceptor(FAULTD_PORT, [`--upstream=127.0.0.1:${SERVER_PORT}`]);
      const redirected = await interceptor(FAULTD_REDIRECT_PORT, []);
      children.push(own, redirected);
      paths.push(
        { label: 'faultd interceptor on its own port, --upstream (no redirect)', port: FAULTD_PORT, pid: own.pid ?? 0 },
        { label: 'faultd interceptor behind the nf_tables redirect (original destination)', port: SERVER_PORT, pid: redirected.pid ?? 0, around: redirect() },
      );
    }
    const samples = new Map<Path, Sample[]>(paths.map((p) => [p, []]));
    for (let round = 0; round < ROUNDS; round += 1) {
      for (const target of paths) {
        const sample = measure(script, target);
        samples.get(target)?.push(sample);
        console.log(`http round ${round + 1}: ${target.label}: ${JSON.stringify(sample)}`);
      }
    }
    const loadAfter = loadAverage();
    const summary = (target: Path) => {
      const list = samples.get(target) ?? [];
      const cpu = list.map((s) => s.cpuUs).filter((v): v is number => v !== undefined);
      return {
        p50: median(list.map((s) => s.p50)),
        p99: median(list.map((s) => s.p99)),
        rps: median(list.map((s) => s.rps)),
        cpuUs: cpu.length > 0 ? median(cpu) : undefined,
        errors: list.reduce((sum, s) => sum + s.errors, 0),
      };
    };
    const direct = summary(paths[0]!);
    const rows = paths.map((target) => {
      const s = summary(target);
      return `| ${target.label} | ${s.p50.toFixed(0)} | ${s.p99.toFixed(0)} | ${(s.p50 - direct.p50).toFixed(0)} | ${s.rps.toFixed(0)} | ${((100 * s.rps) / direct.rps).toFixed(0)} % | ${s.cpuUs === undefined ? '–' : s.cpuUs.toFixed(1)} | ${s.errors} |`;
    });
    const ratios: string[] = [];
    if (hasHttpMode) {
      const faultd = summary(paths[4]!);
      for (const peer of paths.slice(1, 4)) {
        const p = summary(peer);
        ratios.push(`- faultd (own port) against ${peer.label.replace(/ \(peer.*$/, '')}: added p50 ${(faultd.p50 - direct.p50).toFixed(0)} vs ${(p.p50 - direct.p50).toFixed(0)} µs, request rate ${(faultd.rps / p.rps).toFixed(2)}×, CPU per request ${((faultd.cpuUs ?? 0) / (p.cpuUs ?? 1)).toFixed(2)}×.`);
      }
    }
    return [
      `| path (GET ${PATH}, 100-byte response, HTTP/1.1 keep-alive, loopback in one namespace) | p50 (µs), 1 connection | p99 (µs), 1 connection | added p50 vs direct (µs) | requests/s, ${CONNECTIONS} connections | of direct | proxy CPU per request (µs) | errors |`,
      '|---|---|---|---|---|---|---|---|',
      ...rows,
      '',
      ...ratios,
      ...(ratios.length > 0 ? [''] : []),
      hasHttpMode
        ? 'faultd runs `faultd-stressor http --action=latency --latency-ms=0 --direction=both --path=/never-matches`: every request is parsed and matched, none is faulted.'
        : 'No faultd rows: this build\'s faultd-stressor has no `http` mode (the interceptor is not merged yet); the peers\' rows are the reference it will be compared with.',
      `Medians of ${ROUNDS} interleaved rounds; per round and path: 1 s warm-up with ${CONNECTIONS} connections, ${LATENCY_S} s of sequential requests on one connection (\`wrk -t1 -c1\`, its latency histogram), ${THROUGHPUT_S} s with ${CONNECTIONS} connections (\`wrk -t1 -c${CONNECTIONS}\`); errors are wrk's connect/read/write/timeout errors and non-2xx answers summed over all rounds. The server is one Node process (node:http); haproxy runs one thread, nginx one worker, each with one process. Nothing is pinned: wrk, the proxy and the server share this host's ${spawnSync('nproc', { encoding: 'utf8' }).stdout.trim()} CPUs, so a proxy takes CPU from the client and the server, and the rate "of direct" shows that as much as the proxy's own cost; the proxy's CPU per request (schedstat of its process during the rate run) is the cost without that. Load average (1, 5, 15 min) before: ${loadBefore}, after: ${loadAfter}.`,
    ];
  } finally {
    for (const child of children) child.kill('SIGKILL');
    await servers?.stop();
    spawnSync('ip', ['netns', 'del', NS]);
    rmSync(dir, { recursive: true, force: true });
  }
}
