// SPDX-License-Identifier: Apache-2.0
/**
 * Probe overhead (issue 14's bench), each figure next to a floor measured in the same run:
 *  1. http evaluations per second: faultd's http check (createCheck, attempt() back to back; 1
 *     and 8 checks at once, each with its own keep-alive connection) against plain undici
 *     requests, one keep-alive Client per worker, to the same node:http server in another
 *     process (its CPU is not in the measured process). CPU per evaluation of this process.
 *  2. cmd evaluations per second as `nobody`: faultd's cmd check against
 *     child_process.execFile of the same command with the same uid/gid, environment and
 *     working directory: `/bin/true`, `cat <file>` judged on stdout, and `sh -c` (shell: true
 *     against execFile('/bin/sh', ['-c', …])). CPU per evaluation of this process and of its
 *     reaped children (/proc/self/stat cutime + cstime).
 *  3. `faultd run`'s extra CPU with 10 probes polling every second (5 http + 5 cmd, Continuous),
 *     against the same run without probes, interleaved: the fault is linux-process-stop of a
 *     `sleep` the bench starts (one SIGSTOP at the apply and one SIGCONT at the revert, both
 *     outside the measured window: no CPU, no stressor, no cgroup or network change the probes
 *     could feel). faultd runs in a cpuacct (v1) or v2 cgroup of its own, so its CPU time counts
 *     every thread and every command probe it ran, exited or not; the probed server is outside.
 * Every round measures each row once, in turn; medians over the rounds, ratios pair by pair.
 * Processes are killed by pid, the cgroup removed and the temporary directory deleted at the end.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { Client } from 'undici';

import { createCheck } from '../src/probes/checks/index.js';
import { lookupUser } from '../src/probes/checks/cmd-user.js';
import { SAFE_PATH } from '../src/probes/checks/cmd.js';
import { parseProbe } from '../src/probes/schema.js';
import type { CheckEnvironment, ProbeCheck } from '../src/probes/types.js';
import { readLine } from './child-output.js';
import { median } from './stats.js';

const ROUNDS = Number(process.env['BENCH_PROBES_ROUNDS'] ?? 3);
/** Seconds each throughput row runs per round (after a short warm-up). */
const THROUGHPUT_S = Number(process.env['BENCH_PROBES_SECONDS'] ?? 1.2);
const WARMUP_MS = 300;
/** The measured window of each `faultd run`, after it has settled. */
const AGENT_WINDOW_S = Number(process.env['BENCH_PROBES_AGENT_SECONDS'] ?? 8);
/** From "fault applied" to the window's start (loops running, code warm). */
const AGENT_SETTLE_S = 2;
const HTTP_PROBES = 5;
const CMD_PROBES = 5;
/** /proc times are in USER_HZ, 100 on Linux. */
const USER_HZ = 100;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A node:http server answering every request 200 `ok\n`, in its own process; prints its port. */
const SERVER = `
const http = require('node:http');
const s = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => { res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '3' }); res.end('ok\\n'); });
});
s.keepAliveTimeout = 120000;
s.listen(0, '127.0.0.1', () => console.log(String(s.address().port)));
`;

