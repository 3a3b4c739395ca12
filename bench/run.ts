// SPDX-License-Identifier: Apache-2.0
/**
 * `npm run bench`: faultd's stress faults against stress-ng in the same run (ratios, because
 * these machines are noisy). Writes a markdown table to bench/results/. Needs root (cgroups)
 * and stress-ng (scripts/install-deps.sh installs it).
 *
 *  1. CPU accuracy at loads 25/50/75/100 × workers 1/2: mean error and SD of 100 ms and 1 s
 *     windows, sampled from /proc/<pid>/task/*\/schedstat of the whole process tree.
 *  2. Time to 1 GiB resident (RssAnon), faultd vs `stress-ng --vm 1 --vm-bytes 1G --vm-keep`.
 *  3. Start latency (request → load present) and stop latency (stop → process gone).
 *  4. Network faults: apply+revert of a tbf rate limit and of an nf_tables loss rule through
 *     netlink, against the `tc`/`nft` CLIs (interleaved, in a private namespace).
 *  5. The NFQUEUE delayer (latency without netem) under a bulk TCP stream: throughput, added
 *     RTT, CPU and packets per second.
 *  6. faultd's own RSS while idle and while running a fault, next to a bare Node process.
 *  7. The hub under a simulated fleet (heartbeat latency, hub CPU/RSS) and `faultd agent` idle.
 *  8. faultd as a systemd service in nspawn: SIGKILL → clean, boot → remnants reverted, start → READY.
 * 10. Service restart in the system suite's nspawn container: request → unit active again, faultd's
 *     D-Bus path (stop, start, both waited for) against `systemctl restart`, and a state read.
 *  9. Disk I/O on a loop-mounted ext4 image (in a tmpfs the bench mounts, so nothing reaches the
 *     real disk): write throughput and CPU per MiB against `stress-ng --hdd N` on the same
 *     filesystem, and the `ioRate` mean error and 1 s-window SD, both read from the loop
 *     device's /sys/block/<dev>/stat.
 * 10. Time chaos: the offset in place against the one asked, and the restore error against a
 *     monotonic reference, faultd (clock_adjtime ADJ_SETOFFSET) vs `date -s` (bench/time.ts).
 * 11. The HTTP interceptor for requests it passes through, on loopback in a namespace: added
 *     latency (p50, p99) and request rate against direct, haproxy and nginx (bench/http.ts).
 * 12. Probe overhead: http and cmd evaluations per second against plain undici and execFile, and
 *     `faultd run`'s extra CPU with 10 probes polling every second (bench/probes.ts).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { pino } from 'pino';

import { linuxCpuStress } from '../src/faults/linux-cpu-stress.js';
import { linuxDiskIoStress } from '../src/faults/linux-disk-io-stress.js';
import { linuxMemoryStress } from '../src/faults/linux-memory-stress.js';
import { readNetworkContext } from '../src/faults/network/context.js';
import { DEFAULT_NETWORK_SAFETY } from '../src/net/network-safety.js';
import type { FaultContext, InjectorModule } from '../src/faults/types.js';
import { DEFAULT_LIMITS } from '../src/faults/types.js';
import { detectCgroupLayout } from '../src/host/cgroup.js';
import { readHostFacts, REAL_ROOTS } from '../src/host/facts.js';
import { kernelFeatureProbe } from '../src/host/features.js';
import { Ledger } from '../src/ledger/ledger.js';
import { loadNative, stressorFile } from '../src/native/load.js';
import { alive, processTree, runTimeNs, statusBytes } from './proc.js';
import { abortLatency } from './abort.js';
import { fleet } from './fleet.js';
import { moduleCosts } from './module-cost.js';
import { systemService } from './system.js';
import { serviceRestart } from './service.js';
import { nfqueueDelayer } from './nfqueue.js';
import { dnsInterceptor } from './dns.js';
import { httpInterceptor } from './http.js';
import { probeOverhead } from './probes.js';
import { processFaults } from './process.js';
import { timeChaos } from './time.js';
import { mean, median, sd } from './stats.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const WINDOW_MS = 100;
const MEASURE_S = Number(process.env['BENCH_CPU_SECONDS'] ?? 8);
const WARMUP_MS = 500;
const REPEATS = Number(process.env['BENCH_REPEATS'] ?? 5);
const GiB = 1024 ** 3;
const NET_ITERATIONS = Number(process.env['BENCH_NET_ITERATIONS'] ?? 200);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function context(): FaultContext {
  return {
    host: readHostFacts(),
    limits: DEFAULT_LIMITS,
    features: kernelFeatureProbe({ stressorPath: stressorFile(), native: loadNative }),
    network: readNetworkContext(DEFAULT_NETWORK_SAFETY, REAL_ROOTS),
    native: loadNative(),
    stressorPath: stressorFile(),
    cgroups: detectCgroupLayout(),
    logger: pino({ level: 'silent' }),
    procRoot: '/proc',
  };
}

interface Target {
  /** Root pid of the process tree carrying the load. */
  readonly pid: number;
  stop(): Promise<void>;
}

