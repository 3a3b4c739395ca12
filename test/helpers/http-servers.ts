// SPDX-License-Identifier: Apache-2.0
/**
 * Real HTTP servers for the HTTP faults' tests and the bench: one Node process
 * (test/fixtures/http-server.ts) serving HTTP/1.1 with keep-alive and WebSocket upgrades, h2c, and
 * TLS with ALPN h2/http/1.1 under a self-signed certificate made by `openssl req -x509` in a
 * temporary directory. Started in a test's namespace (`ip netns exec`, which execs in place, so
 * the child's pid is the server's) or on this namespace's loopback; stopped by pid, its
 * directory removed, at teardown.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

import { systemTool } from './netns.js';

const SERVER_SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'http-server.js');

export interface HttpServerPorts {
  readonly http1: number;
  readonly h2c: number;
  readonly tls: number;
}

export interface HttpServersOptions {
  /** The namespace to run in; default: this process's, where only loopback is used. */
  readonly netns?: { readonly name: string };
  /** Listening address: default `::` (IPv4 and IPv6) in a namespace, 127.0.0.1 outside one. */
  readonly host?: string;
  /** Fixed ports; 0 or absent: an ephemeral port, reported in `ports`. */
  readonly ports?: Partial<HttpServerPorts>;
  /** subjectAltNames of the certificate besides localhost, 127.0.0.1 and ::1 (IP addresses or DNS names). */
  readonly certificateNames?: readonly string[];
  /** Log every request the servers answer, for `requests()` (the bench leaves it off). */
  readonly logRequests?: boolean;
  /** Pin the server to these CPUs (`taskset -c`), for the bench. */
  readonly cpus?: string;
}

export interface LoggedRequest {
  readonly server: 'http1' | 'h2c' | 'tls';
  readonly method: string;
  readonly target: string;
  readonly httpVersion: string;
}

export interface HttpServers {
  readonly pid: number;
  readonly host: string;
  readonly ports: HttpServerPorts;
  /** The self-signed certificate's PEM file: what a client trusts as its CA, or an interceptor presents. */
  readonly certificate: string;
  readonly key: string;
  /**
   * Requests the servers have answered so far, in order (with `logRequests`; the server logs each
   * one before answering it, so a request whose answer a client has is always listed).
   */
  requests(): LoggedRequest[];
  /** Kills the server (SIGKILL by pid), waits for its exit, removes its directory. Idempotent. */
  stop(): Promise<void>;
}

export interface Certificate {
  readonly certificate: string;
  readonly key: string;
}

