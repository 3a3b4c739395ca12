// SPDX-License-Identifier: Apache-2.0
/** Runs the built faultd CLI as a child process with its own state dir. */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';

import { stressorFile } from '../../src/native/load.js';
import { systemTool } from './netns.js';

const IP = systemTool('ip');

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const FAULTD_BIN = path.join(REPO_ROOT, 'bin', 'faultd.js');
/** The stressor src/native/load.ts picks (build/Release, or the prebuild by src/prebuilds.ts's rule). */
export const STRESSOR_BIN = stressorFile();

export interface Workspace {
  readonly dir: string;
  readonly stateDir: string;
  /** Writes a file in the workspace and returns its path. */
  file(name: string, text: string): string;
  remove(): void;
}

/**
 * A temporary directory with a state dir and an empty `config.yaml` (defaults), which the CLI
 * started by startCli reads instead of the host's /etc/faultd/config.yaml; tests overwrite it.
 */
export function workspace(): Workspace {
  const dir = mkdtempSync(path.join(tmpdir(), 'faultd-test-'));
  writeFileSync(path.join(dir, 'config.yaml'), '');
  return {
    dir,
    stateDir: path.join(dir, 'state'),
    file(name, text) {
      const file = path.join(dir, name);
      writeFileSync(file, text);
      return file;
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export type CliChild = ChildProcessByStdio<null, Readable, Readable>;

/** Starts the CLI; with `netns`, inside that network namespace (`ip netns exec`); `env` adds variables. */
export function startCli(args: readonly string[], stateDir: string, netns?: string, env: Record<string, string> = {}): CliChild {
  const argv = [process.execPath, FAULTD_BIN, ...args];
  const [command, ...rest] = netns ? [IP, 'netns', 'exec', netns, ...argv] : argv;
  return spawn(command ?? process.execPath, rest, cliOptions(stateDir, env));
}

function cliOptions(stateDir: string, env: Record<string, string> = {}) {
  return {
    env: { ...process.env, ...env, FAULTD_STATE_DIR: stateDir, FAULTD_CONFIG: path.join(path.dirname(stateDir), 'config.yaml') },
    stdio: ['ignore', 'pipe', 'pipe'] as ['ignore', 'pipe', 'pipe'],
  };
}

/**
 * Starts the CLI inside the cgroup directory `cgroupDir` (v1 or v2): a shell joins it, then
 * execs faultd, so faultd's own cgroup is that one from its first instruction.
 */
export function startCliInCgroup(cgroupDir: string, args: readonly string[], stateDir: string): CliChild {
  const script = 'echo $$ > "$0/cgroup.procs" && exec "$@"';
  return spawn('/bin/sh', ['-c', script, cgroupDir, process.execPath, FAULTD_BIN, ...args], cliOptions(stateDir));
}

/**
 * A workspace for tests that start `faultd run`: at teardown every faultd started through
 * `run` is SIGKILLed, what they left is reverted (`revert --remnants --force`) and the
 * workspace is removed, even when the test failed. `launch` starts the CLI (default startCli).
 */
export function runWorkspace(
  t: { teardown(fn: () => void | Promise<void>): void },
  launch: (args: readonly string[], stateDir: string) => CliChild = (args, stateDir) => startCli(args, stateDir),
): { ws: Workspace; run: (file: string, ...extra: string[]) => CliChild } {
  const ws = workspace();
  const children: CliChild[] = [];
  t.teardown(async () => {
    for (const child of children) child.kill('SIGKILL');
    await runCli(['revert', '--remnants', '--force'], ws.stateDir);
    ws.remove();
  });
  return {
    ws,
    run: (file, ...extra) => {
      const child = launch(['--log-format', 'json', 'run', ...extra, file], ws.stateDir);
      children.push(child);
      return child;
    },
  };
}

export function finish(child: CliChild): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

export function runCli(args: readonly string[], stateDir: string, netns?: string): Promise<CliResult> {
  return finish(startCli(args, stateDir, netns));
}

/** Resolves with the first stdout line matching `pattern` (rejects after `timeoutMs`). */
export function waitForLine(child: CliChild, pattern: RegExp, timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffer = '';
    const timer = setTimeout(() => reject(new Error(`no line matching ${String(pattern)} within ${timeoutMs} ms; got:\n${buffer}`)), timeoutMs);
    child.stdout.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      const line = buffer.split('\n').find((l) => pattern.test(l));
      if (line !== undefined) {
        clearTimeout(timer);
        resolve(line);
      }
    });
  });
}

/** A minimal faultd/v1 experiment with the given steps (each a list of fault objects). */
export function experimentYaml(steps: readonly (readonly Record<string, unknown>[])[]): string {
  return JSON.stringify({
    apiVersion: 'faultd/v1',
    kind: 'Experiment',
    metadata: { name: 'test' },
    spec: { steps: steps.map((faults) => ({ faults })) },
  });
}
