// SPDX-License-Identifier: Apache-2.0
/**
 * Process faults against the classic tools, same targets, same run: linux-process-kill
 * (forceKill) request → target gone, next to `pkill -KILL -f`; linux-process-stop request →
 * state T in /proc, next to `pkill -STOP -f`. The targets are copies of sleep under a name of
 * the benchmark's own, started so that they are not its children. faultd's figure starts at its plan (the /proc scan included) and ends
 * when the bench sees the exit (or state T); pkill's includes its own start.
 */
import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { linuxProcessKill } from '../src/faults/linux-process-kill.js';
import { linuxProcessStop } from '../src/faults/linux-process-stop.js';
import type { FaultContext, InjectorModule } from '../src/faults/types.js';
import { median, percentile } from './stats.js';

const TRIALS = Number(process.env['BENCH_PROCESS_TRIALS'] ?? 20);

export type StartFault = (module: InjectorModule, params: Record<string, unknown>, ctx: FaultContext) => Promise<{ stop(): Promise<void> }>;

const nowMs = (): number => Number(process.hrtime.bigint()) / 1e6;

function stateOf(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
  } catch {
    return undefined;
  }
}

async function until(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((resolve) => setImmediate(resolve));
}

/** Gone, or a zombie its new parent has not reaped yet: either way the process is dead. */
const gone = (pid: number): boolean => {
  const state = stateOf(pid);
  return state === undefined || state === 'Z';
};

/**
 * A target that is not the benchmark's child (faultd never signals its own descendants, and
 * the bench runs faultd in its own process): started by a shell that exits at once.
 */
async function started(bin: string): Promise<number> {
  const shell = spawn('sh', ['-c', `${bin} 300 >/dev/null 2>&1 & echo $!`], { stdio: ['ignore', 'pipe', 'ignore'] });
  let out = '';
  shell.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  await new Promise((resolve) => shell.on('close', resolve));
  const pid = Number(out.trim());
  await until(() => readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(`${bin}\u{0}300`));
  return pid;
}

function row(label: string, ours: number[], theirs: number[]): string {
  const [a, b] = [median(ours), median(theirs)];
  return `| ${label} | ${a.toFixed(2)} / ${percentile(ours, 0.99).toFixed(2)} | ${b.toFixed(2)} / ${percentile(theirs, 0.99).toFixed(2)} | ${(a / b).toFixed(2)} |`;
}

export async function processFaults(ctx: FaultContext, startFault: StartFault): Promise<string[]> {
  const dir = mkdtempSync(path.join(tmpdir(), 'faultd-bench-proc-'));
  const bin = path.join(dir, `fdb${process.pid}`.slice(0, 15));
  copyFileSync('/bin/sleep', bin);
  const params = { processCommand: `${bin} 300` };
  const kill = { faultd: [] as number[], pkill: [] as number[] };
  const stop = { faultd: [] as number[], pkill: [] as number[] };
  try {
    for (let i = 0; i < TRIALS; i++) {
      let pid = await started(bin);
      let t0 = nowMs();
      const killFault = await startFault(linuxProcessKill, { ...params, forceKill: true }, ctx);
      await until(() => gone(pid));
      kill.faultd.push(nowMs() - t0);
      await killFault.stop();

      pid = await started(bin);
      t0 = nowMs();
      spawn('pkill', ['-KILL', '-f', `${bin} 300`], { stdio: 'ignore' });
      await until(() => gone(pid));
      kill.pkill.push(nowMs() - t0);

      pid = await started(bin);
      t0 = nowMs();
      const stopFault = await startFault(linuxProcessStop, params, ctx);
      await until(() => stateOf(pid) === 'T');
      stop.faultd.push(nowMs() - t0);
      await stopFault.stop();

      t0 = nowMs();
      spawn('pkill', ['-STOP', '-f', `${bin} 300`], { stdio: 'ignore' });
      await until(() => stateOf(pid) === 'T');
      stop.pkill.push(nowMs() - t0);
      process.kill(pid, 'SIGCONT');
      process.kill(pid, 'SIGKILL');
      await until(() => gone(pid));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return [
    `| ${TRIALS} trials each, ms (p50 / p99) | faultd | pkill | faultd / pkill (p50) |`,
    '|---|---|---|---|',
    row('linux-process-kill (forceKill) → target gone', kill.faultd, kill.pkill),
    row('linux-process-stop → state T', stop.faultd, stop.pkill),
    '',
    "faultd's figures include its plan (a /proc scan), the ledger's intent and applied records (fdatasync each) and, for the stop, its own wait for state T; pkill's include starting pkill.",
  ];
}