let faultCounter = 0;

/** The ledger the benchmark's faults write, as `faultd run` does (fdatasync per record). */
const benchDir = mkdtempSync(path.join(tmpdir(), 'faultd-bench-'));
const ledger = new Ledger(path.join(benchDir, 'state'), loadNative());

/** Starts a fault through its real path (plan → ledger intent → apply → ledger applied). */
async function startFault(module: InjectorModule, params: Record<string, unknown>, ctx: FaultContext): Promise<Target> {
  const validated = module.validateParams(params, ctx);
  if (!validated.ok) throw new Error(JSON.stringify(validated.issues));
  faultCounter += 1;
  const faultId = `bench-${process.pid}-${faultCounter}`;
  const planned = await module.plan(faultId, validated.params, ctx);
  let revert = planned.revert;
  const owner = { pid: process.pid, startTime: ctx.native.processStartTime(process.pid) ?? 0 };
  await ledger.append({ event: 'intent', faultId, runId: 'bench', kind: module.kind, target: planned.target, bootId: ctx.host.bootId, owner, revert });
  await planned.apply(async (r) => {
    revert = r;
    await ledger.append({ event: 'applied', faultId, revert: r });
  }, new AbortController().signal);
  const pid = Number(revert['pid']);
  return {
    pid,
    stop: async () => {
      const outcome = await module.revert(revert, ctx);
      await ledger.append({ event: 'reverted', faultId, outcome: outcome.outcome });
    },
  };
}

function startStressNg(args: readonly string[]): Target {
  return startTool('stress-ng', [...args, '--timeout', '600s', '--quiet']);
}

/** A peer tool's process tree, stopped with SIGTERM and waited for. */
function startTool(command: string, args: readonly string[]): Target {
  const child: ChildProcess = spawn(command, args, { stdio: 'ignore' });
  const pid = child.pid ?? 0;
  return {
    pid,
    stop: async () => {
      const tree = processTree(pid);
      child.kill('SIGTERM');
      while (tree.some(alive)) await sleep(2);
      await new Promise((resolve) => (child.exitCode === null ? child.once('exit', resolve) : resolve(null)));
    },
  };
}

interface CpuAccuracy {
  readonly meanErrorPp: number;
  readonly sd100msPp: number;
  readonly sd1sPp: number;
}

/** Samples the tree's run time every 100 ms on an absolute schedule. */
async function measureCpu(target: Target, loadPct: number, workers: number): Promise<CpuAccuracy> {
  await sleep(WARMUP_MS);
  const samples: { wall: bigint; run: number }[] = [];
  const t0 = performance.now();
  const count = MEASURE_S * (1000 / WINDOW_MS) + 1;
  for (let k = 0; k < count; k += 1) {
    const wait = t0 + k * WINDOW_MS - performance.now();
    if (wait > 0) await sleep(wait);
    samples.push({ wall: process.hrtime.bigint(), run: runTimeNs(processTree(target.pid)) });
  }
  const pct = (a: { wall: bigint; run: number }, b: { wall: bigint; run: number }) =>
    (100 * (b.run - a.run)) / Number(b.wall - a.wall) / workers;
  const windows = samples.slice(1).map((s, i) => pct(samples[i] ?? s, s));
  const perSecond = 1000 / WINDOW_MS;
  const seconds: number[] = [];
  for (let i = 0; i + perSecond < samples.length; i += perSecond) seconds.push(pct(samples[i]!, samples[i + perSecond]!));
  const whole = pct(samples[0]!, samples[samples.length - 1]!);
  return { meanErrorPp: whole - loadPct, sd100msPp: sd(windows), sd1sPp: sd(seconds) };
}