async function startServer(): Promise<{ child: ChildProcess; origin: string }> {
  const child = spawn(process.execPath, ['-e', SERVER], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await readLine(child, (l) => /^\d+$/.test(l.trim()));
  return { child, origin: `http://127.0.0.1:${port.trim()}` };
}

/** CPU time of this process's reaped children (ms; /proc/self/stat cutime + cstime). */
function childrenCpuMs(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields after the command: state is 3, so cutime (16) and cstime (17) are at 13 and 14.
  return ((Number(fields[13]) + Number(fields[14])) * 1000) / USER_HZ;
}

interface Throughput {
  readonly rate: number;
  /** This process's CPU per evaluation (µs). */
  readonly cpuUs: number;
  /** Reaped children's CPU per evaluation (µs). */
  readonly childCpuUs: number;
  readonly evaluations: number;
  readonly failures: number;
}

/** `concurrency` workers calling `once` back to back for `seconds`; `once` says whether it passed. */
async function sustain(concurrency: number, seconds: number, once: (worker: number) => Promise<boolean>): Promise<Throughput> {
  const warmEnd = performance.now() + WARMUP_MS;
  await Promise.all(Array.from({ length: concurrency }, async (_, w) => {
    while (performance.now() < warmEnd) await once(w);
  }));
  let evaluations = 0;
  let failures = 0;
  const cpu0 = process.cpuUsage();
  const children0 = childrenCpuMs();
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  await Promise.all(Array.from({ length: concurrency }, async (_, w) => {
    while (performance.now() < end) {
      const passed = await once(w);
      evaluations += 1;
      if (!passed) failures += 1;
    }
  }));
  const wallS = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const childMs = childrenCpuMs() - children0;
  const per = Math.max(1, evaluations);
  return { rate: evaluations / wallS, cpuUs: (cpu.user + cpu.system) / per, childCpuUs: (childMs * 1000) / per, evaluations, failures };
}

/** A row: faultd's way and the floor's, each a factory of per-worker evaluations. */
interface Pair {
  readonly label: string;
  readonly concurrency: number;
  readonly faultd: string;
  readonly floor: string;
  /** Makes the workers' evaluation function; `close` releases what it holds. */
  readonly make: Record<'faultd' | 'floor', () => { once: (worker: number) => Promise<boolean>; close: () => Promise<void> }>;
}

interface PairResult {
  readonly faultd: Throughput[];
  readonly floor: Throughput[];
}

function check(input: Record<string, unknown>, env: CheckEnvironment): ProbeCheck {
  const parsed = parseProbe({ name: 'bench', mode: 'Continuous', ...input });
  if (!parsed.ok) throw new Error(`bench probe ${JSON.stringify(input)}: ${JSON.stringify(parsed.issues)}`);
  return createCheck(parsed.probe.check, env);
}

/** `concurrency` faultd checks made from `input`, one per worker. */
function faultdChecks(input: Record<string, unknown>, env: CheckEnvironment, concurrency: number) {
  return () => {
    const checks = Array.from({ length: concurrency }, () => check(input, env));
    const signal = new AbortController().signal;
    return {
      once: async (w: number) => (await checks[w]!.attempt(2000, signal)).passed,
      close: async () => {
        await Promise.all(checks.map((c) => c.close()));
      },
    };
  };
}

/** Plain undici: one keep-alive Client (one connection) per worker; `body` reads the body and looks for `ok`. */
function undiciClients(origin: string, concurrency: number, body: boolean) {
  return () => {
    const clients = Array.from({ length: concurrency }, () => new Client(origin, { pipelining: 1 }));
    return {
      once: async (w: number) => {
        const response = await clients[w]!.request({ path: '/health', method: 'GET' });
        if (!body) {
          await response.body.dump();
          return response.statusCode === 200;
        }
        return response.statusCode === 200 && (await response.body.text()).includes('ok');
      },
      close: async () => {
        await Promise.all(clients.map((c) => c.close()));
      },
    };
  };
}

/** child_process.execFile as the probes user; `stdoutAtLeast` judges the trimmed stdout as an int. */
function execFileFloor(file: string, args: readonly string[], user: CheckEnvironment['cmdUser'], stdoutAtLeast?: number) {
  const options = { uid: user.uid, gid: user.gid, env: { PATH: SAFE_PATH, HOME: user.home ?? '/', LANG: 'C.UTF-8' }, cwd: '/' };
  return () => ({
    once: (): Promise<boolean> =>
      new Promise((resolve) => {
        execFile(file, args, options, (error, stdout) => {
          resolve(error === null && (stdoutAtLeast === undefined || Number.parseInt(stdout.trim(), 10) >= stdoutAtLeast));
        });
      }),
    close: () => Promise.resolve(),
  });
}

/** Runs `side` of `pair` (fresh checks or clients) for `seconds` after its warm-up. */
async function runSide(pair: Pair, side: 'faultd' | 'floor', seconds: number): Promise<Throughput> {
  const made = pair.make[side]();
  try {
    return await sustain(pair.concurrency, seconds, made.once);
  } finally {
    await made.close();
  }
}

async function measurePairs(pairs: readonly Pair[], section: string): Promise<Map<Pair, PairResult>> {
  const results = new Map<Pair, PairResult>(pairs.map((p) => [p, { faultd: [], floor: [] }]));
  // One unmeasured pass first, so the first row does not pay for the code's first runs (JIT).
  for (const pair of pairs) for (const side of ['faultd', 'floor'] as const) await runSide(pair, side, 0.5);
  for (let round = 0; round < ROUNDS; round += 1) {
    for (const pair of pairs) {
      // Alternate which side goes first, so a drift of the machine does not favour one.
      const order: ('faultd' | 'floor')[] = round % 2 === 0 ? ['faultd', 'floor'] : ['floor', 'faultd'];
      for (const side of order) {
        const sample = await runSide(pair, side, THROUGHPUT_S);
        if (sample.failures > 0) throw new Error(`${section} ${pair.label} ${side}: ${sample.failures} of ${sample.evaluations} evaluations failed`);
        results.get(pair)?.[side].push(sample);
        console.log(`probes ${section} round ${round + 1}: ${pair.label} ${side}: ${JSON.stringify(sample)}`);
      }
    }
  }
  return results;
}

/** The per-round ratios faultd / floor of `value`: their median, and their range in brackets. */
function ratio(result: PairResult, value: (t: Throughput) => number): string {
  const ratios = result.faultd.map((f, i) => value(f) / value(result.floor[i] ?? f));
  return `${median(ratios).toFixed(2)}× (${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)})`;
}

function throughputTable(pairs: readonly Pair[], results: Map<Pair, PairResult>, children: boolean): string[] {
  const head = children
    ? ['| evaluation | in flight | faultd evaluations/s | floor evaluations/s | faultd / floor (rate) | faultd CPU µs/eval (this process) | floor CPU µs/eval (this process) | faultd children CPU µs/eval | floor children CPU µs/eval |', '|---|---|---|---|---|---|---|---|---|']
    : ['| evaluation | in flight | faultd evaluations/s | floor evaluations/s | faultd / floor (rate) | faultd CPU µs/eval | floor CPU µs/eval | faultd / floor (CPU per eval) |', '|---|---|---|---|---|---|---|---|'];
  const rows = pairs.map((pair) => {
    const r = results.get(pair)!;
    const m = (side: 'faultd' | 'floor', value: (t: Throughput) => number) => median(r[side].map(value));
    const cells = [
      `${pair.label} — faultd: ${pair.faultd}; floor: ${pair.floor}`,
      String(pair.concurrency),
      m('faultd', (t) => t.rate).toFixed(0),
      m('floor', (t) => t.rate).toFixed(0),
      ratio(r, (t) => t.rate),
      m('faultd', (t) => t.cpuUs).toFixed(0),
      m('floor', (t) => t.cpuUs).toFixed(0),
    ];
    if (children) cells.push(m('faultd', (t) => t.childCpuUs).toFixed(0), m('floor', (t) => t.childCpuUs).toFixed(0));
    else cells.push(ratio(r, (t) => t.cpuUs));
    return `| ${cells.join(' | ')} |`;
  });
  return [...head, ...rows, ''];
}

// --- 3. faultd run with 10 probes vs without ---------------------------------------------------

/** A cgroup of faultd's own whose CPU counter covers every task that ever ran in it. */
interface CpuCgroup {
  readonly dir: string;
  usageNs(): number;
  remove(): Promise<void>;
}

const CPUACCT_V1 = '/sys/fs/cgroup/cpuacct';
const UNIFIED = '/sys/fs/cgroup';

/** How faultd's CPU is counted: cpuacct (v1) where it is mounted, else the v2 hierarchy's cpu.stat. */
function cgroupKind(): 'cpuacct.usage (cgroup v1)' | 'cpu.stat usage_usec (cgroup v2)' {
  if (existsSync(path.join(CPUACCT_V1, 'cpuacct.usage'))) return 'cpuacct.usage (cgroup v1)';
  if (existsSync(path.join(UNIFIED, 'cgroup.controllers'))) return 'cpu.stat usage_usec (cgroup v2)';
  throw new Error('no cpuacct (v1) or v2 cgroup hierarchy mounted');
}

function cpuCgroup(name: string): CpuCgroup {
  const useV1 = cgroupKind().endsWith('v1)');
  const dir = path.join(useV1 ? CPUACCT_V1 : UNIFIED, name);
  mkdirSync(dir);
  return {
    dir,
    usageNs: () => {
      if (useV1) return Number(readFileSync(path.join(dir, 'cpuacct.usage'), 'utf8'));
      const usec = /^usage_usec (\d+)$/m.exec(readFileSync(path.join(dir, 'cpu.stat'), 'utf8'))?.[1];
      return Number(usec) * 1000;
    },
    remove: async () => {
      // The last tasks (a reaped probe's group) may take a moment to leave.
      for (let i = 0; i < 50; i += 1) {
        try {
          rmdirSync(dir);
          return;
        } catch (error) {
          if ((error as { code?: string }).code === 'ENOENT') return;
          await sleep(100);
        }
      }
      rmdirSync(dir);
    },
  };
}

/** utime + stime + cutime + cstime of `pid` (ms, /proc/<pid>/stat): a cross-check of the cgroup. */
function procCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) * 1000) / USER_HZ;
}

