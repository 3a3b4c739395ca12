// SPDX-License-Identifier: Apache-2.0
/** `faultd status`: what the ledger says is applied, and failed reverts with their manual fix. */
import { ownerAlive } from '../engine/recover.js';
import { foldLedger, isUnresolved } from '../ledger/ledger.js';
import { faultContext, openLedger, type CommandEnv } from './context.js';
import { EXIT, type ExitCode } from './exit-codes.js';

export async function statusCommand(flags: { json: boolean }, env: CommandEnv): Promise<ExitCode> {
  const ctx = faultContext(env);
  const ledger = openLedger(env);
  const replay = await ledger.replay();
  const entries = [...foldLedger(replay.records).values()].filter(isUnresolved);
  const rows = entries.map((e) => ({
    faultId: e.faultId,
    kind: e.intent.kind,
    target: e.intent.target,
    state: e.state,
    since: e.lastRecord.ts,
    owner: { ...e.intent.owner, alive: ownerAlive(e, ctx) },
    ...(e.lastRecord.event === 'revert-failed'
      ? { leftover: e.lastRecord.leftover, manualFix: e.lastRecord.manualFix, error: e.lastRecord.error.message }
      : {}),
  }));
  if (flags.json) {
    env.print(JSON.stringify({ ledger: ledger.file, faults: rows, invalidLines: replay.invalidLines }, null, 2));
    return EXIT.OK;
  }
  const out = [`Ledger ${ledger.file}`];
  if (rows.length === 0) out.push('Clean: no fault is applied and no revert has failed.');
  for (const r of rows) {
    const who = r.owner.alive ? `run by faultd pid ${r.owner.pid}` : `its faultd (pid ${r.owner.pid}) is gone: run \`faultd revert --remnants\``;
    out.push(`  ${r.state.toUpperCase()}  ${r.faultId}  ${r.kind}  ${r.target}  since ${r.since}  (${who})`);
    if (r.leftover !== undefined) out.push(`    left on the host: ${r.leftover}`, `    error: ${r.error ?? ''}`, `    fix by hand: ${r.manualFix ?? ''}`);
  }
  if (replay.invalidLines.length > 0) out.push(`Warning: ${replay.invalidLines.length} invalid ledger line(s) ignored: ${replay.invalidLines.map((l) => `line ${l.line}: ${l.reason}`).join('; ')}`);
  env.print(out.join('\n'));
  return EXIT.OK;
}
