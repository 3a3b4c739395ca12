// SPDX-License-Identifier: Apache-2.0
/**
 * Runs left by earlier agent processes: at start, before the agent asks for new work, each run
 * journal's remaining logs and result go to the hub (the hub starts an infrastructure's next run
 * only after the result of the previous one). A run without a result was cut short (the agent
 * was killed, or the host rebooted) and is reported as `interrupted`, with the remnants that
 * were reverted at start. Journals of another live agent on the same state dir are left to it.
 */
import type { Logger } from 'pino';

import type { RemnantReport, Session } from '../engine/session.js';
import { messageOf } from '../errors.js';
import type { ResultRequest } from '../protocol/messages.js';
import type { HubLink } from './hub-link.js';
import { RunOutbox } from './outbox.js';
import { deliverResult } from './result-delivery.js';
import { RunJournal, type JournalStart } from './run-journal.js';
import type { Shipper } from './shipper.js';

export interface EarlierRunsDeps {
  readonly session: Session;
  readonly link: HubLink;
  readonly shipper: Shipper;
  readonly logger: Logger;
  readonly stateDir: string;
  readonly onStatus?: (text: string) => void;
}

/** Whether `pid` exists (signal 0), for journals written without the agent's start time. */
function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as { code?: string }).code === 'EPERM';
  }
}

/** Delivers what every earlier agent process owed the hub; stops early when `shutdown` aborts. */
export async function finishEarlierRuns(deps: EarlierRunsDeps, shutdown: AbortSignal): Promise<void> {
  const { session, logger } = deps;
  let recovered: readonly RemnantReport[] | undefined;
  // What was reverted at start, by this process or by `revert --remnants` before it (read once).
  const remnants = (): readonly RemnantReport[] => (recovered ??= session.recoveredRemnants());
  for (const file of RunJournal.list(deps.stateDir)) {
    if (shutdown.aborted) return;
    let outbox: RunOutbox;
    let journal: RunJournal;
    try {
      const contents = RunJournal.read(file);
      journal = RunJournal.reopen(contents);
      outbox = RunOutbox.restore(contents.records, journal);
      if (contents.invalidLines) outbox.add('warn', `${contents.invalidLines} unreadable line(s) in the agent's journal of this run were skipped`);
    } catch (error) {
      logger.error({ file, err: messageOf(error) }, 'unreadable run journal; its logs cannot be sent (file left for inspection)');
      continue;
    }
    const start = outbox.start;
    if (!start) continue;
    if (start.bootId === session.bootId && start.pid !== process.pid && alive(session, start)) {
      logger.warn({ runId: start.runId, pid: start.pid }, 'a run journal of another live faultd agent on this state dir: left to it');
      journal.close();
      continue;
    }
    journal.onFailure((error) => logger.error({ runId: start.runId, err: messageOf(error) }, 'run journal write failed'));
    const result = outbox.result ?? interruptedResult(start, outbox, session.bootId, remnants());
    deps.onStatus?.(`reporting ${start.runId} (${result.verdict}) from an earlier agent process`);
    logger.info({ runId: start.runId, verdict: result.verdict }, 'sending what an earlier agent process owed the hub for this run');
    if (await deliverResult(deps, start.runId, outbox, result, shutdown)) journal.remove();
    else journal.close();
  }
  // Every interrupted run is reported: what was recovered for them is no longer needed.
  if (!shutdown.aborted) session.clearRecoveredRemnants();
}

/** Whether the agent process that started a journal still runs (pid and start time, so pid reuse cannot fool it). */
function alive(session: Session, start: JournalStart): boolean {
  if (start.startTime === undefined) return pidExists(start.pid);
  return session.processAlive(start.pid, start.startTime);
}

/** The result of a run that an earlier agent process never finished: what was reverted at start. */
function interruptedResult(start: JournalStart, outbox: RunOutbox, bootId: string, recovered: readonly RemnantReport[]): ResultRequest {
  const rebooted = start.bootId !== bootId;
  const why = rebooted ? 'interrupted by reboot' : `interrupted: the agent (pid ${start.pid}) stopped abruptly`;
  const remnants = recovered.filter((r) => r.runId === start.runId);
  const reverted = remnants.filter((r) => 'ok' in r.result && r.result.ok).length;
  const summary = remnants.length
    ? `${remnants.length} fault(s) left applied were reverted when the agent started again (${reverted} verified, ${remnants.length - reverted} failed: see the log)`
    : 'no fault of this run was left applied';
  outbox.add(rebooted ? 'warn' : 'error', `${why}; ${summary}`);
  const result: ResultRequest = {
    verdict: 'interrupted',
    reason: `${why}; ${summary}`,
    faults: remnants.map((r) => ({
      // The ledger keys a fault as `<runId>-<fault id>`; the result uses the experiment's id.
      faultId: r.faultId.startsWith(`${start.runId}-`) ? r.faultId.slice(start.runId.length + 1) : r.faultId,
      kind: r.kind,
      status: 'interrupted',
      revert: JSON.stringify(r.result).slice(0, 4000),
    })),
  };
  outbox.status({ phase: 'finished', detail: result.verdict });
  outbox.setResult(result);
  return result;
}
