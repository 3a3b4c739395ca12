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
 * The same for h2c (HTTP/2 with prior knowledge) with h2load against the Node h2c server: direct,
 * haproxy with h2 on both sides, nginx (h2c in, HTTP/1.1 to the upstream: it has no h2 upstream),
 * and the interceptor on its own port when it bridges h2c (probed with one request first); its
 * rate with 32 streams in flight on one connection.
 * Every path is measured in each of BENCH_HTTP_ROUNDS rounds (interleaved; medians reported).
 * Peers' configurations go to a temporary directory; every process is killed by pid at the end.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { stressorFile } from '../src/native/load.js';
import { startHttpServers, type HttpServers } from '../test/helpers/http-servers.js';
import { systemTool } from '../test/helpers/netns.js';
import { readLine } from './child-output.js';
import { ip } from './netns-pair.js';
import { processTree, runTimeNs } from './proc.js';
import { median, percentile } from './stats.js';

const NS = `fdbench-http-${process.pid}`;
// Ports on the namespace's loopback: HTTP/1.1 81xx, h2c 811x.
const SERVER_PORT = 8080;
const HAPROXY_HTTP_PORT = 8101;
const HAPROXY_TCP_PORT = 8102;
const NGINX_PORT = 8103;
const FAULTD_PORT = 8104;
const FAULTD_REDIRECT_PORT = 8105;
const SERVER_H2C_PORT = 8082;
const HAPROXY_H2_PORT = 8111;
const NGINX_H2C_PORT = 8113;
const FAULTD_H2C_PORT = 8114;
const FAULTD_PROBE_PORT = 8115;
const MARK = 0x4fd7;
/** Requests in flight for the rate: HTTP/1.1 as that many connections, h2c as that many streams of one. */
const IN_FLIGHT = 32;
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

interface Sample {
  readonly p50: number;
  readonly p99: number;
  readonly rps: number;
  /** The proxy's CPU per request during the rate run (µs); undefined for direct. */
  readonly cpuUs: number | undefined;
  readonly errors: number;
}

type Protocol = 'http/1.1' | 'h2c';

interface Path {
  readonly label: string;
  /** floor: the direct row; peer: haproxy/nginx; faultd: compared with each peer. */
  readonly role: 'floor' | 'peer' | 'faultd' | 'other';
  readonly protocol: Protocol;
  readonly port: number;
  /** The proxy's pid (its process tree is charged), none for direct. */
  readonly pid?: number;
  /** Set up before this path's runs and undone after (the redirect). */
  readonly around?: { before(): void; after(): void };
}

/**
 * Every tool by its absolute system path: under `npm run bench`, node_modules/.bin comes first on
 * PATH, and its `nft` is @vercel/nft (a file tracer that exits 0 on `nft -f -`), so the redirect
 * row once ran with no redirect at all.
 */
const IP = systemTool('ip');
const nsArgs = ([tool = '', ...rest]: readonly string[]): string[] => ['netns', 'exec', NS, systemTool(tool), ...rest];
const inNs = (args: readonly string[]) => spawnSync(IP, nsArgs(args), { encoding: 'utf8', timeout: 120_000 });

interface Run {
  readonly requests: number;
  readonly seconds: number;
  readonly p50: number;
  readonly p99: number;
  readonly errors: number;
}

/** One wrk run (HTTP/1.1, keep-alive) with `connections` connections; latency from its histogram. */
function wrkRun(script: string, port: number, connections: number, seconds: number): Run {
  const r = inNs(['wrk', '-t1', `-c${connections}`, `-d${seconds}s`, '--timeout', '2s', '-s', script, `http://127.0.0.1:${port}${PATH}`]);
  const line = r.stdout.split('\n').find((l) => l.startsWith('{'));
  if (!line) throw new Error(`wrk on port ${port}: ${r.stdout}${r.stderr}`);
  const report = JSON.parse(line) as { requests: number; durationUs: number; p50: number; p99: number; errors: number; non2xx: number };
  return { requests: report.requests, seconds: report.durationUs / 1e6, p50: report.p50, p99: report.p99, errors: report.errors + report.non2xx };
}

/**
 * One h2load run (h2c with prior knowledge) with `inFlight` requests at once as streams of one
 * connection (how HTTP/2 is used); latency from its per-request log.
 */