async function cpuAccuracy(ctx: FaultContext): Promise<string[]> {
  const rows = ['| load % | workers | faultd mean err (pp) | stress-ng mean err (pp) | faultd SD 100 ms (pp) | stress-ng SD 100 ms (pp) | SD ratio 100 ms | faultd SD 1 s (pp) | stress-ng SD 1 s (pp) |', '|---|---|---|---|---|---|---|---|---|'];
  for (const workers of [1, 2]) {
    for (const load of [25, 50, 75, 100]) {
      const ours = await startFault(linuxCpuStress, { load, workers }, ctx);
      const a = await measureCpu(ours, load, workers);
      await ours.stop();
      const theirs = startStressNg(['--cpu', String(workers), '--cpu-load', String(load)]);
      const b = await measureCpu(theirs, load, workers);
      await theirs.stop();
      const f = (v: number) => v.toFixed(2);
      rows.push(`| ${load} | ${workers} | ${f(a.meanErrorPp)} | ${f(b.meanErrorPp)} | ${f(a.sd100msPp)} | ${f(b.sd100msPp)} | ${(a.sd100msPp / Math.max(b.sd100msPp, 1e-9)).toFixed(2)} | ${f(a.sd1sPp)} | ${f(b.sd1sPp)} |`);
      console.log(`cpu load ${load} workers ${workers}: faultd ${JSON.stringify(a)} stress-ng ${JSON.stringify(b)}`);
    }
  }
  return rows;
}

/** Milliseconds from `start()` until the tree holds `bytes` of anonymous memory (within 1 %). */
async function timeToResident(start: () => Promise<Target> | Target, bytes: number): Promise<{ ms: number; rss: number }> {
  const t0 = performance.now();
  const target = await start();
  let rss = 0;
  while (performance.now() - t0 < 60_000) {
    rss = processTree(target.pid).reduce((sum, pid) => sum + statusBytes(pid, 'RssAnon'), 0);
    if (rss >= bytes * 0.99) break;
    await sleep(2);
  }
  const ms = performance.now() - t0;
  await target.stop();
  return { ms, rss };
}

async function memorySpeed(ctx: FaultContext): Promise<string[]> {
  const ours: number[] = [];
  const theirs: number[] = [];
  const ratios: number[] = [];
  const faultd = () => timeToResident(() => startFault(linuxMemoryStress, { memory: '1Gi' }, ctx), GiB);
  const stressNg = () => timeToResident(() => startStressNg(['--vm', '1', '--vm-bytes', '1G', '--vm-keep']), GiB);
  // Warm-up, unmeasured: in a VM the first touch of guest memory the guest never used is much
  // slower than later ones (the host faults it in), which would penalise whoever runs first.
  await faultd();
  await stressNg();
  for (let i = 0; i < REPEATS; i += 1) {
    // Alternate the order so neither tool always gets the pages the other just freed.
    let a: { ms: number; rss: number };
    let b: { ms: number; rss: number };
    if (i % 2 === 0) {
      a = await faultd();
      b = await stressNg();
    } else {
      b = await stressNg();
      a = await faultd();
    }
    ours.push(a.ms);
    theirs.push(b.ms);
    ratios.push(a.ms / b.ms);
    console.log(`1 GiB resident: faultd ${a.ms.toFixed(0)} ms (${(a.rss / GiB).toFixed(3)} GiB), stress-ng ${b.ms.toFixed(0)} ms`);
  }
  return [
    '| measure | faultd median | stress-ng median | ratio faultd/stress-ng (median of pairs) |',
    '|---|---|---|---|',
    `| time to 1 GiB resident (ms, ${REPEATS} runs) | ${median(ours).toFixed(0)} | ${median(theirs).toFixed(0)} | ${median(ratios).toFixed(2)} |`,
  ];
}

/** Names of the threads that carry CPU load (not the launcher's start-up work). */
const WORKER_COMM = /^(faultd-cpu|stress-ng-cpu)/;

interface Latency {
  /** Request → a worker thread burning (run time grows ≥ 50 % of wall over a ~1 ms poll). */
  readonly startMs: number;
  /** Stop → every process of the tree gone. */
  readonly goneMs: number;
  /** Stop → stop() returned (for faultd: revert verified and recorded in the ledger). */
  readonly doneMs: number;
}

