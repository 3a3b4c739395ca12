// SPDX-License-Identifier: Apache-2.0
/**
 * A bounded TCP throughput probe between two test namespaces: a receiver in B counts bytes on
 * `vb` over a measurement window while a sender in A pushes as fast as it can. Only addresses
 * inside the test's own namespaces are used; both sides stop by themselves.
 */
import { spawn } from 'node:child_process';

import type { ExecutionContext } from 'ava';

import { systemTool, type NetnsPair } from './netns.js';

const IP = systemTool('ip');

const RECEIVER = `
const net = require('node:net');
const fs = require('node:fs');
const [port, warmupMs, windowMs] = process.argv.slice(1).map(Number);
const rx = () => Number(fs.readFileSync('/sys/class/net/vb/statistics/rx_bytes', 'utf8'));
const server = net.createServer((socket) => {
  socket.resume();
  setTimeout(() => {
    const start = { bytes: rx(), at: process.hrtime.bigint() };
    setTimeout(() => {
      const bytes = rx() - start.bytes;
      const seconds = Number(process.hrtime.bigint() - start.at) / 1e9;
      process.stdout.write(JSON.stringify({ bytesPerSec: bytes / seconds }) + '\\n');
      process.exit(0);
    }, windowMs);
  }, warmupMs);
});
server.listen(port, () => process.stdout.write('listening\\n'));
setTimeout(() => process.exit(2), warmupMs + windowMs + 10000);
`;

const SENDER = `
const net = require('node:net');
const [host, port, seconds] = process.argv.slice(1);
const chunk = Buffer.alloc(64 * 1024, 7);
const socket = net.connect(Number(port), host, () => {
  const pump = () => { while (socket.write(chunk)) {} };
  socket.on('drain', pump);
  pump();
});
socket.on('error', () => process.exit(0));
setTimeout(() => process.exit(0), Number(seconds) * 1000);
`;

