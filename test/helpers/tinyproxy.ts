// SPDX-License-Identifier: Apache-2.0
/**
 * A real HTTP forward proxy for the agent's hub.proxy tests: Debian's tinyproxy in the foreground
 * (`tinyproxy -d -c <conf>`) on 127.0.0.1, with its own configuration in a temp dir, allowing
 * CONNECT only to the given ports. Its log (stderr) is kept across restarts, so a test can tell
 * which tunnels it opened. Killed by pid at teardown.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

export interface Tinyproxy {
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
  readonly port: number;
  /** Everything it logged so far (all runs). */
  log(): string;
  /** The targets (`host:port`) of the CONNECT requests it received, in order. */
  connects(): string[];
  /** Kills it (SIGKILL, by pid): open tunnels drop, new connections are refused. */
  kill(): Promise<void>;
  /** Starts it again on the same port. */
  restart(): Promise<void>;
}

/** A TCP port the kernel just had free on 127.0.0.1. */
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

const STARTUP_MS = 5000;

/** Starts tinyproxy on a free port of 127.0.0.1 allowing CONNECT to `connectPorts`; stopped at teardown. */
export async function startTinyproxy(t: { teardown(fn: () => void | Promise<void>): void }, connectPorts: readonly number[]): Promise<Tinyproxy> {
  const dir = mkdtempSync(path.join(tmpdir(), 'faultd-tinyproxy-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const port = await freePort();
  const conf = path.join(dir, 'tinyproxy.conf');
  writeFileSync(conf, [
    `Port ${port}`, 'Listen 127.0.0.1', 'Timeout 600', 'LogLevel Info', 'MaxClients 64', 'Allow 127.0.0.1', 'DisableViaHeader Yes',
    ...connectPorts.map((p) => `ConnectPort ${p}`), '',
  ].join('\n'));
  let log = '';
  let child: ChildProcess | undefined;

  const start = (): Promise<void> =>
    new Promise((resolve, reject) => {
      const proc = spawn('tinyproxy', ['-d', '-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
      child = proc;
      const timer = setTimeout(() => reject(new Error(`tinyproxy did not start within ${STARTUP_MS} ms:\n${log}`)), STARTUP_MS);
      const onData = (chunk: Buffer): void => {
        log += chunk.toString();
        if (/Accepting connections/.test(log.slice(log.lastIndexOf('Initializing tinyproxy')))) {
          clearTimeout(timer);
          resolve();
        }
      };
      proc.stdout.on('data', onData);
      proc.stderr.on('data', onData);
      proc.once('error', (error: Error & { code?: string }) => {
        clearTimeout(timer);
        reject(error.code === 'ENOENT' ? new Error('tinyproxy is not installed (scripts/install-deps.sh installs it)', { cause: error }) : error);
      });
      proc.once('exit', (code, signal) => {
        clearTimeout(timer);
        if (child === proc) child = undefined;
        reject(new Error(`tinyproxy exited (${code ?? signal ?? '?'}):\n${log}`));
      });
    });

  const kill = async (): Promise<void> => {
    const proc = child;
    if (!proc || proc.exitCode !== null) return;
    const exited = new Promise((resolve) => proc.once('exit', resolve));
    if (proc.pid !== undefined) process.kill(proc.pid, 'SIGKILL');
    await exited;
  };
  t.teardown(kill);
  await start();
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    log: () => log,
    connects: () => [...log.matchAll(/Request \(file descriptor \d+\): CONNECT (\S+) HTTP/g)].map((m) => m[1] ?? ''),
    kill,
    restart: start,
  };
}