function h2loadRun(log: string, port: number, inFlight: number, seconds: number): Run {
  rmSync(log, { force: true });
  const r = inNs(['h2load', '-c1', `-m${inFlight}`, '-D', String(seconds), `--log-file=${log}`, `http://127.0.0.1:${port}${PATH}`]);
  const rate = /finished in [\d.]+m?s, ([\d.]+) req\/s/.exec(r.stdout)?.[1];
  const counts = /requests: \d+ total, \d+ started, (\d+) done, \d+ succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/.exec(r.stdout);
  const codes = /status codes: \d+ 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/.exec(r.stdout);
  if (rate === undefined || !counts || !codes) throw new Error(`h2load on port ${port}: ${r.stdout}${r.stderr}`);
  const times = readFileSync(log, 'utf8').split('\n').filter(Boolean).map((line) => Number(line.split('\t')[2]));
  const sum = (values: readonly (string | undefined)[]) => values.reduce((total, v) => total + Number(v ?? 0), 0);
  const done = Number(counts[1]);
  return { requests: done, seconds: done / Number(rate), p50: percentile(times, 0.5), p99: percentile(times, 0.99), errors: sum(counts.slice(2)) + sum(codes.slice(1)) };
}

function measure(dir: string, target: Path): Sample {
  const run = (inFlight: number, seconds: number): Run =>
    target.protocol === 'h2c' ? h2loadRun(path.join(dir, 'h2load.log'), target.port, inFlight, seconds) : wrkRun(path.join(dir, 'report.lua'), target.port, inFlight, seconds);
  target.around?.before();
  try {
    const pids = target.pid === undefined ? [] : processTree(target.pid);
    const cpuStart = runTimeNs(pids);
    const warmUp = run(IN_FLIGHT, 1);
    const cpuWarm = runTimeNs(pids);
    const latency = run(1, LATENCY_S);
    const cpu0 = runTimeNs(pids);
    const rate = run(IN_FLIGHT, THROUGHPUT_S);
    const cpuNs = runTimeNs(pids) - cpu0;
    // A proxy that spent (almost) no CPU was not in the path (a redirect that did not apply).
    if (target.pid !== undefined && cpuNs / Math.max(1, rate.requests) < 500) {
      throw new Error(`${target.label}: ${cpuNs} ns of CPU for ${rate.requests} requests: not in the path (warm-up ${cpuWarm - cpuStart} ns for ${warmUp.requests}, sequential ${cpu0 - cpuWarm} ns for ${latency.requests})\n${pathDiagnostics()}`);
    }
    return {
      p50: latency.p50,
      p99: latency.p99,
      rps: rate.requests / rate.seconds,
      cpuUs: target.pid === undefined ? undefined : cpuNs / 1e3 / Math.max(1, rate.requests),
      errors: latency.errors + rate.errors,
    };
  } finally {
    target.around?.after();
  }
}

/** The namespace's nf_tables ruleset, its TCP conntrack entries to the server's port and its sockets: why a proxy was not in the path. */
function pathDiagnostics(): string {
  const text = (args: readonly string[]) => {
    let r: ReturnType<typeof inNs>;
    try {
      r = inNs(args);
    } catch (error) {
      return `(${args.join(' ')}: ${String(error)})`;
    }
    return `${r.stdout ?? ''}${r.status === 0 ? '' : `(${args.join(' ')}: exit ${r.status} ${r.stderr ?? ''})`}`;
  };
  const conntrack = text(['conntrack', '-L', '-p', 'tcp']).split('\n').filter((l) => l.includes(`dport=${SERVER_PORT}`));
  return [
    text(['nft', 'list', 'ruleset']),
    `${conntrack.length} conntrack entries to port ${SERVER_PORT}:`, ...conntrack.slice(0, 80),
    text(['ss', '-tan']).split('\n').slice(0, 120).join('\n'),
  ].join('\n');
}

/** `curl` through `port` with `protocol`: the HTTP status, or '' when nothing answered. */
const status = (port: number, protocol: Protocol): string =>
  inNs(['curl', '-s', '--max-time', '2', ...(protocol === 'h2c' ? ['--http2-prior-knowledge'] : []), '-o', '/dev/null', '-w', '%{http_code}', `http://127.0.0.1:${port}${PATH}`]).stdout;

