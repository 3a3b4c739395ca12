// SPDX-License-Identifier: Apache-2.0
/**
 * linux-process-kill (Harness name and tunables): SIGTERM (SIGKILL with `forceKill`) to the
 * processes the selectors match (process/targets.ts). Each signal goes through a pidfd opened
 * after checking the process's start time (the addon's killProcess), so a reused pid is never
 * hit. faultd extensions: `signal`, `count`/`percentage`, `exclude`, and `interval` (kill the
 * matches again every interval for the duration: a supervisor's restarts are killed too). The
 * revert has nothing to undo; the ledger and the result list each process signalled.
 */
import { z } from 'zod';

import { FaultdError } from '../errors.js';
import { booleanParam, durationParam, MAX_DURATION_MS, paramsObject, type Param } from './params.js';
import { ProcessRecord, recordOf } from './process/record.js';
import { checkSelector, selectorParams, signalName, signalNumber, toSelector } from './process/selector-params.js';
import { describeProcess, describeSelector, listProcesses, noTargetMessage, selectProcesses, type ProcessInfo, type ProcessSelector } from './process/targets.js';
import { defineInjector, type ActiveFault, type FaultContext } from './types.js';

function params() {
  return {
    ...selectorParams(),
    forceKill: booleanParam({ name: 'forceKill', default: false, description: 'SIGKILL instead of SIGTERM' }),
    signal: {
      schema: z
        .union([z.string(), z.number()], { error: 'must be a signal name or number, as "SIGHUP", "USR1" or 9' })
        .optional()
        .transform((v, c) => {
          if (v === undefined) return undefined;
          const name = signalName(v);
          if (!name) {
            c.addIssue({ code: 'custom', input: v, message: 'must be a signal name or number, as "SIGHUP", "USR1" or 9' });
            return z.NEVER;
          }
          return name;
        }),
      doc: { name: 'signal', type: 'signal', default: 'SIGTERM', bounds: 'a signal name or number', description: 'faultd extension: the signal to send (overrides forceKill)' },
    } as Param<string | undefined>,
    interval: durationParam({ name: 'interval', default: '0s', max: MAX_DURATION_MS, description: 'faultd extension: kill the matches again every interval for the duration (0: once)' }),
  };
}

const ProcessKillRevertSchema = z.object({
  faultId: z.string(),
  signal: z.string(),
  /** Each process signalled, recorded before its signal. */
  signalled: z.array(ProcessRecord).optional(),
});
type ProcessKillRevert = z.infer<typeof ProcessKillRevertSchema>;

/** Signals that stop a process instead of ending it. */
const STOP_SIGNALS = ['SIGSTOP', 'SIGTSTP', 'SIGTTIN', 'SIGTTOU'];

/** The interval timers of running kills, by fault id: the revert stops them. */
const repeating = new Map<string, NodeJS.Timeout>();

function signalAll(targets: readonly ProcessInfo[], signal: string, ctx: FaultContext): { process: ProcessInfo; outcome: string }[] {
  return targets.map((process) => ({ process, outcome: ctx.native.killProcess(process.pid, process.startTime, signalNumber(signal)) }));
}

export const linuxProcessKill = defineInjector({
  kind: 'linux-process-kill',
  summary: 'Kill processes by id, command line or name (SIGTERM, or SIGKILL with forceKill)',
  paramAliases: { PROCESS_IDS: 'processIDs', PROCESS_COMMAND: 'processCommand', PROCESS_NAMES: 'processNames', FORCE_KILL: 'forceKill' },
  paramsSchema: () =>
    paramsObject(params()).superRefine((v, c) => {
      checkSelector(v, c);
      if (v.signal !== undefined && v.forceKill && v.signal !== 'SIGKILL') c.addIssue({ code: 'custom', path: ['signal'], message: `${v.signal} contradicts forceKill: true (SIGKILL): give one of them` });
      // A stop signal would leave the targets stopped after the fault, with nothing to continue them.
      if (v.signal !== undefined && STOP_SIGNALS.includes(v.signal)) c.addIssue({ code: 'custom', path: ['signal'], message: `${v.signal} stops processes, and nothing here would continue them: use linux-process-stop, which sends SIGCONT at revert` });
    }),
  paramDocs: () => Object.values(params()).map((p) => p.doc),
  revertSchema: ProcessKillRevertSchema,
  plan(faultId, p, ctx) {
    const selector: ProcessSelector = toSelector(p);
    const signal = p.signal ?? (p.forceKill ? 'SIGKILL' : 'SIGTERM');
    const now = selectProcesses(listProcesses(ctx.procRoot), selector, process.pid);
    const revert: ProcessKillRevert = { faultId, signal };
    return {
      target: describeSelector(selector),
      changes: [
        now.targets.length ? `send ${signal} to ${now.targets.map(describeProcess).join(', ')} (matched again when the fault starts)` : `${noTargetMessage(selector, now)} now: the fault fails unless one does when it starts`,
        ...(p.interval > 0 ? [`and again to every match every ${p.interval} ms for the duration`] : []),
      ],
      revertSteps: ['nothing to undo (killed processes are not restarted by faultd); the interval, if any, stops'],
      revert,
      async apply(recordApplied): Promise<ActiveFault> {
        const selection = selectProcesses(listProcesses(ctx.procRoot), selector, process.pid);
        if (!selection.targets.length) throw new FaultdError('FAULTD_ERR_FAULT_APPLY', noTargetMessage(selector, selection));
        await recordApplied({ ...revert, signalled: selection.targets.map(recordOf) });
        const results = signalAll(selection.targets, signal, ctx);
        let kills = results.filter((r) => r.outcome === 'signalled').length;
        ctx.logger.info({ signal, targets: results.map((r) => ({ pid: r.process.pid, startTime: r.process.startTime, cmdline: r.process.cmdline, outcome: r.outcome })) }, 'processes signalled');
        if (p.interval > 0) {
          repeating.set(
            faultId,
            setInterval(() => {
              const again = selectProcesses(listProcesses(ctx.procRoot), selector, process.pid).targets;
              if (!again.length) return;
              const more = signalAll(again, signal, ctx);
              kills += more.filter((r) => r.outcome === 'signalled').length;
              ctx.logger.info({ signal, targets: more.map((r) => ({ pid: r.process.pid, startTime: r.process.startTime, cmdline: r.process.cmdline, outcome: r.outcome })) }, 'processes signalled again (interval)');
            }, p.interval),
          );
        }
        return { measure: () => `${kills} signalled (${signal})`, ended: new Promise<string>(() => undefined) };
      },
    };
  },
  revert(r) {
    const timer = repeating.get(r.faultId);
    if (timer) clearInterval(timer);
    repeating.delete(r.faultId);
    if (!r.signalled?.length) return Promise.resolve({ outcome: 'already-absent', detail: 'no process was signalled' });
    const list = r.signalled.map((s) => `${s.pid} (start ${s.startTime}, ${s.cmdline || s.comm})`).join(', ');
    return Promise.resolve({ outcome: 'reverted', detail: `nothing to undo; ${r.signal} was sent to ${list}${timer ? '; the interval stopped' : ''}` });
  },
  support: () => ({ supported: true, notes: ['signals through a pidfd opened after checking the start time (pidfd_open + pidfd_send_signal where the kernel has them)'] }),
});
