// SPDX-License-Identifier: Apache-2.0
/**
 * The NFQUEUE delayer under a bulk TCP stream (iperf3-style: one connection, the sender writes
 * as fast as it can), in two throwaway namespaces: throughput and probe RTT without a fault and
 * with faultd's 100 ms linux-network-latency (the delayer, on a kernel without netem), the
 * delayer's CPU time, and the packets it handled per second (from the kernel's
 * /proc/net/netfilter/nfnetlink_queue of the namespace).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { readLine } from './child-output.js';
import { faultdRunIn, netnsPair } from './netns-pair.js';
import { runTimeNs } from './proc.js';
import { median } from './stats.js';

const A = `fdbench-a-${process.pid}`;
const B = `fdbench-b-${process.pid}`;
const ADDR_A = '10.78.0.1';
const ADDR_B = '10.78.0.2';
const PORT = 5201;
const ECHO_PORT = 5202;
const WARMUP_MS = 4000;
const WINDOW_MS = 6000;
const DELAY_MS = 100;

const inNs = (ns: string, script: string, args: readonly string[]): ChildProcess =>
  spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', script, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });

const RECEIVER = `
const net = require('node:net');
const [port, warmupMs, windowMs] = process.argv.slice(1).map(Number);
let bytes = 0, counting = false;
net.createServer((s) => {
  s.on('data', (c) => { if (counting) bytes += c.length; });
  setTimeout(() => { counting = true; const t0 = process.hrtime.bigint();
    setTimeout(() => { const sec = Number(process.hrtime.bigint() - t0) / 1e9; process.stdout.write(JSON.stringify({ bytesPerSec: bytes / sec }) + '\\n'); process.exit(0); }, windowMs);
  }, warmupMs);
}).listen(port, () => process.stdout.write('ready\\n'));
`;
const SENDER = `
const s = require('node:net').connect(Number(process.argv[2]), process.argv[1], () => {
  const chunk = Buffer.alloc(128 * 1024, 7); const pump = () => { while (s.write(chunk)) {} }; s.on('drain', pump); pump();
});
s.on('error', () => process.exit(0)); setTimeout(() => process.exit(0), 60000);
`;
const ECHO = `
const s = require('node:dgram').createSocket('udp4'); s.on('message', (m, r) => s.send(m, r.port, r.address));
s.bind(Number(process.argv[1]), () => process.stdout.write('ready\\n')); setTimeout(() => process.exit(0), 120000);
`;
const PROBE = `
const [host, port, count, gap] = process.argv.slice(1); const c = require('node:dgram').createSocket('udp4');
const sent = new Map(), rtts = []; c.on('message', (m) => { const t = sent.get(m.toString()); if (t) rtts.push(Number(process.hrtime.bigint() - t) / 1e6); });
let i = 0; const tick = () => { if (i === Number(count)) return setTimeout(() => { process.stdout.write(JSON.stringify(rtts) + '\\n'); process.exit(0); }, 1500);
  const id = String(i++); sent.set(id, process.hrtime.bigint()); c.send(id, Number(port), host); setTimeout(tick, Number(gap)); }; tick();
`;

/** Packets the namespace's queues have seen so far (sum of id_sequence). */
function queuedPackets(): number {
  const r = spawnSync('ip', ['netns', 'exec', A, 'cat', '/proc/net/netfilter/nfnetlink_queue'], { encoding: 'utf8' });
  return r.stdout.split('\n').filter(Boolean).reduce((sum, line) => sum + Number(line.trim().split(/\s+/)[7] ?? 0), 0);
}

function delayerPid(): number | undefined {
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const argv = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0');
      if ((argv[0] ?? '').endsWith('faultd-stressor') && argv[1] === 'delay' && argv.some((a) => a.includes('-nfq-bench'))) return Number(name);
    } catch {
      // exited
    }
  }
  return undefined;
}

interface Phase {
  mbitPerSec: number;
  rttMs: number;
  cpuPct?: number;
  packetsPerSec?: number;
}

