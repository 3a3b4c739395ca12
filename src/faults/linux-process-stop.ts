// SPDX-License-Identifier: Apache-2.0
/**
 * linux-process-stop (a faultd extension; chaosd and chaosblade have it): SIGSTOP the processes
 * the selectors match for the duration, verified by their state (T); the revert sends SIGCONT
 * through the same start-time-checked pidfds and verifies that none is still stopped. The
 * targets are in the ledger before the first SIGSTOP, so after a `kill -9` of faultd,
 * `revert --remnants` continues those that are still the same processes (pid and start time).
 */
import { z } from 'zod';

import { FaultdError } from '../errors.js';
import { signalPathNote } from '../host/features.js';
import { paramsObject } from './params.js';
import { ProcessRecord, recordOf } from './process/record.js';
import { checkSelector, selectorParams, signalNumber, toSelector } from './process/selector-params.js';
import { isStopped, STATE_WAIT_MS, stateOf, waitForState } from './process/process-state.js';
import { describeProcess, describeSelector, isExited, listProcesses, noTargetMessage, selectProcesses, type ProcessInfo } from './process/targets.js';
import { defineInjector, RevertError, type ActiveFault } from './types.js';

const ProcessStopRevertSchema = z.object({
  /** The processes stopped, recorded before the first SIGSTOP. */
  stopped: z.array(ProcessRecord).optional(),
});
type ProcessStopRevert = z.infer<typeof ProcessStopRevertSchema>;

export const linuxProcessStop = defineInjector({
  kind: 'linux-process-stop',
  summary: 'Stop (SIGSTOP) processes by id, command line or name for the duration; continue them at revert',
  paramAliases: { PROCESS_IDS: 'processIDs', PROCESS_COMMAND: 'processCommand', PROCESS_NAMES: 'processNames' },
  paramsSchema: () => paramsObject(selectorParams()).superRefine((v, c) => checkSelector(v, c)),
  paramDocs: () => Object.values(selectorParams()).map((p) => p.doc),
  revertSchema: ProcessStopRevertSchema,
  plan(_faultId, p, ctx) {
    const selector = toSelector(p);
    // A process stopped already (by someone else) is not ours to continue, and a zombie (left
    // out by selectProcesses) cannot be stopped nor continued: neither is signalled, counted as
    // stopped, or continued at revert.
    const select = () => {
      const selection = selectProcesses(listProcesses(ctx.procRoot), selector, process.pid);
      const stoppedAlready = selection.targets.filter((t) => isStopped(t.state));
      return { ...selection, targets: selection.targets.filter((t) => !stoppedAlready.includes(t)), leftOut: [...stoppedAlready, ...selection.exited] };
    };
    const leftOutNote = (leftOut: readonly ProcessInfo[]) => (leftOut.length ? `; left out: ${leftOut.map((t) => `${t.pid} (${isStopped(t.state) ? 'stopped already' : 'exited, a zombie'})`).join(', ')}` : '');
    const noTarget = (selection: ReturnType<typeof select>) => {
      const none = noTargetMessage(selector, { ...selection, exited: [] });
      return selection.leftOut.length && !selection.protectedMatches.length ? `${none} that can be stopped${leftOutNote(selection.leftOut)}` : `${none}${leftOutNote(selection.leftOut)}`;
    };
    const now = select();
    const revert: ProcessStopRevert = {};
    return {
      target: describeSelector(selector),
      changes: [now.targets.length ? `SIGSTOP ${now.targets.map(describeProcess).join(', ')} (matched again when the fault starts)${leftOutNote(now.leftOut)}` : `${noTarget(now)} now: the fault fails unless one does when it starts`],
      revertSteps: ['SIGCONT each stopped process that is still the same (pid and start time), then check that none is stopped'],
      revert,
      async apply(recordApplied): Promise<ActiveFault> {
        const selection = select();
        if (!selection.targets.length) throw new FaultdError('FAULTD_ERR_FAULT_APPLY', noTarget(selection));
        const stopped = selection.targets.map(recordOf);
        await recordApplied({ stopped });
        for (const t of stopped) ctx.native.killProcess(t.pid, t.startTime, signalNumber('SIGSTOP'));
        const notYet = await waitForState(stopped, isStopped, ctx.procRoot);
        if (notYet.length) throw new FaultdError('FAULTD_ERR_FAULT_APPLY', `${notYet.map((t) => t.pid).join(', ')} did not stop within ${STATE_WAIT_MS} ms`);
        // What the kernel shows now: a target that exited before its SIGSTOP took effect is not stopped.
        const held = stopped.filter((t) => isStopped(stateOf(t, ctx.procRoot)));
        const exited = stopped.filter((t) => !held.includes(t));
        if (!held.length) throw new FaultdError('FAULTD_ERR_FAULT_APPLY', `${describeSelector(selector)}: ${exited.map((t) => t.pid).join(', ')} exited before they could be stopped; nothing is stopped`);
        ctx.logger.info(
          {
            stopped: held.map((t) => ({ pid: t.pid, startTime: t.startTime, cmdline: t.cmdline })),
            ...(exited.length ? { exited: exited.map((t) => t.pid) } : {}),
            ...(selection.leftOut.length ? { leftOut: selection.leftOut.map((t) => ({ pid: t.pid, state: t.state })) } : {}),
          },
          'processes stopped',
        );
        return {
          measure: () => `${held.filter((t) => isStopped(stateOf(t, ctx.procRoot))).length}/${held.length} stopped`,
          ended: new Promise<string>(() => undefined),
        };
      },
    };
  },
  async revert(r, ctx) {
    const targets = r.stopped ?? [];
    if (!targets.length) return { outcome: 'already-absent', detail: 'no process was stopped' };
    // A target that exited since (a zombie not reaped yet) is gone, not continued.
    const outcomes = targets.map((t) => ({ t, outcome: isExited(stateOf(t, ctx.procRoot)) ? 'absent' : ctx.native.killProcess(t.pid, t.startTime, signalNumber('SIGCONT')) }));
    const still = await waitForState(targets, (state) => !isStopped(state), ctx.procRoot);
    if (still.length) {
      const pids = still.map((t) => t.pid).join(' ');
      throw new RevertError(`${still.map((t) => describeProcess(t)).join(', ')} still stopped after SIGCONT`, `process(es) ${pids} stopped (state T)`, `kill -CONT ${pids}`);
    }
    const continued = outcomes.filter((o) => o.outcome === 'signalled').map((o) => o.t);
    const gone = outcomes.filter((o) => o.outcome !== 'signalled').map((o) => o.t);
    if (!continued.length) return { outcome: 'already-absent', detail: `${gone.map((t) => t.pid).join(', ')} already gone (or the pid belongs to another process now)` };
    return { outcome: 'reverted', detail: `continued ${continued.map((t) => describeProcess(t)).join(', ')}${gone.length ? `; already gone: ${gone.map((t) => t.pid).join(', ')}` : ''}` };
  },
  support: (ctx) => ({ supported: true, notes: [`SIGSTOP/SIGCONT: ${signalPathNote(ctx.features.pidfd?.())}`, 'state checked in /proc/<pid>/stat'] }),
});
