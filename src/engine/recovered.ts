// SPDX-License-Identifier: Apache-2.0
/**
 * What `revert --remnants` reverted, kept for the agent that starts after it:
 * `<stateDir>/recovered.jsonl`. Under systemd, `ExecStartPre=faultd revert --remnants` cleans
 * the host before the agent process exists (and compacts the ledger), so without this file the
 * agent could not say, in an interrupted run's result, which faults were left and how their
 * revert went. The agent clears it once every interrupted run has been reported. Bounded to the
 * newest MAX_LINES reports.
 */
import { appendFileSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';

import { z } from 'zod';

import { replaceFileDurably } from '../host/durable-file.js';
import type { RemnantReport } from './recover.js';

export const RECOVERED_FILE = 'recovered.jsonl';
const MAX_LINES = 1000;

const Report = z.object({
  runId: z.string(),
  faultId: z.string(),
  kind: z.string(),
  target: z.string(),
  result: z.union([
    z.object({ ok: z.boolean(), detail: z.string(), leftover: z.string().exactOptional(), manualFix: z.string().exactOptional() }),
    z.object({ skipped: z.string() }),
  ]),
});

/** Appends `reports` (those that reverted or failed; skipped ones are not recoveries). */
export function recordRecovered(stateDir: string, reports: readonly RemnantReport[]): void {
  const done = reports.filter((r) => !('skipped' in r.result));
  if (done.length === 0) return;
  const file = path.join(stateDir, RECOVERED_FILE);
  appendFileSync(file, done.map((r) => `${JSON.stringify(r)}\n`).join(''), { mode: 0o600 });
  const lines = readFileSync(file, 'utf8').split('\n').filter(Boolean);
  if (lines.length > MAX_LINES) {
    // Trimmed through a temp file and a rename: a crash never leaves the reports half-written.
    replaceFileDurably(file, `${lines.slice(-MAX_LINES).join('\n')}\n`, 0o600);
  }
}

/** Every recorded report, oldest first; unreadable lines are skipped. */
export function readRecovered(stateDir: string): RemnantReport[] {
  let text: string;
  try {
    text = readFileSync(path.join(stateDir, RECOVERED_FILE), 'utf8');
  } catch {
    return [];
  }
  const reports: RemnantReport[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    try {
      const parsed = Report.safeParse(JSON.parse(line));
      if (parsed.success) reports.push(parsed.data);
    } catch {
      // a torn line from a crash mid-append
    }
  }
  return reports;
}

export function clearRecovered(stateDir: string): void {
  rmSync(path.join(stateDir, RECOVERED_FILE), { force: true });
}
