// SPDX-License-Identifier: Apache-2.0
/**
 * A bounded TCP throughput probe between two test namespaces: a receiver in B counts bytes on
 * `vb` over a measurement window while a sender in A pushes as fast as it can. Only addresses
 * inside the test's own namespaces are used; both sides stop by themselves.
 */
import { spawn } from 'node:child_process';

import type { NetnsPair } from './netns.js';

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
  const receiver = spawn('ip', ['netns', 'exec', pair.b.name, process.execPath, '-e', RECEIVER, String(o.port), String(o.warmupMs), String(o.windowMs)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  receiver.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
  await new Promise<void>((resolve, reject) => {
    receiver.stdout.on('data', () => out.includes('listening') && resolve());
    receiver.once('exit', () => reject(new Error(`receiver exited early: ${out}`)));
  });
  const seconds = Math.ceil((o.warmupMs + o.windowMs) / 1000) + 2;
  const sender = spawn('ip', ['netns', 'exec', pair.a.name, process.execPath, '-e', SENDER, pair.addressB, String(o.port), String(seconds)], { stdio: 'ignore' });
  try {
    await new Promise((resolve) => receiver.once('exit', resolve));
  } finally {
    sender.kill('SIGKILL');
  }
  const line = out.split('\n').find((l) => l.startsWith('{'));
  if (!line) throw new Error(`no measurement: ${out}`);
  return (JSON.parse(line) as { bytesPerSec: number }).bytesPerSec;
}
