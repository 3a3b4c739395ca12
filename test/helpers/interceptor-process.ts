// SPDX-License-Identifier: Apache-2.0
/**
 * A `faultd-stressor` interceptor mode (`http`, `dns`) started by a test, here or in a test
 * namespace, SIGKILLed at teardown: resolves at its "ready" event with the port(s) its
 * "listening" event named, and keeps every line it printed (the stats lines too).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

import { STRESSOR_BIN } from './cli.js';
import { systemTool, type TestNetns } from './netns.js';

export interface InterceptorProcess {
  /** The first (HTTP: the only) port it listens on. */
  readonly port: number;
  /** Every port of its "listening" event (DNS: one per server). */
  readonly ports: readonly number[];
  readonly child: ChildProcess;
  /** Its stdout lines so far, growing while it runs. */
  readonly lines: string[];
  readonly exited: Promise<number | null>;
}

export interface Launched {
  /** Set when it said "ready". */
  readonly ready?: InterceptorProcess;
  /** Its exit code, when it exited before "ready". */
  readonly exitCode?: number | null;
  /** stdout and stderr lines, in the order each stream gave them (stdout first). */
  readonly lines: string[];
}

export interface LaunchOptions {
  /** Run in this namespace (`ip netns exec`). */
  readonly ns?: TestNetns;
  /** A command that execs the interceptor (e.g. `prlimit --nofile=24 --`). */
  readonly wrap?: readonly string[];
}

/** Starts `faultd-stressor <mode> <args>`; resolves at "ready", or with its exit code if it exits first. */
export function launchInterceptor(t: { teardown(fn: () => void): void }, mode: 'http' | 'dns', args: readonly string[], options: LaunchOptions = {}): Promise<Launched> {
  const argv = [mode, ...args];
  const [command, ...prefix] = options.ns ? [systemTool('ip'), 'netns', 'exec', options.ns.name] : (options.wrap ?? []);
  const child = command === undefined ? spawn(STRESSOR_BIN, argv, { stdio: ['ignore', 'pipe', 'pipe'] }) : spawn(command, [...prefix, STRESSOR_BIN, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const lines: string[] = [];
  const stderr: string[] = [];
  createInterface({ input: child.stderr }).on('line', (line) => stderr.push(line));
  return new Promise((resolve) => {
    let ports: number[] = [];
    createInterface({ input: child.stdout }).on('line', (line) => {
      lines.push(line);
      let event: { event?: string; port?: number; ports?: number[] };
      try {
        event = JSON.parse(line) as typeof event;
      } catch {
        return; // not an event line
      }
      if (event.event === 'listening') ports = event.ports ?? (event.port === undefined ? [] : [event.port]);
      if (event.event === 'ready') resolve({ ready: { port: ports[0] ?? 0, ports, child, lines, exited }, lines });
    });
    void exited.then((code) => resolve({ exitCode: code, lines: [...lines, ...stderr] }));
  });
}

/** launchInterceptor, failing the test's set-up (with what it printed) if it exits before "ready". */
export async function startInterceptor(t: { teardown(fn: () => void): void }, mode: 'http' | 'dns', args: readonly string[], options: LaunchOptions = {}): Promise<InterceptorProcess> {
  const launched = await launchInterceptor(t, mode, args, options);
  if (!launched.ready) throw new Error(`interceptor exited with ${String(launched.exitCode)}: ${launched.lines.join('\n')}`);
  return launched.ready;
}