/** A self-signed P-256 certificate for CN faultd-test with these subjectAltNames, written to `dir`. */
export function selfSignedCertificate(dir: string, names: readonly string[]): Certificate {
  const certificate = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  const san = ['localhost', '127.0.0.1', '::1', ...names].map((n) => (/^[\d.]+$|:/.test(n) ? `IP:${n}` : `DNS:${n}`)).join(',');
  const r = spawnSync(systemTool('openssl'), [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2',
    '-subj', '/CN=faultd-test', '-addext', `subjectAltName=${san}`, '-keyout', key, '-out', certificate,
  ], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl req -x509: ${r.stderr}`);
  return { certificate, key };
}

/** Starts the servers and resolves once all three listen. */
export async function startHttpServers(options: HttpServersOptions = {}): Promise<HttpServers> {
  const dir = mkdtempSync(path.join(tmpdir(), 'faultd-http-servers-'));
  const host = options.host ?? (options.netns ? '::' : '127.0.0.1');
  const { certificate, key } = selfSignedCertificate(dir, options.certificateNames ?? []);
  const ports = options.ports ?? {};
  const log = path.join(dir, 'requests.jsonl');
  const serverArgs = [
    SERVER_SCRIPT, `--host=${host}`, `--http1=${ports.http1 ?? 0}`, `--h2c=${ports.h2c ?? 0}`, `--tls=${ports.tls ?? 0}`,
    `--cert=${certificate}`, `--key=${key}`, `--parent-pid=${process.pid}`, ...(options.logRequests ? [`--log-requests=${log}`] : []),
  ];
  const command = [...(options.cpus ? [systemTool('taskset'), '-c', options.cpus] : []), process.execPath, ...serverArgs];
  const [file = '', ...argv] = options.netns ? [systemTool('ip'), 'netns', 'exec', options.netns.name, ...command] : command;
  const child = spawn(file, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const requests = (): LoggedRequest[] =>
    existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line) as LoggedRequest) : [];
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (!stopped) {
      stopped = true;
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    }
  };
  try {
    const listening = await new Promise<HttpServerPorts>((resolve, reject) => {
      createInterface({ input: child.stdout }).on('line', (line) => {
        const event = JSON.parse(line) as { event: string } & HttpServerPorts;
        if (event.event === 'listening') resolve({ http1: event.http1, h2c: event.h2c, tls: event.tls });
      });
      child.once('exit', (code, signal) => reject(new Error(`HTTP test servers exited (${String(code ?? signal)}): ${stderr}`)));
      child.once('error', reject);
    });
    return { pid: child.pid ?? 0, host, ports: listening, certificate, key, requests, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** startHttpServers, stopped at the test's teardown (even when the test fails). */
export async function httpServers(t: { teardown(fn: () => Promise<void>): void }, options: HttpServersOptions = {}): Promise<HttpServers> {
  const servers = await startHttpServers(options);
  t.teardown(() => servers.stop());
  return servers;
}

/** What a probe target answers (the test changes it between attempts). */
export interface ProbeTargetAnswer {
  readonly status: number;
  readonly body: string | Buffer;
  readonly contentType: string;
  /** Wait this long before answering. */
  readonly delayMs: number;
  /** Never answer (the request stays open until the client gives up). */
  readonly hang: boolean;
}

export interface ProbeTargetRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: string;
}

export interface ProbeTarget {
  /** `http://127.0.0.1:<port>` or `https://…`. */
  readonly origin: string;
  /** Sets what the next requests get (fields not given keep their value). */
  answer(answer: Partial<ProbeTargetAnswer>): void;
  /** Requests received so far, in order. */
  requests(): readonly ProbeTargetRequest[];
  /** TCP (or TLS) connections accepted so far, and how many of them the client has closed. */
  connections(): { readonly accepted: number; readonly closed: number };
}

/**
 * An HTTP/1.1 server in this process on 127.0.0.1 (HTTPS with `tls`) whose answer the test
 * flips, for the probes' checks; closed (every connection dropped) at the test's teardown.
 */
export async function probeTarget(t: { teardown(fn: () => Promise<void>): void }, options: { readonly tls?: Certificate } = {}): Promise<ProbeTarget> {
  let current: ProbeTargetAnswer = { status: 200, body: 'ok', contentType: 'text/plain', delayMs: 0, hang: false };
  const received: ProbeTargetRequest[] = [];
  let accepted = 0;
  let closed = 0;
  const timers = new Set<NodeJS.Timeout>();
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      received.push({ method: req.method ?? '', url: req.url ?? '', headers: { ...req.headers }, body: Buffer.concat(chunks).toString('utf8') });
      const answer = current;
      if (answer.hang) return;
      const send = (): void => {
        res.writeHead(answer.status, { 'content-type': answer.contentType });
        res.end(answer.body);
      };
      if (answer.delayMs <= 0) send();
      else {
        const timer = setTimeout(() => {
          timers.delete(timer);
          send();
        }, answer.delayMs);
        timers.add(timer);
      }
    });
  };
  const server = options.tls
    ? createHttpsServer({ cert: readFileSync(options.tls.certificate), key: readFileSync(options.tls.key) }, handler)
    : createServer(handler);
  server.keepAliveTimeout = 30_000;
  server.on(options.tls ? 'secureConnection' : 'connection', (socket: Socket) => {
    accepted++;
    socket.once('close', () => closed++);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  t.teardown(async () => {
    for (const timer of timers) clearTimeout(timer);
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    origin: `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    answer: (answer) => (current = { ...current, ...answer }),
    requests: () => received,
    connections: () => ({ accepted, closed }),
  };
}
