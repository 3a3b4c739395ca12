// SPDX-License-Identifier: Apache-2.0
/**
 * What each module the idle agent loads costs in resident memory: a fresh Node process imports
 * the module (and what it imports), collects garbage, and reports VmRSS; the figure is that
 * minus a bare Node's in the same run, median of BENCH_MODULE_RUNS processes (default 3).
 * Modules share dependencies, so the costs do not add up to the agent's RSS; the last two rows
 * are everything a worker loads (the full faultd) and everything the idle agent process loads.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';

import { percentile } from './stats.js';

const RUNS = Number(process.env['BENCH_MODULE_RUNS'] ?? 3);

const PROBE = `
const specs = JSON.parse(process.argv[1]);
for (const spec of specs) await import(spec);
globalThis.gc();
await new Promise((resolve) => setTimeout(resolve, 200));
globalThis.gc();
const status = (await import('node:fs')).readFileSync('/proc/self/status', 'utf8');
console.log(/VmRSS:\\s+(\\d+)/.exec(status)[1]);
`;

function rssKiB(root: string, specs: readonly string[]): number {
  const resolved = specs.map((s) => (s.startsWith('./') ? path.join(root, 'dist', s) : s));
  const out = spawnSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', PROBE, JSON.stringify(resolved)], { cwd: root, encoding: 'utf8' });
  if (out.status !== 0) throw new Error(`module cost probe of ${specs.join(', ')} failed: ${out.stderr}`);
  return Number(out.stdout.trim());
}

const ROWS: readonly (readonly [string, readonly string[]])[] = [
  ['node:https (+ tls)', ['node:https']],
  ['undici (the hub client)', ['undici']],
  ['zod (config, protocol, ledger schemas)', ['zod']],
  ['pino (logs)', ['pino']],
  ['yaml (config, experiments)', ['yaml']],
  ['commander (CLI)', ['commander']],
  ['every fault module (the registry)', ['./src/faults/registry.js']],
  ['the agent modules (src/agent, protocol)', ['./src/agent/agent.js']],
  ['all that a `faultd agent` worker (and the one-process agent) loads: main.ts\'s imports and cli/agent.ts\'s', ['./src/cli/hub-commands.js', './src/cli/service-commands.js', './src/config/config.js', './src/faults/registry.js', './src/log.js', './src/cli/agent.js']],
  ['all that the idle `faultd agent` process loads (idle-main.ts\'s imports)', ['./src/agent/idle-agent.js', './src/agent/workers.js', './src/agent/token-source.js', './src/lean-log.js', './src/host/systemd.js', './src/native/load.js', './src/command-verb.js']],
];

export function moduleCosts(root: string): string[] {
  const median = (specs: readonly string[]) => percentile(Array.from({ length: RUNS }, () => rssKiB(root, specs)), 0.5);
  const bare = median([]);
  const mib = (kib: number) => (kib / 1024).toFixed(1);
  return [
    `| module (with what it imports) | RSS over bare Node (MiB) |`,
    '|---|---|',
    `| bare Node | ${mib(bare)} (absolute) |`,
    ...ROWS.map(([label, specs]) => `| ${label} | +${mib(median(specs) - bare)} |`),
  ];
}