interface AgentSample {
  readonly probes: boolean;
  /** faultd's CPU in the window, % of one core (cgroup). */
  readonly cpuPct: number;
  /** The same from /proc/<pid>/stat (10 ms ticks). */
  readonly procCpuPct: number;
  /** Evaluations logged in the window, per second. */
  readonly evalsPerS: number;
  readonly failed: number;
}

interface LogLine {
  readonly time?: number;
  readonly msg?: string;
  readonly probe?: string;
  readonly passed?: boolean;
}

function experimentJson(sleepPid: number, origin: string, catFile: string, withProbes: boolean, durationS: number): string {
  const runProperties = { probeTimeout: '1s', interval: '1s', attempt: 1, probePollingInterval: '1s' };
  const probes = [
    ...Array.from({ length: HTTP_PROBES }, (_, i) => ({ name: `web-${i}`, type: 'http', mode: 'Continuous', url: `${origin}/health`, criteria: { responseCode: 200 }, runProperties })),
    ...Array.from({ length: CMD_PROBES }, (_, i) => ({ name: `file-${i}`, type: 'cmd', mode: 'Continuous', command: ['cat', catFile], criteria: { stdout: { type: 'int', criteria: '>=', value: 2 } }, runProperties })),
  ];
  return JSON.stringify({
    apiVersion: 'faultd/v1',
    kind: 'Experiment',
    metadata: { name: 'probe-overhead' },
    spec: {
      ...(withProbes ? { probes } : {}),
      steps: [{ faults: [{ kind: 'linux-process-stop', name: 'stop-sleep', duration: `${durationS}s`, params: { processIDs: String(sleepPid) } }] }],
    },
  });
}