async function latency(start: () => Promise<Target> | Target): Promise<Latency> {
  const t0 = performance.now();
  const target = await start();
  let last = { wall: performance.now(), run: runTimeNs(processTree(target.pid), WORKER_COMM) };
  let startMs = Number.NaN;
  while (performance.now() - t0 < 10_000) {
    await sleep(1);
    const now = { wall: performance.now(), run: runTimeNs(processTree(target.pid), WORKER_COMM) };
    if (now.run > last.run && (now.run - last.run) / 1e6 >= 0.5 * (now.wall - last.wall)) {
      startMs = now.wall - t0;
      break;
    }
    last = now;
  }
  const tree = processTree(target.pid);
  const s0 = performance.now();
  let doneMs = Number.NaN;
  const stopping = target.stop().then(() => (doneMs = performance.now() - s0));
  while (tree.some(alive)) await new Promise((resolve) => setImmediate(resolve));
  const goneMs = performance.now() - s0;
  await stopping;
  return { startMs, goneMs, doneMs };
}

async function latencies(ctx: FaultContext): Promise<string[]> {
  const ours: Latency[] = [];
  const theirs: Latency[] = [];
  for (let i = 0; i < REPEATS; i += 1) {
    ours.push(await latency(() => startFault(linuxCpuStress, { load: 100, workers: 1 }, ctx)));
    theirs.push(await latency(() => startStressNg(['--cpu', '1', '--cpu-load', '100'])));
    console.log(`latency: faultd ${JSON.stringify(ours.at(-1))} stress-ng ${JSON.stringify(theirs.at(-1))}`);
  }
  const row = (label: string, key: keyof Latency, note = '') => {
    const a = median(ours.map((x) => x[key]));
    const b = median(theirs.map((x) => x[key]));
    return `| ${label} | ${a.toFixed(1)} | ${b.toFixed(1)} | ${(a / b).toFixed(2)} |${note}`;
  };
  return [
    `| measure (median of ${REPEATS}) | faultd | stress-ng | ratio faultd/stress-ng |`,
    '|---|---|---|---|',
    row('start latency: request → load present (ms)', 'startMs'),
    row('stop latency: stop → process gone (ms)', 'goneMs'),
    row('stop → revert complete (ms)', 'doneMs'),
    '',
    'faultd start includes two ledger records (intent and applied, each fdatasync\'d) before any load, cgroup creation and placement, and the ready handshake. faultd "revert complete" adds the verification, cgroup removal and the fdatasync\'d `reverted` record; for stress-ng it is the SIGTERM and the wait for its processes.',
  ];
}

/** tbf and nf_tables apply+revert: faultd's netlink path vs the tc/nft CLIs, in a private namespace. */
function networkSpeed(): string[] {
  const ns = `faultd-bench-${process.pid}`;
  const ip = (...args: string[]) => spawnSync('ip', args, { stdio: 'ignore' });
  ip('netns', 'add', ns);
  try {
    ip('-n', ns, 'link', 'add', 'v0', 'type', 'veth', 'peer', 'name', 'v1');
    ip('-n', ns, 'link', 'set', 'v0', 'up');
    const tool = (name: string) => ['/usr/sbin', '/sbin', '/usr/bin'].map((d) => `${d}/${name}`).find((p) => spawnSync('test', ['-x', p]).status === 0) ?? name;
    const child = spawnSync('ip', ['netns', 'exec', ns, process.execPath, path.join(ROOT, 'dist/bench/net-child.js'), String(NET_ITERATIONS), tool('tc'), tool('nft')], { encoding: 'utf8' });
    if (child.status !== 0) throw new Error(`network bench failed: ${child.stderr}`);
    type Series = Record<'tbfNetlink' | 'tbfCli' | 'nftNetlink' | 'nftCli', number[]>;
    type NftSeries = Record<'nftNetlink' | 'nftCli', number[]>;
    const r = JSON.parse(child.stdout.trim()) as { interleaved: Series; consecutive: Series; withFirewall: { interleaved: NftSeries; consecutive: NftSeries } };
    const line = (label: string, mode: string, ours: number[], theirs: number[]) => {
      const a = median(ours);
      const b = median(theirs);
      return `| ${label} | ${mode} | ${a.toFixed(1)} | ${b.toFixed(0)} | ${(b / a).toFixed(0)}× |`;
    };
    const row = (label: string, mode: 'interleaved' | 'consecutive', ours: 'tbfNetlink' | 'nftNetlink', theirs: 'tbfCli' | 'nftCli') => line(label, mode, r[mode][ours], r[mode][theirs]);
    const fwRow = (mode: 'interleaved' | 'consecutive') =>
      line('loss rule, with another output hook present (a host firewall)', mode, r.withFirewall[mode].nftNetlink, r.withFirewall[mode].nftCli);
    return [
      `| apply + revert (µs, median of ${NET_ITERATIONS}) | order | faultd (netlink) | CLI | CLI / faultd |`,
      '|---|---|---|---|---|',
      row('rate limit: tbf root add + delete vs `tc qdisc add` + `tc qdisc del`', 'consecutive', 'tbfNetlink', 'tbfCli'),
      row('rate limit: tbf root add + delete vs `tc qdisc add` + `tc qdisc del`', 'interleaved', 'tbfNetlink', 'tbfCli'),
      row('loss rule: nf_tables chain + 2 rules, add + delete vs `nft -f` + `nft delete table`', 'consecutive', 'nftNetlink', 'nftCli'),
      row('loss rule: nf_tables chain + 2 rules, add + delete vs `nft -f` + `nft delete table`', 'interleaved', 'nftNetlink', 'nftCli'),
      fwRow('consecutive'),
      fwRow('interleaved'),
      '',
      'consecutive: blocks of 20 of each path, alternating (each runs warm); interleaved: one of each in turn, so every faultd call follows a fork+exec of the CLI with cold caches, like a lone apply on a busy host. faultd\'s figures include the call from JS (synchronous, µs-scale) on one kept netlink socket; on a host where nothing else hooks netfilter’s output (this namespace and machine), the nf_tables figure is dominated by the kernel switching the hook’s static key on and off, which patches kernel text (~180 µs per transaction); with any other output hook present, as on a host with a firewall, that cost disappears. The CLI figures include fork+exec of the tool, as every peer that shells out pays.',
    ];
  } finally {
    ip('netns', 'del', ns);
  }
}

