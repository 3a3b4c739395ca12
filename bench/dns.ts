// SPDX-License-Identifier: Apache-2.0
/**
 * The DNS interceptor's cost, in two throwaway namespaces with dnsmasq in B as the upstream: a
 * client in A (one Node process, UDP) measures the latency of sequential queries (p50, p99)
 * and the answers per second with 64 queries in flight, for a name the fault does not target,
 * (1) sent directly to the upstream (the floor), (2) through faultd's linux-dns-error
 * redirect and interceptor (A's resolv.conf names the upstream, intercepted by default), (3) through dnsmasq in A as a forwarding proxy with its cache off
 * (the peer), all in the same run, and through the interceptor asked on its own port (no nat); and for the targeted name answered by the interceptor itself.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';

import { readLine } from './child-output.js';
import { faultdRunIn, netnsPair } from './netns-pair.js';
import { systemTool } from '../test/helpers/netns.js';
import { mkdirSync, mkdtempSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const IP = systemTool('ip');

const A = `fdbench-dns-a-${process.pid}`;
const B = `fdbench-dns-b-${process.pid}`;
const ADDR_B = '10.79.0.2';
const PROXY_PORT = 5300;
const SEQUENTIAL = 3000;
const IN_FLIGHT = 64;
const WINDOW_MS = 3000;


// A UDP DNS client: sequential latency (ms per query) and answers per second with N in flight.
const CLIENT = `
const dgram = require('node:dgram');
const [host, port, name, sequential, inFlight, windowMs] = process.argv.slice(1);
const labels = name.split('.').flatMap((l) => [Buffer.from([l.length]), Buffer.from(l)]);
const query = (id) => Buffer.concat([Buffer.from([id >> 8, id & 255, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]), ...labels, Buffer.from([0, 0, 1, 0, 1])]);
const s = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
const pending = new Map(); let id = 0;
s.on('message', (m) => { const k = m.readUInt16BE(0); const done = pending.get(k); if (done) { pending.delete(k); done(); } });
const ask = () => new Promise((resolve) => { const k = (id = (id + 1) & 0xffff); const t = setTimeout(() => { pending.delete(k); resolve(false); }, 1000); pending.set(k, () => { clearTimeout(t); resolve(true); }); s.send(query(k), Number(port), host); });
(async () => {
  for (let i = 0; i < 200; i++) await ask();
  const lat = [];
  for (let i = 0; i < Number(sequential); i++) { const t0 = process.hrtime.bigint(); if (await ask()) lat.push(Number(process.hrtime.bigint() - t0) / 1e3); }
  let answered = 0; const end = Date.now() + Number(windowMs);
  let timeouts = 0; const worker = async () => { while (Date.now() < end) if (await ask()) answered++; else timeouts++; };
  const t0 = process.hrtime.bigint();
  await Promise.all(Array.from({ length: Number(inFlight) }, worker));
  const sec = Number(process.hrtime.bigint() - t0) / 1e9;
  lat.sort((a, b) => a - b);
  const q = (p) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))];
  process.stdout.write(JSON.stringify({ p50: q(0.5), p99: q(0.99), qps: answered / sec, lost: Number(sequential) - lat.length, timeouts }) + '\\n');
  process.exit(0);
})();
`;

interface Measured {
  readonly p50: number;
  readonly p99: number;
  readonly qps: number;
  readonly lost: number;
  readonly timeouts: number;
}

function measure(host: string, port: number, name: string): Measured {
  const r = spawnSync(IP, ['netns', 'exec', A, process.execPath, '-e', CLIENT, host, String(port), name, String(SEQUENTIAL), String(IN_FLIGHT), String(WINDOW_MS)], { encoding: 'utf8', timeout: 120_000 });
  const line = r.stdout.split('\n').find((l) => l.startsWith('{'));
  if (!line) throw new Error(`dns client: ${r.stdout}${r.stderr}`);
  return JSON.parse(line) as Measured;
}

function dnsmasq(ns: string, args: readonly string[]): ChildProcess {
  return spawn(IP, ['netns', 'exec', ns, systemTool('dnsmasq'), '--no-daemon', '--conf-file=/dev/null', '--no-hosts', '--pid-file=', '--bind-interfaces', ...args], { stdio: 'ignore' });
}

export async function dnsInterceptor(root: string): Promise<string[]> {
  const dir = mkdtempSync(path.join(tmpdir(), 'faultd-bench-dns-'));
  const pair = netnsPair(A, B, '10.79.0.1', ADDR_B);
  const children: ChildProcess[] = [];
  // A's resolv.conf names the upstream (`ip netns exec` mounts /etc/netns/A/resolv.conf over
  // /etc/resolv.conf for faultd): the fault intercepts it by default, no upstreamServer needed.
  const netnsEtc = `/etc/netns/${A}`;
  mkdirSync(netnsEtc, { recursive: true });
  writeFileSync(`${netnsEtc}/resolv.conf`, `nameserver ${ADDR_B}\n`);
  try {
    children.push(dnsmasq(B, ['--no-resolv', '--port=53', `--listen-address=${ADDR_B}`, '--address=/ok.test/10.0.0.1', '--address=/gone.test/10.0.0.2']));
    children.push(dnsmasq(A, ['--no-resolv', `--port=${PROXY_PORT}`, '--listen-address=127.0.0.1', `--server=${ADDR_B}`, '--cache-size=0']));
    await new Promise((resolve) => setTimeout(resolve, 500));
    const direct = measure(ADDR_B, 53, 'ok.test');
    const proxy = measure('127.0.0.1', PROXY_PORT, 'ok.test');
    const faultd = faultdRunIn(A, root, dir, { apiVersion: 'faultd/v1', kind: 'Experiment', metadata: { name: 'dns-bench' }, spec: { steps: [{ faults: [{ kind: 'linux-dns-error', duration: '300s', params: { hostNames: 'gone.test' } }] }] } });
    children.push(faultd);
    await readLine(faultd, (l) => l.includes('fault applied'));
    const through = measure(ADDR_B, 53, 'ok.test');
    // The interceptor alone, asked on its own port as the peer is (no redirect, no nat).
    // By its system path: under `npm run bench`, PATH starts with node_modules/.bin, whose `nft` is @vercel/nft.
    const table = spawnSync(IP, ['netns', 'exec', A, systemTool('nft'), '-j', 'list', 'table', 'inet', 'faultd'], { encoding: 'utf8' }).stdout;
    const port = Number(/"redirect":\s*\{\s*"port":\s*(\d+)/.exec(table)?.[1] ?? 0);
    if (port === 0) throw new Error(`no redirect port in ${table}`);
    const alone = measure('127.0.0.1', port, 'ok.test');
    const answered = measure(ADDR_B, 53, 'gone.test');
    faultd.kill('SIGINT');
    await new Promise((resolve) => faultd.once('exit', resolve));
    const us = (n: number) => n.toFixed(0);
    const row = (label: string, m: Measured) =>
      `| ${label} | ${us(m.p50)} | ${us(m.p99)} | ${us(m.p50 - direct.p50)} | ${m.qps.toFixed(0)} | ${((100 * m.qps) / direct.qps).toFixed(0)} % | ${m.lost} | ${m.timeouts} |`;
    return [
      `| path (UDP, A query, client and proxies in A, dnsmasq upstream in B) | p50 (µs) | p99 (µs) | added p50 vs direct (µs) | answers/s, ${IN_FLIGHT} in flight | of direct | lost of ${SEQUENTIAL} | unanswered in 1 s, in flight |`,
      '|---|---|---|---|---|---|---|---|',
      row('direct to the upstream (floor)', direct),
      row('passed through faultd (linux-dns-error redirect + interceptor)', through),
      row('passed through the interceptor alone, on its own port (no redirect)', alone),
      row('passed through dnsmasq as a forwarder, cache off (peer)', proxy),
      row('targeted name, answered NXDOMAIN by the interceptor', answered),
      '',
      `${SEQUENTIAL} sequential queries after 200 warm-up, then ${WINDOW_MS / 1000} s with ${IN_FLIGHT} in flight, one Node client (its own cost is in every row). The peer is queried on its own port (no redirect); faultd's row includes the nat redirect and conntrack of every query.`,
    ];
  } finally {
    for (const child of children) child.kill('SIGKILL');
    pair.remove();
    rmSync(dir, { recursive: true, force: true });
    rmSync(netnsEtc, { recursive: true, force: true });
    try {
      rmdirSync('/etc/netns');
    } catch {
      // other namespaces' files are still there
    }
  }
}