async function agentRun(root: string, dir: string, origin: string, catFile: string, withProbes: boolean, index: number): Promise<AgentSample> {
  const target = spawn('sleep', ['600'], { stdio: 'ignore' });
  const cgroup = cpuCgroup(`faultd-bench-probes-${process.pid}-${index}`);
  let faultd: ChildProcess | undefined;
  try {
    const stateDir = path.join(dir, `state-${index}`);
    const file = path.join(dir, `exp-${index}.json`);
    const durationS = AGENT_SETTLE_S + AGENT_WINDOW_S + 2;
    writeFileSync(file, experimentJson(target.pid ?? 0, origin, catFile, withProbes, durationS));
    // A shell joins the cgroup and execs faultd: faultd's own pid, in the cgroup from its start.
    faultd = spawn('/bin/sh', ['-c', 'echo $$ > "$0/cgroup.procs" && exec "$@"', cgroup.dir, process.execPath, path.join(root, 'bin/faultd.js'), '--log-format', 'json', 'run', file], {
      env: { ...process.env, FAULTD_STATE_DIR: stateDir, FAULTD_CONFIG: path.join(dir, 'config.yaml') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const lines: LogLine[] = [];
    let stderr = '';
    let buffer = '';
    faultd.stderr?.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    faultd.stdout?.setEncoding('utf8').on('data', (c: string) => {
      buffer += c;
      const parts = buffer.split('\n');
      buffer = parts.pop() ?? '';
      for (const l of parts) if (l.startsWith('{')) lines.push(JSON.parse(l) as LogLine);
    });
    const exited = new Promise<number | null>((resolve) => faultd?.once('exit', (code) => resolve(code)));
    const pid = faultd.pid ?? 0;
    for (let waited = 0; !lines.some((l) => l.msg === 'fault applied'); waited += 50) {
      if (faultd.exitCode !== null || waited > 20_000) throw new Error(`faultd run (probes: ${withProbes}) never applied its fault: ${stderr.slice(-1000)}`);
      await sleep(50);
    }
    await sleep(AGENT_SETTLE_S * 1000);
    const t0 = { wall: Date.now(), at: performance.now(), cg: cgroup.usageNs(), proc: procCpuMs(pid) };
    await sleep(AGENT_WINDOW_S * 1000);
    const t1 = { wall: Date.now(), at: performance.now(), cg: cgroup.usageNs(), proc: procCpuMs(pid) };
    const code = await Promise.race([exited, sleep(30_000).then(() => 'timeout' as const)]);
    if (code !== 0) throw new Error(`faultd run (probes: ${withProbes}) ended with ${String(code)}: ${stderr.slice(-1000)}`);
    const inWindow = lines.filter((l) => l.probe !== undefined && l.passed !== undefined && (l.time ?? 0) >= t0.wall && (l.time ?? 0) <= t1.wall);
    const seconds = (t1.at - t0.at) / 1000;
    return {
      probes: withProbes,
      cpuPct: (100 * (t1.cg - t0.cg)) / 1e9 / seconds,
      procCpuPct: (100 * (t1.proc - t0.proc)) / 1000 / seconds,
      evalsPerS: inWindow.length / seconds,
      failed: inWindow.filter((l) => l.passed === false).length,
    };
  } finally {
    if (faultd?.exitCode === null && faultd.pid !== undefined) {
      faultd.kill('SIGKILL');
      await new Promise((resolve) => faultd?.once('exit', resolve));
    }
    // SIGKILL ends it stopped or not (a killed faultd leaves it stopped).
    target.kill('SIGKILL');
    await cgroup.remove();
  }
}

async function agentCpu(root: string, dir: string, origin: string, catFile: string): Promise<string[]> {
  writeFileSync(path.join(dir, 'config.yaml'), '');
  const samples: AgentSample[] = [];
  let index = 0;
  for (let round = 0; round < ROUNDS; round += 1) {
    const order = round % 2 === 0 ? [false, true] : [true, false];
    for (const withProbes of order) {
      index += 1;
      const sample = await agentRun(root, dir, origin, catFile, withProbes, index);
      if (withProbes && sample.failed > 0) throw new Error(`${sample.failed} probe evaluations failed in the window`);
      samples.push(sample);
      console.log(`probes agent round ${round + 1}: ${JSON.stringify(sample)}`);
    }
  }
  const none = samples.filter((s) => !s.probes);
  const some = samples.filter((s) => s.probes);
  const extra = none.map((s, i) => (some[i]?.cpuPct ?? Number.NaN) - s.cpuPct);
  const extraProc = none.map((s, i) => (some[i]?.procCpuPct ?? Number.NaN) - s.procCpuPct);
  const evals = median(some.map((s) => s.evalsPerS));
  const f = (v: number, d = 2) => v.toFixed(d);
  const list = (values: readonly number[]) => values.map((v) => f(v)).join(', ');
  // % of one core is 10 ms of CPU per second: per evaluation, % × 10 / evaluations per second.
  const msPerEval = (median(extra) * 10) / Math.max(evals, 1e-9);
  return [
      '| `faultd run`, linux-process-stop of a sleep | CPU % of one core (cgroup) | per round | CPU % (/proc stat, 10 ms ticks) | probe evaluations/s in the window |',
      '|---|---|---|---|---|',
      `| no probes | ${f(median(none.map((s) => s.cpuPct)))} | ${list(none.map((s) => s.cpuPct))} | ${f(median(none.map((s) => s.procCpuPct)))} | 0 |`,
      `| ${HTTP_PROBES} http + ${CMD_PROBES} cmd probes, Continuous, probePollingInterval 1s | ${f(median(some.map((s) => s.cpuPct)))} | ${list(some.map((s) => s.cpuPct))} | ${f(median(some.map((s) => s.procCpuPct)))} | ${f(evals)} |`,
      '',
      `Extra CPU with the probes (median of the ${ROUNDS} per-round differences): **${f(median(extra))} % of one core** (${cgroupKind()}; per round ${list(extra)}), ${f(median(extraProc))} % from /proc stat; per evaluation **${f(msPerEval)} ms** of CPU.`,
      '',
  ];
}

export async function probeOverhead(root: string): Promise<string[]> {
  if (process.getuid?.() !== 0) throw new Error('the probes bench needs root (cmd probes as nobody, a cgroup)');
  const user = lookupUser('nobody');
  if (!user) throw new Error('no user nobody on this host');
  const env: CheckEnvironment = { cmdUser: user };
  const dir = mkdtempSync(path.join(tmpdir(), 'faultd-bench-probes-'));
  let server: ChildProcess | undefined;
  try {
    // nobody reads the file: the directory must be searchable (mkdtemp makes 0700).
    chmodSync(dir, 0o755);
    const catFile = path.join(dir, 'replicas');
    writeFileSync(catFile, '3\n', { mode: 0o644 });
    const started = await startServer();
    server = started.child;
    const url = `${started.origin}/health`;
    const ok = { responseCode: 200 };
    const http: Pair[] = [1, 8].map((n) => ({
      label: 'GET, status 200',
      concurrency: n,
      faultd: `${n} http check${n > 1 ? 's' : ''} (criteria responseCode 200)`,
      floor: `${n} undici Client${n > 1 ? 's' : ''}, body.dump()`,
      make: { faultd: faultdChecks({ type: 'http', url, criteria: ok }, env, n), floor: undiciClients(started.origin, n, false) },
    }));
    http.push({
      label: 'GET, status 200 and body contains "ok"',
      concurrency: 1,
      faultd: 'http check with a body criterion',
      floor: 'undici Client, body.text().includes',
      make: { faultd: faultdChecks({ type: 'http', url, criteria: { ...ok, body: { criteria: 'contains', value: 'ok' } } }, env, 1), floor: undiciClients(started.origin, 1, true) },
    });
    const shellCommand = `test -s ${catFile} && cat ${catFile}`;
    const atLeast2 = { stdout: { type: 'int', criteria: '>=', value: 2 } };
    const cmd: Pair[] = [
      ...[1, 4].map((n) => ({
        label: '`/bin/true` as nobody, exit 0',
        concurrency: n,
        faultd: 'cmd check, argv',
        floor: 'execFile, uid/gid of nobody',
        make: { faultd: faultdChecks({ type: 'cmd', command: ['/bin/true'] }, env, n), floor: execFileFloor('/bin/true', [], user) },
      })),
      {
        label: '`cat <file>` as nobody, stdout (int) >= 2',
        concurrency: 1,
        faultd: 'cmd check, argv',
        floor: 'execFile + parseInt',
        make: { faultd: faultdChecks({ type: 'cmd', command: ['cat', catFile], criteria: atLeast2 }, env, 1), floor: execFileFloor('cat', [catFile], user, 2) },
      },
      {
        label: '`test -s <file> && cat <file>` as nobody, stdout (int) >= 2',
        concurrency: 1,
        faultd: 'cmd check, shell: true',
        floor: "execFile('/bin/sh', ['-c', …])",
        make: { faultd: faultdChecks({ type: 'cmd', command: shellCommand, shell: true, criteria: atLeast2 }, env, 1), floor: execFileFloor('/bin/sh', ['-c', shellCommand], user, 2) },
      },
    ];
    const httpResults = await measurePairs(http, 'http');
    const cmdResults = await measurePairs(cmd, 'cmd');
    const agent = await agentCpu(root, dir, started.origin, catFile);
    return [
      `### Evaluations per second, http (server: node:http in another process, \`200 ok\`, keep-alive, loopback)`,
      '',
      ...throughputTable(http, httpResults, false),
      `### Evaluations per second, cmd (as nobody, uid ${user.uid}; environment PATH, HOME, LANG; cwd /)`,
      '',
      ...throughputTable(cmd, cmdResults, true),
      'Children CPU: /proc/self/stat cutime + cstime of this process (10 ms ticks) over the row, per evaluation; this process\'s CPU includes the fork and exec work libuv does in it.',
      '',
      `### \`faultd run\`'s CPU with ${HTTP_PROBES + CMD_PROBES} probes polling every second`,
      '',
      ...agent,
      `Each run: linux-process-stop of a \`sleep 600\` the bench starts (no CPU during the fault: one SIGSTOP at the apply, one SIGCONT at the revert, outside the window), ${AGENT_SETTLE_S + AGENT_WINDOW_S + 2} s long; the window is ${AGENT_WINDOW_S} s starting ${AGENT_SETTLE_S} s after \`fault applied\`. faultd runs in a cgroup of its own (cpuacct.usage, or cpu.stat on v2): every thread and every command probe it ran, exited or not; the probed server (the same node:http process) is outside it. The http probes GET ${url} (each its own keep-alive connection), the cmd probes run \`cat ${catFile}\` as nobody with stdout (int) >= 2; every evaluation is logged as a JSON line to a pipe the bench reads, as \`faultd run --log-format json\` does. Evaluations counted from those lines, by their time. ${ROUNDS} rounds, the two runs interleaved (order alternating); medians.`,
      '',
      `Throughput rows: one unmeasured pass of every row first, then ${ROUNDS} rounds, each row ${THROUGHPUT_S} s per side after ${WARMUP_MS} ms of warm-up with fresh checks or clients, sides alternating which goes first; medians; ratios are the median of the per-round ratios, with their range (min–max) in brackets. Nothing pinned; this host has ${readFileSync('/proc/cpuinfo', 'utf8').split('\n').filter((l) => l.startsWith('processor')).length} CPUs shared with other work (load average before the section's end: ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}).`,
    ];
  } finally {
    server?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}