/** Link-layer bytes per second received on `vb` while A sends to B (steady window only). */
export async function measureThroughput(pair: NetnsPair, o: { warmupMs: number; windowMs: number; port: number }): Promise<number> {
  const receiver = spawn(IP, ['netns', 'exec', pair.b.name, process.execPath, '-e', RECEIVER, String(o.port), String(o.warmupMs), String(o.windowMs)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  receiver.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
  await new Promise<void>((resolve, reject) => {
    receiver.stdout.on('data', () => out.includes('listening') && resolve());
    receiver.once('exit', () => reject(new Error(`receiver exited early: ${out}`)));
  });
  const seconds = Math.ceil((o.warmupMs + o.windowMs) / 1000) + 2;
  const sender = spawn(IP, ['netns', 'exec', pair.a.name, process.execPath, '-e', SENDER, pair.addressB, String(o.port), String(seconds)], { stdio: 'ignore' });
  try {
    await new Promise((resolve) => receiver.once('exit', resolve));
  } finally {
    sender.kill('SIGKILL');
  }
  const line = out.split('\n').find((l) => l.startsWith('{'));
  if (!line) throw new Error(`no measurement: ${out}`);
  return (JSON.parse(line) as { bytesPerSec: number }).bytesPerSec;
}

const SERVER = `
const net = require('node:net');
const ports = process.argv.slice(1).map(Number);
let ready = 0;
for (const port of ports) net.createServer((s) => s.end('hi')).listen(port, () => { if (++ready === ports.length) process.stdout.write('ready\\n'); });
setTimeout(() => process.exit(0), 120000);
`;

const CONNECT = `
const net = require('node:net');
const [host, port, timeout] = process.argv.slice(1);
const s = net.connect(Number(port), host);
const t = setTimeout(() => { process.stdout.write('timeout'); process.exit(0); }, Number(timeout));
s.on('data', () => { clearTimeout(t); process.stdout.write('ok'); process.exit(0); });
s.on('error', (e) => { clearTimeout(t); process.stdout.write(e.code || 'error'); process.exit(0); });
`;

/** Starts TCP servers on `ports` in the namespace (answering "hi"); stopped at teardown. */
export async function startTcpServers(t: { teardown(fn: () => void): void }, ns: { name: string }, ports: readonly number[]): Promise<void> {
  const server = spawn(IP, ['netns', 'exec', ns.name, process.execPath, '-e', SERVER, ...ports.map(String)], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => server.kill('SIGKILL'));
  await new Promise<void>((resolve, reject) => {
    server.stdout.on('data', (c: Buffer) => c.toString().includes('ready') && resolve());
    server.once('exit', () => reject(new Error('server exited')));
  });
}

/** 'ok', 'timeout' or an error code, for a TCP connect from the namespace. */
export function tryConnect(ns: { name: string }, host: string, port: number, timeoutMs = 700): Promise<string> {
  const client = spawn(IP, ['netns', 'exec', ns.name, process.execPath, '-e', CONNECT, host, String(port), String(timeoutMs)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  client.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
  return new Promise((resolve) => client.once('exit', () => resolve(out)));
}

const UDP_SEND = `
const dgram = require('node:dgram');
const [host, port, count] = process.argv.slice(1).map((v, i) => (i === 0 ? v : Number(v)));
const s = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
let sent = 0;
const next = () => {
  if (sent >= count) { setTimeout(() => process.exit(0), 200); return; }
  const buf = Buffer.alloc(64); buf.writeUInt32BE(sent++);
  // A dropped send (EPERM) is just counted as sent. Paced, so the receiver never overflows.
  s.send(buf, port, host, () => (sent % 20 === 0 ? setTimeout(next, 2) : setImmediate(next)));
};
next();
`;

const UDP_COUNT = `
const dgram = require('node:dgram');
const [port, quietMs] = process.argv.slice(1).map(Number);
const s = dgram.createSocket({ type: 'udp4', recvBufferSize: 4 * 1024 * 1024 });
let got = 0; let timer;
const done = () => { process.stdout.write(JSON.stringify({ got }) + '\\n'); process.exit(0); };
s.on('message', () => { got++; clearTimeout(timer); timer = setTimeout(done, quietMs); });
s.bind(port, () => process.stdout.write('ready\\n'));
setTimeout(done, 30000);
`;

/** Sends `count` UDP datagrams from A to B and returns how many B received. */
export async function udpDelivered(pair: NetnsPair, o: { port: number; count: number; fromB?: boolean }): Promise<number> {
  const [sender, receiver, target] = o.fromB ? [pair.b, pair.a, pair.addressA] : [pair.a, pair.b, pair.addressB];
  const counter = spawn(IP, ['netns', 'exec', receiver.name, process.execPath, '-e', UDP_COUNT, String(o.port), '1000'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  counter.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
  await new Promise<void>((resolve) => counter.stdout.on('data', () => out.includes('ready') && resolve()));
  const send = spawn(IP, ['netns', 'exec', sender.name, process.execPath, '-e', UDP_SEND, target, String(o.port), String(o.count)], { stdio: 'ignore' });
  await new Promise((resolve) => send.once('exit', resolve));
  await new Promise((resolve) => counter.once('exit', resolve));
  const line = out.split('\n').find((l) => l.startsWith('{'));
  return line ? (JSON.parse(line) as { got: number }).got : 0;
}

/**
 * The share (%) of `count` UDP datagrams lost on the way A → B (B → A with `fromB`), logged next
 * to the `askedPct` of the loss fault under test.
 */
export async function udpLossPct(t: ExecutionContext, pair: NetnsPair, o: { port: number; count: number; fromB?: boolean; askedPct: number }): Promise<number> {
  const got = await udpDelivered(pair, o);
  const lossPct = (100 * (o.count - got)) / o.count;
  t.log(`lost ${lossPct.toFixed(1)} % of ${o.count} datagrams for ${o.askedPct} % asked`);
  return lossPct;
}

const PUSH_SERVER = `
const net = require('node:net');
const port = Number(process.argv[1]);
const chunk = Buffer.alloc(64 * 1024, 7);
net.createServer((s) => { const pump = () => { while (s.write(chunk)) {} }; s.on('drain', pump); s.on('error', () => {}); pump(); })
  .listen(port, () => process.stdout.write('ready\\n'));
setTimeout(() => process.exit(0), 60000);
`;

const PULL_CLIENT = `
const net = require('node:net');
const [host, port, warmupMs, windowMs] = process.argv.slice(1);
let bytes = 0; let start;
const s = net.connect(Number(port), host);
s.on('data', (c) => { if (start) bytes += c.length; });
setTimeout(() => { start = process.hrtime.bigint(); setTimeout(() => {
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  process.stdout.write(JSON.stringify({ bytesPerSec: bytes / seconds }) + '\\n'); process.exit(0);
}, Number(windowMs)); }, Number(warmupMs));
s.on('error', () => { process.stdout.write(JSON.stringify({ bytesPerSec: 0 }) + '\\n'); process.exit(0); });
`;

export interface PushWindow {
  readonly warmupMs: number;
  readonly windowMs: number;
}

/** Payload bytes per second B receives from a server in A that pushes on `port` (A's egress). */
export async function measurePush(t: { teardown(fn: () => void): void }, pair: NetnsPair, port: number, window: PushWindow = { warmupMs: 500, windowMs: 1500 }): Promise<number> {
  const server = spawn(IP, ['netns', 'exec', pair.a.name, process.execPath, '-e', PUSH_SERVER, String(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => server.kill('SIGKILL'));
  await new Promise<void>((resolve) => server.stdout.on('data', (c: Buffer) => c.toString().includes('ready') && resolve()));
  const client = spawn(IP, ['netns', 'exec', pair.b.name, process.execPath, '-e', PULL_CLIENT, pair.addressA, String(port), String(window.warmupMs), String(window.windowMs)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  client.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
  await new Promise((resolve) => client.once('exit', resolve));
  server.kill('SIGKILL');
  return (JSON.parse(out.trim().split('\n').pop() ?? '{"bytesPerSec":0}') as { bytesPerSec: number }).bytesPerSec;
}

/**
 * TCP payload bytes per second through a shaper that passes `wireBytesPerSec` of frames:
 * full-size segments carry MTU − 52 bytes (IP, TCP and timestamp headers) in MTU + 14 bytes.
 */
export function tcpGoodput(wireBytesPerSec: number, mtu = 1500): number {
  return (wireBytesPerSec * (mtu - 52)) / (mtu + 14);
}

/**
 * The steady payload rate of a shaped TCP push from A into B, and whether it is within
 * `tolerance` of `expected`. A stream through a tail-dropping queue can stall on one
 * retransmission timeout (200 ms or more), and a sender descheduled on a shared machine reads
 * low, so a reading outside the tolerance is followed by exactly one more, which is logged.
 */
export async function measureShapedPush(t: ExecutionContext, pair: NetnsPair, port: number, expected: number, tolerance = 0.1): Promise<{ rate: number; within: boolean }> {
  const window = { warmupMs: 1000, windowMs: 3000 };
  const within = (rate: number) => Math.abs(rate - expected) / expected <= tolerance;
  const first = await measurePush(t, pair, port, window);
  if (within(first)) return { rate: first, within: true };
  t.log(`first reading ${mbit(first)} Mbit/s was outside ${tolerance * 100} % of ${mbit(expected)}; measured again`);
  const second = await measurePush(t, pair, port, window);
  return { rate: second, within: within(second) };
}

/** Bytes per second as Mbit/s with two decimals, for test logs. */
export function mbit(bytesPerSec: number): string {
  return ((bytesPerSec * 8) / 1e6).toFixed(2);
}

const UDP_ECHO = `
const s = require('node:dgram').createSocket(process.argv[2]);
s.on('message', (m, r) => s.send(m, r.port, r.address));
s.bind(Number(process.argv[1]), process.argv[3] || undefined, () => process.stdout.write('ready\\n'));
setTimeout(() => process.exit(0), 120000);
`;

const UDP_PING = `
const [host, port, count, intervalMs, family] = process.argv.slice(1);
const c = require('node:dgram').createSocket(family);
const sent = new Map(); const rtts = [];
c.on('message', (m) => { const at = sent.get(m.toString()); if (at !== undefined) rtts.push(Number(process.hrtime.bigint() - at) / 1e6); });
let i = 0;
const tick = () => {
  if (i === Number(count)) { setTimeout(() => { process.stdout.write(JSON.stringify(rtts) + '\\n'); process.exit(0); }, 1000); return; }
  const id = String(i++); sent.set(id, process.hrtime.bigint()); c.send(id, Number(port), host); setTimeout(tick, Number(intervalMs));
};
tick();
`;

/**
 * Starts a UDP echo server in `ns` on `port` (stopped at teardown). Bound to `address` when
 * given, so its replies come from that address (an unbound socket answers from the primary one).
 */
export async function startUdpEcho(t: { teardown(fn: () => void): void }, ns: { name: string }, port: number, address?: string): Promise<void> {
  const family = address?.includes(':') ? 'udp6' : 'udp4';
  const server = spawn(IP, ['netns', 'exec', ns.name, process.execPath, '-e', UDP_ECHO, String(port), family, address ?? ''], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => server.kill('SIGKILL'));
  await new Promise<void>((resolve) => server.stdout.on('data', (c: Buffer) => c.toString().includes('ready') && resolve()));
}

/** Round-trip times (ms) of `count` UDP probes from `ns` to an echo server, one every `intervalMs`. */
export async function udpRtts(ns: { name: string }, host: string, port: number, o: { count: number; intervalMs: number }): Promise<number[]> {
  const family = host.includes(':') ? 'udp6' : 'udp4';
  const client = spawn(IP, ['netns', 'exec', ns.name, process.execPath, '-e', UDP_PING, host, String(port), String(o.count), String(o.intervalMs), family], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  client.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
  await new Promise((resolve) => client.once('exit', resolve));
  return JSON.parse(out.trim() || '[]') as number[];
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}
