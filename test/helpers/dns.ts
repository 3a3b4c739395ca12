// SPDX-License-Identifier: Apache-2.0
/**
 * DNS for privileged tests: a real dnsmasq the test starts in its own namespace (killed by pid at
 * teardown) as the upstream, and `dig` as the oracle of what a client gets.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';

import { systemTool } from './netns.js';

const IP = systemTool('ip');

/**
 * Starts dnsmasq on `address`:53 in `ns`, answering each `records` name with its IPv4 address;
 * stopped at teardown. `wrapper` runs before it (e.g. setpriv, to run it as another user).
 */
export async function startDnsmasq(t: { teardown(fn: () => void): void }, ns: { name: string }, address: string, records: Readonly<Record<string, string>>, extra: readonly string[] = [], wrapper: readonly string[] = []): Promise<number> {
  const args = [
    'netns', 'exec', ns.name, ...wrapper, systemTool('dnsmasq'), '--no-daemon', '--conf-file=/dev/null', '--no-resolv', '--no-hosts', '--no-poll',
    '--port=53', `--listen-address=${address}`, '--bind-interfaces', '--pid-file=', ...Object.entries(records).map(([name, ip]) => `--address=/${name}/${ip}`), ...extra,
  ];
  // `ip netns exec` execs dnsmasq in place, so the child's pid is dnsmasq's.
  const server = spawn(IP, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  server.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  t.teardown(() => {
    server.kill('SIGKILL');
  });
  const first = Object.keys(records)[0] ?? 'localhost';
  for (let i = 0; i < 50; i += 1) {
    if (server.exitCode !== null) throw new Error(`dnsmasq exited: ${stderr}`);
    if (dig(ns, [`@${address}`, first]).status === 'NOERROR') return server.pid ?? 0;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`dnsmasq on ${address} does not answer: ${stderr}`);
}

export interface DigResult {
  /** NOERROR, NXDOMAIN, SERVFAIL, REFUSED…, or 'timeout' when no answer came. */
  readonly status: string;
  /** The answer section's records as `name TTL class type data`, TTL removed. */
  readonly answers: string[];
  /** An OPT pseudo-section was in the answer (EDNS kept). */
  readonly edns: boolean;
  /** The header flags (`qr rd ra`, `tc` when truncated). */
  readonly flags: string[];
  readonly text: string;
}

/** Runs `dig` in `ns` with one try of 1 s (+tcp etc. in `args`). */
export function dig(ns: { name: string }, args: readonly string[]): DigResult {
  const run = spawnSync(IP, ['netns', 'exec', ns.name, systemTool('dig'), '+time=1', '+tries=1', '+nocookie', ...args], { encoding: 'utf8' });
  const text = run.stdout;
  const status = /status: (\w+)/.exec(text)?.[1] ?? (/timed out|no servers could be reached/.test(text) ? 'timeout' : `unknown (${text.trim().slice(-200)})`);
  const section = /;; ANSWER SECTION:\n([\s\S]*?)\n\n/.exec(text)?.[1] ?? '';
  const answers = section.split('\n').filter(Boolean).map((line) => line.split(/\s+/).filter((_, i) => i !== 1).join(' '));
  const flags = (/;; flags: ([a-z ]+);/.exec(text)?.[1] ?? '').split(' ').filter(Boolean);
  return { status, answers, edns: text.includes('OPT PSEUDOSECTION'), flags, text };
}

/**
 * Gives `ns` its own resolv.conf with `servers`: `ip netns exec` bind-mounts
 * /etc/netns/<ns>/resolv.conf over /etc/resolv.conf for what it runs (faultd included), so the
 * host's own file is never touched. Removed at teardown.
 */
export function netnsResolvConf(t: { teardown(fn: () => void): void }, ns: { name: string }, servers: readonly string[]): void {
  const dir = `/etc/netns/${ns.name}`;
  mkdirSync(dir, { recursive: true });
  t.teardown(() => {
    rmSync(dir, { recursive: true, force: true });
    try {
      rmdirSync('/etc/netns');
    } catch {
      // another namespace's files are still there
    }
  });
  writeFileSync(`${dir}/resolv.conf`, servers.map((s) => `nameserver ${s}\n`).join(''));
}