async function ownFootprint(): Promise<string[]> {
  const dir = mkdtempSync(path.join(tmpdir(), 'faultd-bench-'));
  try {
    const file = path.join(dir, 'exp.json');
    writeFileSync(file, JSON.stringify({ apiVersion: 'faultd/v1', kind: 'Experiment', metadata: { name: 'rss' }, spec: { steps: [{ faults: [{ kind: 'linux-cpu-stress', duration: '3s', rampTime: '2s', params: { load: 50 } }] }] } }));
    const faultd = spawn(process.execPath, [path.join(ROOT, 'bin/faultd.js'), '--state-dir', path.join(dir, 'state'), '--log-format', 'json', 'run', file], { stdio: 'ignore' });
    const bare = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 6000)'], { stdio: 'ignore' });
    await sleep(1500);
    const idle = statusBytes(faultd.pid ?? 0, 'VmRSS');
    const bareRss = statusBytes(bare.pid ?? 0, 'VmRSS');
    let running = 0;
    for (let i = 0; i < 20; i += 1) {
      await sleep(100);
      if (i >= 8) running = Math.max(running, statusBytes(faultd.pid ?? 0, 'VmRSS'));
    }
    await new Promise((resolve) => faultd.once('exit', resolve));
    bare.kill();
    const mib = (b: number) => (b / 1024 ** 2).toFixed(1);
    return [
      '| process | RSS (MiB) |',
      '|---|---|',
      `| bare \`node -e setTimeout\` | ${mib(bareRss)} |`,
      `| faultd run, idle (rampTime wait, no fault applied) | ${mib(idle)} |`,
      `| faultd run, running a CPU fault (max over 1.2 s) | ${mib(running)} |`,
    ];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const MiB = 1024 ** 2;
const DISK_MEASURE_S = Number(process.env['BENCH_DISK_SECONDS'] ?? 6);

/** An ext4 image in a tmpfs, loop-mounted; `remove` unmounts both. */
function loopExt4(bytes: number): { dir: string; loop: string; remove(): void } {
  const base = mkdtempSync(path.join(tmpdir(), 'faultd-bench-disk-'));
  const ram = path.join(base, 'ram');
  const dir = path.join(base, 'ext4');
  mkdirSync(ram);
  mkdirSync(dir);
  const run = (cmd: string, args: string[]) => {
    const r = spawnSync(cmd, args, { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
    return r.stdout.trim();
  };
  run('mount', ['-t', 'tmpfs', '-o', `size=${bytes + 64 * MiB}`, 'faultd-bench', ram]);
  const image = path.join(ram, 'ext4.img');
  run('truncate', ['-s', String(bytes), image]);
  run('mkfs.ext4', ['-q', '-F', image]);
  const device = run('losetup', ['--find', '--show', image]);
  run('mount', [device, dir]);
  return {
    dir,
    loop: path.basename(device),
    remove() {
      run('umount', [dir]);
      run('losetup', ['-d', device]);
      run('umount', [ram]);
      rmSync(base, { recursive: true, force: true });
    },
  };
}

/** Bytes written to and read from the block device (/sys/block/<dev>/stat sectors × 512). */
function deviceBytes(loop: string): { written: number; read: number; writes: number } {
  const f = readFileSync(`/sys/block/${loop}/stat`, 'utf8').trim().split(/\s+/).map(Number);
  return { written: (f[6] ?? 0) * 512, read: (f[2] ?? 0) * 512, writes: f[4] ?? 0 };
}

/** Busy CPU time of the whole host (ms, all CPUs; /proc/stat in USER_HZ = 100): counts the loop device's kernel threads. */
function hostBusyMs(): number {
  const f = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/).slice(1).map(Number);
  const total = f.reduce((a, b) => a + b, 0);
  return (total - (f[3] ?? 0) - (f[4] ?? 0)) * 10;
}

interface DiskSample {
  /** MiB/s written to the device in each 1 s window. */
  readonly windows: number[];
  /** Writes completed by the device in each 1 s window, per second. */
  readonly writeWindows: number[];
  readonly writtenMiBs: number;
  readonly readMiBs: number;
  /** CPU time of the load's process tree per MiB written (ms). */
  readonly cpuMsPerMiB: number;
  /** Busy CPU time of the whole host per MiB written (ms). */
  readonly hostCpuMsPerMiB: number;
}

async function measureDisk(target: Target, loop: string): Promise<DiskSample> {
  await sleep(1000);
  const sample = () => ({ at: performance.now(), dev: deviceBytes(loop), cpu: runTimeNs(processTree(target.pid)), host: hostBusyMs() });
  const first = sample();
  const windows: number[] = [];
  const writeWindows: number[] = [];
  let last = first;
  for (let k = 1; k <= DISK_MEASURE_S; k += 1) {
    const wait = first.at + k * 1000 - performance.now();
    if (wait > 0) await sleep(wait);
    const now = sample();
    const seconds = (now.at - last.at) / 1000;
    windows.push((now.dev.written - last.dev.written) / MiB / seconds);
    writeWindows.push((now.dev.writes - last.dev.writes) / seconds);
    last = now;
  }
  const seconds = (last.at - first.at) / 1000;
  const written = (last.dev.written - first.dev.written) / MiB;
  return { windows, writeWindows, writtenMiBs: written / seconds, readMiBs: (last.dev.read - first.dev.read) / MiB / seconds, cpuMsPerMiB: (last.cpu - first.cpu) / 1e6 / written, hostCpuMsPerMiB: (last.host - first.host) / written };
}

/** fio writing 4 KiB blocks with O_DIRECT at `iops` in total over `workers` jobs, each with its own file. */
function fioIopsArgs(dir: string, iops: number, workers: number, fileBytes: number): string[] {
  return [
    '--name=faultd-bench-iops', `--directory=${dir}`, '--rw=write', '--bs=4k', '--direct=1', '--ioengine=psync', `--size=${fileBytes}`,
    `--numjobs=${workers}`, `--rate_iops=${iops / workers}`, '--time_based', '--runtime=600', '--loops=1000000', '--output=/dev/null',
  ];
}

function fioVersion(): string {
  return spawnSync('fio', ['--version'], { encoding: 'utf8' }).stdout.trim();
}

async function diskIo(ctx: FaultContext): Promise<string[]> {
  const fs = loopExt4(1024 * MiB);
  const fileBytes = 64 * MiB;
  try {
    const rows = [
      `Loop-mounted ext4 (1 GiB image in a tmpfs), ${fileBytes / MiB} MiB per worker, ${DISK_MEASURE_S} s after 1 s warm-up; bytes from /sys/block/${fs.loop}/stat, CPU of the load's process tree from schedstat (the loop device's copying runs in kernel threads, not counted there), and busy CPU of the whole host from /proc/stat (counts them, and any other work on this shared host). stress-ng --hdd reads each file back after writing it with direct I/O; faultd only writes.`,
      '',
      '| workers | tool | write MiB/s | read MiB/s | process CPU ms per MiB written | host CPU ms per MiB written |',
      '|---|---|---|---|---|---|',
    ];
    for (const workers of [1, 2]) {
      const tools: [string, () => Promise<Target> | Target][] = [
        ['faultd (O_DIRECT, 1 MiB writes)', () => startFault(linuxDiskIoStress, { volumeMountPath: fs.dir, workers, fileSystemUtilisationBytes: workers * fileBytes, keepFree: '64Mi' }, ctx)],
        [`stress-ng --hdd ${workers} --hdd-write-size 1M --hdd-opts direct`, () => startStressNg(['--hdd', String(workers), '--hdd-bytes', String(fileBytes), '--hdd-write-size', String(MiB), '--hdd-opts', 'direct', '--temp-path', fs.dir])],
        [`stress-ng --hdd ${workers} (defaults: buffered, 64 KiB writes)`, () => startStressNg(['--hdd', String(workers), '--hdd-bytes', String(fileBytes), '--temp-path', fs.dir])],
      ];
      for (const [name, start] of tools) {
        const target = await start();
        const m = await measureDisk(target, fs.loop).finally(() => target.stop());
        console.log(`diskio ${name}: ${JSON.stringify(m)}`);
        rows.push(`| ${workers} | ${name} | ${m.writtenMiBs.toFixed(1)} | ${m.readMiBs.toFixed(1)} | ${m.cpuMsPerMiB.toFixed(2)} | ${m.hostCpuMsPerMiB.toFixed(2)} |`);
      }
    }
    rows.push(
      '',
      `\`iops\` (4 KiB O_DIRECT writes; stress-ng has no rate for --hdd, so the peer is fio ${fioVersion()} with --rate_iops, split over its jobs as faultd splits over its workers); writes completed from /sys/block/${fs.loop}/stat, which also counts ext4's journal commits:`,
      '',
      '| iops | workers | tool | mean error % | SD of 1 s windows (% of rate) | windows (writes/s) |',
      '|---|---|---|---|---|---|',
    );
    for (const [iops, workers] of [[200, 1], [1000, 1], [1000, 2], [5000, 2]] as const) {
      const tools: [string, () => Promise<Target> | Target][] = [
        ['faultd', () => startFault(linuxDiskIoStress, { volumeMountPath: fs.dir, workers, fileSystemUtilisationBytes: workers * fileBytes, iops, keepFree: '64Mi' }, ctx)],
        [`fio --rate_iops=${iops / workers} --numjobs=${workers}`, () => startTool('fio', fioIopsArgs(fs.dir, iops, workers, fileBytes))],
      ];
      for (const [name, start] of tools) {
        const target = await start();
        const m = await measureDisk(target, fs.loop).finally(() => target.stop());
        console.log(`diskio iops ${iops} workers ${workers} ${name}: ${JSON.stringify(m)}`);
        rows.push(`| ${iops} | ${workers} | ${name} | ${((100 * (mean(m.writeWindows) - iops)) / iops).toFixed(2)} | ${((100 * sd(m.writeWindows)) / iops).toFixed(2)} | ${m.writeWindows.map((w) => w.toFixed(0)).join(' ')} |`);
      }
    }
    rows.push('', '`ioRate` (stress-ng has no rate for --hdd):', '', '| ioRate | workers | mean error % | SD of 1 s windows (% of rate) | windows (MiB/s) |', '|---|---|---|---|---|');
    for (const [rate, workers] of [[4, 1], [16, 1], [16, 2], [64, 2]] as const) {
      const target = await startFault(linuxDiskIoStress, { volumeMountPath: fs.dir, workers, fileSystemUtilisationBytes: workers * fileBytes, ioRate: `${rate}Mi`, keepFree: '64Mi' }, ctx);
      const m = await measureDisk(target, fs.loop).finally(() => target.stop());
      console.log(`diskio ioRate ${rate}Mi workers ${workers}: ${JSON.stringify(m)}`);
      rows.push(`| ${rate} MiB/s | ${workers} | ${((100 * (mean(m.windows) - rate)) / rate).toFixed(2)} | ${((100 * sd(m.windows)) / rate).toFixed(2)} | ${m.windows.map((w) => w.toFixed(2)).join(' ')} |`);
    }
    return rows;
  } finally {
    fs.remove();
  }
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('the benchmark needs root (cgroups, as faultd itself)');
  if (spawnSync('stress-ng', ['--version']).status !== 0) throw new Error('stress-ng is missing: bash scripts/install-deps.sh');
  if (spawnSync('fio', ['--version']).status !== 0) throw new Error('fio is missing: bash scripts/install-deps.sh');
  const ctx = context();
  await ledger.open();
  const stressNg = spawnSync('stress-ng', ['--version'], { encoding: 'utf8' }).stdout.trim();
  const started = new Date();
  const all = 'cpu,memory,latency,diskio,network,nfqueue,dns,http,probes,process,service,time,footprint,abort,fleet,system';
  const only = (process.env['BENCH_ONLY'] ?? all).split(',');
  const partial = only.join(',') !== all;
  const section = async (name: string, title: string, body: () => Promise<string[]>): Promise<string[]> =>
    only.includes(name) ? [title, '', ...(await body()), ''] : [];
  const sections = [
    `# faultd benchmark, ${started.toISOString()}`,
    '',
    `Host: ${ctx.host.onlineCpus.length} CPUs, kernel ${spawnSync('uname', ['-r'], { encoding: 'utf8' }).stdout.trim()}, ${stressNg}. CPU windows: ${MEASURE_S} s per config after ${WARMUP_MS} ms warm-up, sampled every ${WINDOW_MS} ms from schedstat of the whole process tree; load is per worker.`,
    '',
    ...(await section('cpu', '## CPU accuracy (same run, faultd then stress-ng per row)', () => cpuAccuracy(ctx))),
    ...(await section('memory', '## Memory: time to 1 GiB resident', () => memorySpeed(ctx))),
    ...(await section('latency', '## Start and stop latency (CPU stress, 1 worker at 100 %)', () => latencies(ctx))),
    ...(await section('diskio', '## Disk I/O: faultd vs stress-ng --hdd on one loop-mounted ext4, and ioRate accuracy', () => diskIo(ctx))),
    ...(await section('network', '## Network faults: apply + revert, netlink vs CLI', () => Promise.resolve(networkSpeed()))),
    ...(await section('nfqueue', '## Latency without netem: the NFQUEUE delayer under a bulk TCP stream', () => nfqueueDelayer(ROOT))),
    ...(await section('dns', '## DNS interceptor: added latency and answers per second for passed-through names, vs direct and vs dnsmasq', () => dnsInterceptor(ROOT))),
    ...(await section('http', '## HTTP interceptor: added latency and request rate for passed-through requests, vs direct and vs haproxy and nginx', () => httpInterceptor())),
    ...(await section('probes', '## Probe overhead: evaluations per second against plain undici and execFile, and `faultd run`\'s extra CPU at 10 probes polling every second', () => probeOverhead(ROOT))),
    ...(await section('process', '## Process faults: kill and stop, next to pkill', () => processFaults(ctx, startFault))),
    ...(await section('service', '## Service restart: faultd over D-Bus vs systemctl restart (nspawn)', () => serviceRestart())),
    ...(await section('time', '## Time chaos: offset asked vs measured, restore error vs `date -s`', () => timeChaos(ctx, startFault))),
    ...(await section('footprint', "## faultd's own footprint", () => ownFootprint())),
    ...(await section('footprint', '### What each module costs', () => Promise.resolve(moduleCosts(ROOT)))),
    ...(await section('abort', '## Hub abort → faults reverted', () => abortLatency(ROOT))),
    ...(await section('fleet', '## The hub under a simulated fleet, and the agent idle', () => fleet(ROOT))),
    ...(await section('system', '## faultd as a systemd service: kill -9, reboot, start', () => systemService())),
  ];
  const outDir = path.join(ROOT, 'bench', 'results');
  mkdirSync(outDir, { recursive: true });
  const text = sections.join('\n');
  const stamp = started.toISOString().replace(/[:]/g, '').slice(0, 15);
  // A partial run (BENCH_ONLY) is kept under its own name and never replaces latest.md.
  const name = partial ? `${stamp}-${only.join('-')}.md` : `${stamp}.md`;
  writeFileSync(path.join(outDir, name), text);
  if (!partial) writeFileSync(path.join(outDir, 'latest.md'), text);
  console.log(`\n${text}\nwritten to bench/results/${name}${partial ? '' : ' and bench/results/latest.md'}`);
}

try {
  await main();
} finally {
  // Also after a failed section: the bench's ledger directory never outlives the run.
  await ledger.close().catch(() => undefined);
  rmSync(benchDir, { recursive: true, force: true });
}
