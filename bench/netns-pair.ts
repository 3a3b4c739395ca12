// SPDX-License-Identifier: Apache-2.0
/**
 * Two throwaway network namespaces joined by a veth pair (va in A, vb in B, both up with their
 * loopbacks), for the benchmarks that need a host and a peer; and `faultd run` started inside A.
 * `remove` deletes both namespaces (and with them every link and nft table in them).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';

export const ip = (...args: string[]): void => {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr}`);
};

export interface NetnsPair {
  readonly a: string;
  readonly b: string;
  readonly addressA: string;
  readonly addressB: string;
  remove(): void;
}

/** Namespaces `a` and `b`, with `addressA`/24 on va and `addressB`/24 on vb. */
export function netnsPair(a: string, b: string, addressA: string, addressB: string): NetnsPair {
  const remove = (): void => {
    spawnSync('ip', ['netns', 'del', a]);
    spawnSync('ip', ['netns', 'del', b]);
  };
  try {
    ip('netns', 'add', a);
    ip('netns', 'add', b);
    ip('-n', a, 'link', 'add', 'va', 'type', 'veth', 'peer', 'name', 'vb', 'netns', b);
    ip('-n', a, 'addr', 'add', `${addressA}/24`, 'dev', 'va');
    ip('-n', b, 'addr', 'add', `${addressB}/24`, 'dev', 'vb');
    for (const [ns, dev] of [[a, 'va'], [b, 'vb'], [a, 'lo'], [b, 'lo']] as const) ip('-n', ns, 'link', 'set', dev, 'up');
  } catch (error) {
    remove();
    throw error;
  }
  return { a, b, addressA, addressB, remove };
}

/** `faultd run <experiment>` inside `ns`, with its state and an empty config under `dir`; JSON logs on stdout. */
export function faultdRunIn(ns: string, root: string, dir: string, experiment: Record<string, unknown>): ChildProcess {
  writeFileSync(path.join(dir, 'config.yaml'), '');
  const file = path.join(dir, 'experiment.json');
  writeFileSync(file, JSON.stringify(experiment));
  const args = [process.execPath, path.join(root, 'bin/faultd.js'), '--state-dir', path.join(dir, 'state'), '--config', path.join(dir, 'config.yaml'), '--log-format', 'json', 'run', file];
  return spawn('ip', ['netns', 'exec', ns, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
}