/** Polls GET /small through `port` until it answers 200. */
async function answering(port: number, protocol: Protocol, child: ChildProcess): Promise<void> {
  for (let i = 0; i < 100; i += 1) {
    if (child.exitCode !== null) throw new Error(`exited (${child.exitCode}) before answering on ${port}`);
    if (status(port, protocol) === '200') return;
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
frontend h2_in
  mode http
  bind 127.0.0.1:${HAPROXY_H2_PORT} proto h2
  default_backend h2_out
backend h2_out
  mode http
  http-reuse always
  server app 127.0.0.1:${SERVER_H2C_PORT} proto h2
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
  keepalive_requests 100000000;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  upstream app { server 127.0.0.1:${SERVER_PORT}; keepalive 64; keepalive_requests 100000000; }
  server {
    listen 127.0.0.1:${NGINX_PORT};
    location / { proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
  server {
    listen 127.0.0.1:${NGINX_H2C_PORT} http2;
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
const PASS_THROUGH = ['--action=latency', '--latency-ms=0', '--direction=both', '--path=/never-matches'];

async function interceptor(port: number, upstream: readonly string[], fault: readonly string[] = PASS_THROUGH): Promise<ChildProcess> {
  const child = spawn(IP, [
    'netns', 'exec', NS, stressorFile(), 'http', `--mark=${MARK}`, `--port=${port}`, '--threads=1', ...upstream, ...fault,
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
      const r = spawnSync(IP, nsArgs(['nft', '-f', '-']), { input: rules, encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`nft: ${r.stderr}`);
      const listed = inNs(['nft', 'list', 'table', 'ip', 'fdbench']);
      if (!listed.stdout.includes(`redirect to :${FAULTD_REDIRECT_PORT}`)) {
        throw new Error(`nft -f exited 0 (stdout ${JSON.stringify(r.stdout)}, stderr ${JSON.stringify(r.stderr)}) but the table is not there: ${listed.status} ${listed.stdout}${listed.stderr}`);
      }
    },
    after: () => {
      spawnSync(IP, nsArgs(['nft', 'delete', 'table', 'ip', 'fdbench']));
    },
  };
}

const loadAverage = (): string => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

interface Summary {
  readonly p50: number;
  readonly p99: number;
  readonly rps: number;
  readonly cpuUs: number | undefined;
  readonly errors: number;
}

function summarise(list: readonly Sample[]): Summary {
  const cpu = list.map((s) => s.cpuUs).filter((v): v is number => v !== undefined);
  return {
    p50: median(list.map((s) => s.p50)),
    p99: median(list.map((s) => s.p99)),
    rps: median(list.map((s) => s.rps)),
    cpuUs: cpu.length > 0 ? median(cpu) : undefined,
    errors: list.reduce((sum, s) => sum + s.errors, 0),
  };
}

/** One protocol's table: its first path is the floor; faultd's rows are compared with each peer's. */
function table(title: string, paths: readonly Path[], summaries: ReadonlyMap<Path, Summary>): string[] {
  const direct = summaries.get(paths[0]!)!;
  const rows = paths.map((target) => {
    const s = summaries.get(target)!;
    return `| ${target.label} | ${s.p50.toFixed(0)} | ${s.p99.toFixed(0)} | ${(s.p50 - direct.p50).toFixed(0)} | ${s.rps.toFixed(0)} | ${((100 * s.rps) / direct.rps).toFixed(0)} % | ${s.cpuUs === undefined ? '–' : s.cpuUs.toFixed(1)} | ${s.errors} |`;
  });
  const faultd = paths.find((p) => p.role === 'faultd');
  const ratios: string[] = [];
  if (faultd) {
    const f = summaries.get(faultd)!;
    for (const peer of paths.filter((p) => p.role === 'peer')) {
      const s = summaries.get(peer)!;
      ratios.push(`- faultd on its own port against ${peer.label.replace(/ \(peer.*$/, '')}: added p50 ${(f.p50 - direct.p50).toFixed(0)} vs ${(s.p50 - direct.p50).toFixed(0)} µs, request rate ${(f.rps / s.rps).toFixed(2)}×, CPU per request ${((f.cpuUs ?? 0) / (s.cpuUs ?? 1)).toFixed(2)}×.`);
    }
  }
  return [
    `| ${title} | p50 (µs), sequential | p99 (µs), sequential | added p50 vs direct (µs) | requests/s, ${IN_FLIGHT} in flight | of direct | proxy CPU per request (µs) | errors |`,
    '|---|---|---|---|---|---|---|---|',
    ...rows,
    ...(ratios.length > 0 ? ['', ...ratios] : []),
    '',
  ];
}

export async function httpInterceptor(): Promise<string[]> {
  for (const tool of ['wrk', 'h2load', 'haproxy', 'nginx', 'curl', 'nft']) {
    try {
      systemTool(tool);
    } catch {
      throw new Error(`${tool} is missing: bash scripts/install-deps.sh --bench`);
    }
  }
  const dir = mkdtempSync(path.join(tmpdir(), 'faultd-bench-http-'));
  const children: ChildProcess[] = [];
  let servers: HttpServers | undefined;
  const loadBefore = loadAverage();
  ip('netns', 'add', NS);
  try {
    ip('-n', NS, 'link', 'set', 'lo', 'up');
    writeFileSync(path.join(dir, 'report.lua'), WRK_SCRIPT);
    servers = await startHttpServers({ netns: { name: NS }, host: '127.0.0.1', ports: { http1: SERVER_PORT, h2c: SERVER_H2C_PORT } });
    writeFileSync(path.join(dir, 'haproxy.cfg'), haproxyConfig());
    writeFileSync(path.join(dir, 'nginx.conf'), nginxConfig(dir));
    const start = (args: readonly string[]) => {
      const child = spawn(IP, nsArgs(args), { stdio: ['ignore', 'ignore', 'inherit'] });
      children.push(child);
      return child;
    };
    const haproxy = start(['haproxy', '-db', '-f', path.join(dir, 'haproxy.cfg')]);
    const nginx = start(['nginx', '-p', `${dir}/`, '-e', `${dir}/nginx-error.log`, '-c', path.join(dir, 'nginx.conf')]);
    await answering(HAPROXY_HTTP_PORT, 'http/1.1', haproxy);
    await answering(HAPROXY_TCP_PORT, 'http/1.1', haproxy);
    await answering(HAPROXY_H2_PORT, 'h2c', haproxy);
    await answering(NGINX_PORT, 'http/1.1', nginx);
    await answering(NGINX_H2C_PORT, 'h2c', nginx);
    const h1: Path[] = [
      { label: 'direct to the server (floor)', role: 'floor', protocol: 'http/1.1', port: SERVER_PORT },
      { label: 'haproxy, mode http (peer)', role: 'peer', protocol: 'http/1.1', port: HAPROXY_HTTP_PORT, pid: haproxy.pid ?? 0 },
      { label: 'haproxy, mode tcp (peer, no HTTP parsing)', role: 'peer', protocol: 'http/1.1', port: HAPROXY_TCP_PORT, pid: haproxy.pid ?? 0 },
      { label: 'nginx, proxy_pass with upstream keepalive (peer)', role: 'peer', protocol: 'http/1.1', port: NGINX_PORT, pid: nginx.pid ?? 0 },
    ];
    const h2: Path[] = [
      { label: 'direct to the h2c server (floor)', role: 'floor', protocol: 'h2c', port: SERVER_H2C_PORT },
      { label: 'haproxy, mode http, h2 in and out (peer)', role: 'peer', protocol: 'h2c', port: HAPROXY_H2_PORT, pid: haproxy.pid ?? 0 },
      { label: 'nginx, h2c in, HTTP/1.1 keepalive upstream (peer; nginx has no h2 upstream)', role: 'peer', protocol: 'h2c', port: NGINX_H2C_PORT, pid: nginx.pid ?? 0 },
    ];
    const hasHttpMode = stressorModes().includes('http');
    let h2Parsed = false;
    if (hasHttpMode) {
      const own = await interceptor(FAULTD_PORT, [`--upstream=127.0.0.1:${SERVER_PORT}`]);
      const redirected = await interceptor(FAULTD_REDIRECT_PORT, []);
      const ownH2 = await interceptor(FAULTD_H2C_PORT, [`--upstream=127.0.0.1:${SERVER_H2C_PORT}`]);
      children.push(own, redirected, ownH2);
      h1.push(
        { label: 'faultd interceptor on its own port, --upstream (no redirect)', role: 'faultd', protocol: 'http/1.1', port: FAULTD_PORT, pid: own.pid ?? 0 },
        { label: 'faultd interceptor behind the nf_tables redirect (original destination)', role: 'other', protocol: 'http/1.1', port: SERVER_PORT, pid: redirected.pid ?? 0, around: redirect() },
      );
      // Does this build parse h2c (the h2 work may not be merged), or relay it as opaque bytes?
      // An interceptor blocking every request with 418 tells: only a parsed request gets it.
      const probe = await interceptor(FAULTD_PROBE_PORT, [`--upstream=127.0.0.1:${SERVER_H2C_PORT}`], ['--action=block', '--status=418']);
      children.push(probe);
      h2Parsed = status(FAULTD_PROBE_PORT, 'h2c') === '418';
      probe.kill('SIGKILL');
      h2.push(h2Parsed
        ? { label: 'faultd interceptor on its own port, --upstream (no redirect)', role: 'faultd', protocol: 'h2c', port: FAULTD_H2C_PORT, pid: ownH2.pid ?? 0 }
        : { label: 'faultd interceptor on its own port, h2c relayed as opaque bytes (this build does not parse HTTP/2 yet: not comparable)', role: 'other', protocol: 'h2c', port: FAULTD_H2C_PORT, pid: ownH2.pid ?? 0 });
    }
    const paths = [...h1, ...h2];
    const samples = new Map<Path, Sample[]>(paths.map((p) => [p, []]));
    for (let round = 0; round < ROUNDS; round += 1) {
      for (const target of paths) {
        const sample = measure(dir, target);
        samples.get(target)?.push(sample);
        console.log(`http round ${round + 1}: ${target.protocol} ${target.label}: ${JSON.stringify(sample)}`);
      }
    }
    const loadAfter = loadAverage();
    const summaries = new Map(paths.map((p) => [p, summarise(samples.get(p) ?? [])]));
    return [
      ...table(`HTTP/1.1 path (GET ${PATH}, 100-byte response, keep-alive, wrk)`, h1, summaries),
      ...table(`h2c path (GET ${PATH}, prior knowledge, one connection, h2load)`, h2, summaries),
      hasHttpMode
        ? `faultd runs \`faultd-stressor http --threads=1 --action=latency --latency-ms=0 --direction=both --path=/never-matches\`: every request is parsed and matched, none is faulted.${h2Parsed ? '' : ' This build relays h2c untouched (a blocking interceptor let an h2c request through), so its h2c row measures a byte relay, not HTTP/2 interception.'}`
        : 'No faultd rows: this build\'s faultd-stressor has no `http` mode (the interceptor is not merged yet); the peers\' rows are the reference it will be compared with.',
      '',
      `All on loopback in one throwaway namespace. Medians of ${ROUNDS} interleaved rounds; per round and path: 1 s warm-up, ${LATENCY_S} s of sequential requests on one connection (wrk's latency histogram; h2load's per-request log), ${THROUGHPUT_S} s with ${IN_FLIGHT} in flight (\`wrk -t1 -c${IN_FLIGHT}\`: ${IN_FLIGHT} connections; \`h2load -c1 -m${IN_FLIGHT}\`: ${IN_FLIGHT} streams on one connection); errors are failed, timed-out and non-2xx requests summed over all rounds. The server is one Node process (node:http, node:http2); haproxy runs one thread, nginx one worker, each in one process. Nothing is pinned: the client, the proxy and the server share this host's ${spawnSync('nproc', { encoding: 'utf8' }).stdout.trim()} CPUs, so a proxy also takes CPU from the client and the server, and the rate "of direct" shows that as much as the proxy's own cost; the proxy's CPU per request (schedstat of its process during the rate run) is the cost without that. Load average (1, 5, 15 min) before: ${loadBefore}, after: ${loadAfter}.`,
    ];
  } finally {
    for (const child of children) child.kill('SIGKILL');
    await servers?.stop();
    spawnSync(IP, ['netns', 'del', NS]);
    rmSync(dir, { recursive: true, force: true });
  }
}
