// SPDX-License-Identifier: Apache-2.0
/** `faultd faults`: every fault kind with its params, defaults, units and bounds. */
import { DEFAULT_DURATION } from '../experiment/schema.js';
import type { ParamDoc } from '../faults/types.js';
import { validationContext, type CommandEnv } from './context.js';
import { EXIT, type ExitCode } from './exit-codes.js';

/** Fields every fault has, outside `params`. */
export const COMMON_FIELDS: readonly ParamDoc[] = [
  { name: 'duration', type: 'duration', default: DEFAULT_DURATION, bounds: '1ms–24h', description: 'how long the fault stays applied ("1m25s", "500ms", or seconds)' },
  { name: 'rampTime', type: 'duration', default: '0s', bounds: '0s–1h', description: 'wait before and after injecting the fault (Harness meaning)' },
  { name: 'name', type: 'string', default: 's<step>-f<n>-<kind>', bounds: '[a-z0-9-], ≤ 63', description: 'fault id in logs, ledger and results' },
];

function table(rows: readonly ParamDoc[]): string[] {
  const header: ParamDoc = { name: 'param', type: 'type', default: 'default', bounds: 'bounds', description: 'meaning' };
  const all = [header, ...rows];
  const width = (pick: (r: ParamDoc) => string): number => Math.max(...all.map((r) => pick(r).length));
  const w = [width((r) => r.name), width((r) => r.type), width((r) => r.default ?? '-'), width((r) => r.bounds)];
  return all.map((r) =>
    `    ${r.name.padEnd(w[0] ?? 0)}  ${r.type.padEnd(w[1] ?? 0)}  ${(r.default ?? '-').padEnd(w[2] ?? 0)}  ${r.bounds.padEnd(w[3] ?? 0)}  ${r.description}`,
  );
}

export function faultsCommand(flags: { json: boolean }, env: CommandEnv): ExitCode {
  const ctx = validationContext(env);
  const kinds = [...env.registry.values()].map((m) => ({ kind: m.kind, summary: m.summary, params: m.paramDocs(ctx), aliases: m.paramAliases }));
  if (flags.json) {
    env.print(JSON.stringify({ common: COMMON_FIELDS, kinds }, null, 2));
    return EXIT.OK;
  }
  const out = ['Fields of every fault (next to `kind`; Harness-style inside `params` works too):', ...table(COMMON_FIELDS)];
  for (const k of kinds) {
    out.push('', `${k.kind}: ${k.summary}`, ...table(k.params));
    const aliases = Object.entries(k.aliases).map(([from, to]) => `${from}→${to}`);
    if (aliases.length) out.push(`    Harness spellings accepted: ${aliases.join(', ')}`);
  }
  out.push('', 'Bounds that depend on this host (CPUs, memory) are computed now; see `faultd doctor`.');
  env.print(out.join('\n'));
  return EXIT.OK;
}
