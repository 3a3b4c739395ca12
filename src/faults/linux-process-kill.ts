// SPDX-License-Identifier: Apache-2.0
/**
 * linux-process-kill (Harness name and tunables): SIGTERM (SIGKILL with `forceKill`) to the
 * processes the selectors match (process/targets.ts). Each signal goes through a pidfd opened
 * after checking the process's start time (the addon's killProcess), so a reused pid is never
 * hit; on kernels without pidfds (before 5.3) by pid between two start-time checks (README,
 * "Kernels without pidfd"). faultd extensions: `signal`, `count`/`percentage`, `exclude`, and `interval` (kill the
 * matches again every interval for the duration: a supervisor's restarts are killed too). The
 * revert has nothing to undo; the ledger and the result list each process signalled.
 */
import { z } from 'zod';

import { FaultdError, messageOf } from '../errors.js';
import { signalPathNote } from '../host/features.js';
import { formatDurationMs } from '../units.js';
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
    interval: durationParam({ name: 'interval', default: '0s', max: MAX_DURATION_MS, description: `faultd extension: kill the matches again every interval for the duration (0: once; else at least ${MIN_INTERVAL_MS} ms)` }),
  };
}

const ProcessKillRevertSchema = z.object({
  faultId: z.string(),
  signal: z.string(),
  /** Each process signalled, recorded before its signal. */
  signalled: z.array(ProcessRecord).optional(),
  /** How many processes were signalled before the ones `signalled` lists (its bound). */
  earlier: z.number().int().nonnegative().optional(),
});
type ProcessKillRevert = z.infer<typeof ProcessKillRevertSchema>;

/** The shortest `interval`: each round reads every process of /proc. */
const MIN_INTERVAL_MS = 100;
/** The most processes the intent lists (the oldest are counted in `earlier`), so a supervisor restarting for 24 h cannot grow it without bound. */
const MAX_RECORDED = 200;

/** Signals that stop a process instead of ending it. */
const STOP_SIGNALS = ['SIGSTOP', 'SIGTSTP', 'SIGTTIN', 'SIGTTOU'];

/** The interval rounds of running kills, by fault id: the revert stops them (a round under way signals nothing more). */
const repeating = new Map<string, { timer: NodeJS.Timeout; stopped: boolean }>();

const identity = (p: { pid: number; startTime: number }): string => `${p.pid}@${p.startTime}`;

/** The processes the intent lists: the latest MAX_RECORDED, and how many came before them. */
class Recorded {
  #list: ProcessRecord[];
  #earlier = 0;
  readonly #seen: Set<string>;

  constructor(first: ProcessRecord[]) {
    this.#list = first;
    this.#seen = new Set(first.map(identity));
  }

  has(p: { pid: number; startTime: number }): boolean {
    return this.#seen.has(identity(p));
  }

  /** Adds `more`; the intent's fields now. */
  add(more: readonly ProcessRecord[]): { signalled: ProcessRecord[]; earlier?: number } {
    for (const p of more) this.#seen.add(identity(p));
    const all = [...this.#list, ...more];
    const dropped = Math.max(0, all.length - MAX_RECORDED);
    this.#earlier += dropped;
    this.#list = all.slice(dropped);
    return { signalled: this.#list, ...(this.#earlier ? { earlier: this.#earlier } : {}) };
  }
}

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
      if (v.interval > 0 && v.interval < MIN_INTERVAL_MS) c.addIssue({ code: 'custom', path: ['interval'], message: `must be 0s (once) or ${MIN_INTERVAL_MS}ms–${formatDurationMs(MAX_DURATION_MS)}` });
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
          const recorded = new Recorded(selection.targets.map(recordOf));
          const firstMatch = new Set(selection.targets.map(identity));
          let busy = false;
          const again = async (): Promise<void> => {
            let targets = selectProcesses(listProcesses(ctx.procRoot), selector, process.pid).targets;
            // Pids name processes, not whoever has the number now: only the first matches again.
            if (selector.processIDs?.length) targets = targets.filter((t) => firstMatch.has(identity(t)));
            if (!targets.length) return;
            const fresh = targets.filter((t) => !recorded.has(t));
            // A process matched for the first time is in the ledger before its signal.
            if (fresh.length) await recordApplied({ ...revert, ...recorded.add(fresh.map(recordOf)) });
            if (rounds.stopped) return;
            const more = signalAll(targets, signal, ctx);
            kills += more.filter((r) => r.outcome === 'signalled').length;
            ctx.logger.info({ signal, targets: more.map((r) => ({ pid: r.process.pid, startTime: r.process.startTime, cmdline: r.process.cmdline, outcome: r.outcome })) }, 'processes signalled again (interval)');
          };
          const rounds = {
            stopped: false,
            timer: setInterval(() => {
              if (busy || rounds.stopped) return;
              busy = true;
              again()
                .catch((error: unknown) => ctx.logger.error({ err: messageOf(error) }, 'interval round failed; the next one tries again'))
                .finally(() => (busy = false));
            }, p.interval),
          };
          repeating.set(faultId, rounds);
        }
        return { measure: () => `${kills} signalled (${signal})`, ended: new Promise<string>(() => undefined) };
      },
    };
  },
  revert(r) {
    const rounds = repeating.get(r.faultId);
    if (rounds) {
      rounds.stopped = true;
      clearInterval(rounds.timer);
    }
    repeating.delete(r.faultId);
    if (!r.signalled?.length) return Promise.resolve({ outcome: 'already-absent', detail: 'no process was signalled' });
    const list = `${r.signalled.map((s) => `${s.pid} (start ${s.startTime}, ${s.cmdline || s.comm})`).join(', ')}${r.earlier ? ` and ${r.earlier} earlier` : ''}`;
    return Promise.resolve({ outcome: 'reverted', detail: `nothing to undo; ${r.signal} was sent to ${list}${rounds ? '; the interval stopped' : ''}` });
  },
  support: (ctx) => ({ supported: true, notes: [signalPathNote(ctx.features.pidfd?.())] }),
});