/** One stream B → A with RTT probes from A during the measurement window. */
async function phase(): Promise<Phase> {
  const receiver = inNs(A, RECEIVER, [String(PORT), String(WARMUP_MS), String(WINDOW_MS)]);
  await readLine(receiver, (l) => l === 'ready');
  const result = readLine(receiver, (l) => l.startsWith('{'));
  const sender = inNs(B, SENDER, [ADDR_A, String(PORT)]);
  await new Promise((resolve) => setTimeout(resolve, WARMUP_MS + 200));
  const pid = delayerPid();
  const cpu0 = pid ? runTimeNs([pid]) : 0;
  const packets0 = queuedPackets();
  const t0 = process.hrtime.bigint();
  const probe = inNs(A, PROBE, [ADDR_B, String(ECHO_PORT), '40', '100']);
  const rtts = JSON.parse(await readLine(probe, (l) => l.startsWith('['))) as number[];
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = pid ? (runTimeNs([pid]) - cpu0) / 1e9 / seconds : undefined;
  const packets = (queuedPackets() - packets0) / seconds;
  const { bytesPerSec } = JSON.parse(await result) as { bytesPerSec: number };
  sender.kill();
  return {
    mbitPerSec: (bytesPerSec * 8) / 1e6,
    rttMs: median(rtts),
    ...(cpu === undefined ? {} : { cpuPct: cpu * 100, packetsPerSec: packets }),
  };
}

export async function nfqueueDelayer(root: string): Promise<string[]> {
  const dir = mkdtempSync(path.join(tmpdir(), 'faultd-bench-nfq-'));
  const pair = netnsPair(A, B, ADDR_A, ADDR_B);
  const children: ChildProcess[] = [];
  try {
    const echo = inNs(B, ECHO, [String(ECHO_PORT)]);
    children.push(echo);
    await readLine(echo, (l) => l === 'ready');
    const base = await phase();
    const faultd = faultdRunIn(A, root, dir, { apiVersion: 'faultd/v1', kind: 'Experiment', metadata: { name: 'nfq-bench' }, spec: { steps: [{ faults: [{ kind: 'linux-network-latency', name: 'nfq-bench', duration: '120s', params: { networkInterfaces: 'va', latency: DELAY_MS } }] }] } });
    children.push(faultd);
    await readLine(faultd, (l) => l.includes('fault applied'));
    const delayed = await phase();
    faultd.kill('SIGINT');
    await new Promise((resolve) => faultd.once('exit', resolve));
    // Per-namespace TCP buffer limits: the receiver's rmem and the sender's wmem bound the window.
    const sysctlMax = (ns: string, name: string) => Number(spawnSync('ip', ['netns', 'exec', ns, 'cat', `/proc/sys/net/ipv4/${name}`], { encoding: 'utf8' }).stdout.trim().split(/\s+/)[2] ?? 0);
    const windowMax = Math.min(sysctlMax(A, 'tcp_rmem'), sysctlMax(B, 'tcp_wmem'));
    const ceiling = (windowMax * 8) / 1e6 / ((DELAY_MS + base.rttMs) / 1000);
    const f = (n: number | undefined, digits = 1) => (n === undefined ? '–' : n.toFixed(digits));
    return [
      `| measure (one TCP stream B → A, ${WINDOW_MS / 1000} s after ${WARMUP_MS / 1000} s warm-up) | no fault | ${DELAY_MS} ms latency (NFQUEUE delayer) |`,
      '|---|---|---|',
      `| throughput (Mbit/s) | ${f(base.mbitPerSec, 0)} | ${f(delayed.mbitPerSec, 0)} |`,
      `| upper bound of one stream at this RTT: min(receiver tcp_rmem, sender tcp_wmem) = ${(windowMax / 2 ** 20).toFixed(1)} MiB per RTT (Mbit/s) | – | ${f(ceiling, 0)} |`,
      `| UDP probe RTT during the stream, median of 40 (ms) | ${f(base.rttMs, 2)} | ${f(delayed.rttMs, 2)} (added ${f(delayed.rttMs - base.rttMs, 2)}) |`,
      `| delayer CPU (% of one CPU) | – | ${f(delayed.cpuPct)} |`,
      `| packets through the queue (per second) | – | ${f(delayed.packetsPerSec, 0)} |`,
      '',
      `No baseline tool exists on this kernel (no sch_netem, so no \`tc qdisc … netem delay\`). A single TCP stream over a ${DELAY_MS} ms path is bounded by its window (buffer limits of the namespaces, minus the kernel's bookkeeping share), so the upper-bound row is what the delay itself allows; the delayer's cost is its CPU per packet and the RTT it adds beyond the ${DELAY_MS} ms asked while saturated.`,
    ];
  } finally {
    for (const child of children) child.kill('SIGKILL');
    pair.remove();
    rmSync(dir, { recursive: true, force: true });
  }
}
