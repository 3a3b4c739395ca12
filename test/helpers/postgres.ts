// SPDX-License-Identifier: Apache-2.0
/**
 * A real PostgreSQL server for a test file, from Debian's `postgresql` package: initdb in a temp
 * directory, listening only on a Unix socket in that directory (no TCP port), fsync off; stopped
 * and removed at teardown. As root it runs as the `postgres` user (or `nobody`): PostgreSQL
 * refuses to run as root. `startPostgres` answers a skip reason where the server is missing.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import pg from 'pg';

export const PG_BIN = process.env['FAULTD_TEST_PG_BIN'] ?? '/usr/lib/postgresql/15/bin';
const PORT = 5433;
const SUPERUSER = 'faultd';

export interface TestPostgres {
  /** The directory of the server's socket. */
  readonly socketDir: string;
  /** A new, empty database; returns its URL. */
  createDatabase(): Promise<string>;
  stop(): Promise<void>;
}

/** The uid/gid PostgreSQL runs as: this process's own, or as root the `postgres` user (else `nobody`). */
function serverUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  for (const name of ['postgres', 'nobody']) {
    try {
      const id = (flag: string) => Number(execFileSync('id', [flag, name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
      return { uid: id('-u'), gid: id('-g') };
    } catch {
      // no such user
    }
  }
  throw new Error('running as root, and neither a postgres nor a nobody user exists to run PostgreSQL as');
}

/** The command as `user` (setpriv execs it: the pid is the command's own). */
function asUser(user: { uid: number; gid: number } | undefined, command: string, args: readonly string[]): [string, string[]] {
  if (!user) return [command, [...args]];
  return ['setpriv', [`--reuid=${user.uid}`, `--regid=${user.gid}`, '--clear-groups', '--inh-caps=-all', command, ...args]];
}

/** Why PostgreSQL tests cannot run here, or undefined when they can. */
export function postgresMissing(): string | undefined {
  if (!existsSync(path.join(PG_BIN, 'initdb')) || !existsSync(path.join(PG_BIN, 'postgres'))) {
    return `PostgreSQL 15 is not installed (${PG_BIN}/initdb and postgres missing): apt-get install postgresql, or scripts/install-deps.sh`;
  }
  return undefined;
}

export function postgresUrl(socketDir: string, database: string): string {
  return `postgres://${SUPERUSER}@${encodeURIComponent(socketDir)}:${PORT}/${database}`;
}

async function waitForServer(socketDir: string, server: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (server.exitCode !== null) throw new Error(`postgres exited with ${server.exitCode}:\n${log()}`);
    const client = new pg.Client({ connectionString: postgresUrl(socketDir, 'postgres') });
    try {
      await client.connect();
      await client.end();
      return;
    } catch (error) {
      await client.end().catch(() => undefined);
      if (Date.now() > deadline) throw new Error(`postgres did not accept connections within 30 s: ${String(error)}\n${log()}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

/**
 * Starts a private PostgreSQL server, stopped and removed when `t` tears down. Tests run it
 * without syncing to disk (fsync, synchronous_commit and full_page_writes off); `durable` keeps
 * PostgreSQL's defaults, as a benchmark compares it with SQLite syncing each commit.
 */
export async function startPostgres(t: { teardown(fn: () => void | Promise<void>): void }, options: { durable?: boolean } = {}): Promise<TestPostgres> {
  const dir = mkdtempSync(path.join(tmpdir(), 'faultd-pg-'));
  const user = serverUser();
  let server: ChildProcess | undefined;
  const stop = async (): Promise<void> => {
    const running = server;
    server = undefined;
    if (running && running.exitCode === null) {
      const exited = new Promise((resolve) => running.once('exit', resolve));
      running.kill('SIGINT'); // fast shutdown: clients are disconnected
      // unref: a pending timer would hold the test process 10 s after the server has exited.
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 10_000).unref())]);
      if (running.exitCode === null) running.kill('SIGKILL');
    }
    rmSync(dir, { recursive: true, force: true });
  };
  t.teardown(stop);
  if (user) chownSync(dir, user.uid, user.gid);
  const data = path.join(dir, 'data');
  const [initdb, initArgs] = asUser(user, path.join(PG_BIN, 'initdb'), ['-D', data, '-U', SUPERUSER, '-A', 'trust', '--no-sync', '-E', 'UTF8', '--locale=C']);
  execFileSync(initdb, initArgs, { stdio: 'pipe', cwd: dir });
  const [postgres, args] = asUser(user, path.join(PG_BIN, 'postgres'), [
    '-D', data, '-k', dir, '-p', String(PORT), '-c', 'listen_addresses=', '-c', 'max_connections=200',
    ...(options.durable === true ? [] : ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off']),
  ]);
  let output = '';
  server = spawn(postgres, args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: dir });
  server.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  server.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  await waitForServer(dir, server, () => output);
  let made = 0;
  return {
    socketDir: dir,
    createDatabase: async () => {
      made += 1;
      const name = `hub_${process.pid}_${made}`;
      const admin = new pg.Client({ connectionString: postgresUrl(dir, 'postgres') });
      await admin.connect();
      try {
        await admin.query(`CREATE DATABASE ${name}`);
      } finally {
        await admin.end();
      }
      return postgresUrl(dir, name);
    },
    stop,
  };
}
