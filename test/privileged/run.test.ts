// SPDX-License-Identifier: Apache-2.0
// `faultd run` end to end as root: real stressors, real cgroups, Ctrl-C, kill -9 and recovery,
// failed reverts, and responsiveness under full CPU load.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmdirSync } from 'node:fs';

import type { ExecutionContext } from 'ava';

import { Ledger } from '../../src/ledger/ledger.js';
import { loadNative } from '../../src/native/load.js';
import { FAULTD_BIN, experimentYaml, finish, runCli, runWorkspace, startCli, waitForLine, workspace, type CliChild } from '../helpers/cli.js';
import { stressorsMatching, waitUntil } from '../helpers/processes.js';
import { privilegedTest as test } from '../helpers/privileged.js';

const CPU_FAULT = { kind: 'linux-cpu-stress', name: 'cpu', duration: '60s', params: { load: 30, workers: 1 } };

function setup(t: ExecutionContext, steps: Record<string, unknown>[][]) {
  const { ws, run } = runWorkspace(t);
  const file = ws.file('exp.json', experimentYaml(steps));
  const start = (...extra: string[]): CliChild => run(file, ...extra);
  return { ws, file, start };
}

/** The stressor pid, cgroups and tag of every applied fault, from the ledger. */
async function appliedRecords(stateDir: string): Promise<{ pid: number; cgroups: string[]; tag: string }[]> {
  const entries = [...(await new Ledger(stateDir, loadNative()).entries()).values()];
  return entries.filter((e) => e.state === 'applied').map((e) => e.revert as { pid: number; cgroups: string[]; tag: string });
}

/** The stressor pid and cgroups of the applied fault, from the ledger. */
async function appliedRecord(stateDir: string): Promise<{ pid: number; cgroups: string[]; tag: string }> {
  const entries = [...(await new Ledger(stateDir, loadNative()).entries()).values()];
  const revert = entries.find((e) => e.state === 'applied')?.revert;
  if (!revert) throw new Error('no applied fault in the ledger');
  return revert as { pid: number; cgroups: string[]; tag: string };
}

test('the stressor runs in its own cgroup, and Ctrl-C reverts promptly (< 1.5 s with process exit) with exit 3', async (t) => {
  const { ws, start } = setup(t, [[CPU_FAULT], [{ ...CPU_FAULT, name: 'later' }]]);
  const child = start();
  await waitForLine(child, /fault applied/);
  const record = await appliedRecord(ws.stateDir);
  t.true(record.cgroups.length > 0, 'cgroups recorded');
  t.deepEqual(stressorsMatching(record.tag), [record.pid], 'the helper sees the live stressor');
  const procCgroup = readFileSync(`/proc/${record.pid}/cgroup`, 'utf8');
  t.regex(procCgroup, new RegExp(`faultd-${record.tag}`));
  const sent = Date.now();
  child.kill('SIGINT');
  const result = await finish(child);
  const elapsed = Date.now() - sent;
  t.is(result.code, 3, result.stdout + result.stderr);
  t.true(elapsed < 1500, `exited ${elapsed} ms after SIGINT`);
  t.deepEqual(stressorsMatching(record.tag), []);
  for (const dir of record.cgroups) t.false(existsSync(dir), `${dir} removed`);
  t.regex(result.stdout, /"id":"later","kind":"linux-cpu-stress","target":"","status":"skipped"/);
  t.regex((await runCli(['status'], ws.stateDir)).stdout, /Clean/);
});

test('kill -9 of faultd run mid-experiment, then revert --remnants leaves nothing', async (t) => {
  const { ws, start } = setup(t, [[CPU_FAULT, { kind: 'linux-memory-stress', name: 'mem', duration: '60s', params: { memory: '64Mi' } }]]);
  const child = start();
  await waitForLine(child, /fault applied/);
  const ledger = new Ledger(ws.stateDir, loadNative());
  let before = await ledger.entries();
  for (let i = 0; i < 250 && [...before.values()].filter((e) => e.state === 'applied').length < 2; i += 1) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    before = await ledger.entries();
  }
  const tags = [...before.values()].map((e) => e.faultId);
  const cgroups = [...before.values()].flatMap((e) => (e.revert['cgroups'] as string[] | undefined) ?? []);
  t.is(cgroups.length, 4, 'two faults, each in a cpu and a memory cgroup');
  for (const tag of tags) t.is(stressorsMatching(tag).length, 1, `stressor of ${tag} running before the kill`);
  child.kill('SIGKILL');
  await finish(child);
  const status = await runCli(['status'], ws.stateDir);
  t.regex(status.stdout, /APPLIED/, 'status shows the faults still applied');
  const revert = await runCli(['revert', '--remnants'], ws.stateDir);
  t.is(revert.code, 0, revert.stdout + revert.stderr);
  t.regex(revert.stdout, /2 remnant\(s\)/);
  for (const tag of tags) t.deepEqual(stressorsMatching(tag), [], `no stressor for ${tag}`);
  for (const dir of cgroups) t.false(existsSync(dir), `${dir} removed`);
  t.regex((await runCli(['status'], ws.stateDir)).stdout, /Clean/);
  const again = await runCli(['revert', '--remnants'], ws.stateDir);
  t.is(again.code, 0);
  t.regex(again.stdout, /No remnants/, 'idempotent');
});

test('a revert that cannot finish exits 4, is shown by status with the manual fix, and can be finished later', async (t) => {
  const { ws, start } = setup(t, [[{ ...CPU_FAULT, duration: '2s' }]]);
  const child = start();
  await waitForLine(child, /fault applied/);
  const record = await appliedRecord(ws.stateDir);
  const cgroup = record.cgroups[0] ?? '';
  t.truthy(cgroup, 'a cgroup to block');
  if (!cgroup) return;
  const blocker = `${cgroup}/blocker`;
  mkdirSync(blocker); // a child cgroup makes rmdir of the fault's cgroup fail with EBUSY
  t.teardown(() => existsSync(blocker) && rmdirSync(blocker));
  const result = await finish(child);
  t.is(result.code, 4, result.stdout);
  t.regex(result.stdout, /REVERT FAILED/);
  const status = await runCli(['status'], ws.stateDir);
  t.regex(status.stdout, /REVERT-FAILED/);
  t.true(status.stdout.includes(`rmdir ${cgroup}`), status.stdout);
  rmdirSync(blocker);
  const revert = await runCli(['revert', '--remnants'], ws.stateDir);
  t.is(revert.code, 0, revert.stdout);
  t.false(existsSync(cgroup));
  t.regex((await runCli(['status'], ws.stateDir)).stdout, /Clean/);
});

test('faultd stays responsive under workers: 0, load: 100', async (t) => {
  const { ws, start } = setup(t, [[{ kind: 'linux-cpu-stress', duration: '60s', params: { workers: 0, load: 100 } }]]);
  const child = start('--progress-interval', '500ms');
  await waitForLine(child, /fault applied/);
  const stamps: number[] = [];
  child.stdout.on('data', (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n')) if (line.includes('"progress"')) stamps.push(Date.now());
  });
  await new Promise((resolve) => setTimeout(resolve, 3000));
  const gaps = stamps.slice(1).map((s, i) => s - (stamps[i] ?? s));
  t.true(stamps.length >= 4, `progress lines in 3 s: ${stamps.length}`);
  t.true(Math.max(...gaps) < 1500, `largest gap between progress lines ${Math.max(...gaps)} ms`);
  const record = await appliedRecord(ws.stateDir);
  const sent = Date.now();
  child.kill('SIGINT');
  const result = await finish(child);
  t.is(result.code, 3);
  t.true(Date.now() - sent < 1500, `answered Ctrl-C in ${Date.now() - sent} ms`);
  t.deepEqual(stressorsMatching(record.tag), []);
});

test('remnants whose pid was reused by an unrelated process are never killed', async (t) => {
  const ws = workspace();
  t.teardown(() => ws.remove());
  const { spawn } = await import('node:child_process');
  const bystander = spawn('sleep', ['30'], { stdio: 'ignore' });
  t.teardown(() => bystander.kill('SIGKILL'));
  await new Promise((resolve) => bystander.once('spawn', resolve));
  const ledger = new Ledger(ws.stateDir, loadNative());
  await ledger.open();
  const bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  await ledger.append({ event: 'intent', faultId: 'reuse', runId: 'r', kind: 'linux-cpu-stress', target: 't', bootId, owner: { pid: 999_999, startTime: 1 }, revert: { tag: 'reuse', bootId, cgroups: [] } });
  // The bystander has the recorded pid but not the recorded start time: a reused pid.
  await ledger.append({ event: 'applied', faultId: 'reuse', revert: { tag: 'reuse', bootId, cgroups: [], pid: bystander.pid, startTime: 1 } });
  await ledger.close();
  const revert = await runCli(['revert', '--remnants'], ws.stateDir);
  t.is(revert.code, 0, revert.stdout + revert.stderr);
  t.regex(revert.stdout, /no stressor process was running/);
  await new Promise((resolve) => setTimeout(resolve, 200));
  t.is(bystander.exitCode, null);
  t.is(bystander.signalCode, null, 'bystander not signalled');
});

test('a stressor started just before a crash (intent only) is found by its tag and stopped', async (t) => {
  const ws = workspace();
  t.teardown(() => ws.remove());
  const { spawn } = await import('node:child_process');
  const { STRESSOR_BIN } = await import('../helpers/cli.js');
  const tag = `crash-${process.pid}`;
  const stressor = spawn(STRESSOR_BIN, ['cpu', '--workers=1', '--load-pct=5', `--tag=${tag}`], { stdio: 'ignore' });
  t.teardown(() => stressor.kill('SIGKILL'));
  t.true(await waitUntil(() => stressorsMatching(tag).length === 1, 3000));
  const ledger = new Ledger(ws.stateDir, loadNative());
  await ledger.open();
  const bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  await ledger.append({ event: 'intent', faultId: tag, runId: 'r', kind: 'linux-cpu-stress', target: 't', bootId, owner: { pid: 999_999, startTime: 1 }, revert: { tag, bootId, cgroups: [] } });
  await ledger.close();
  const revert = await runCli(['revert', '--remnants'], ws.stateDir);
  t.is(revert.code, 0, revert.stdout + revert.stderr);
  t.regex(revert.stdout, /stopped stressor/);
  t.deepEqual(stressorsMatching(tag), []);
});

test('bad input exits 2, names the field and creates no state', async (t) => {
  const ws = workspace();
  t.teardown(() => ws.remove());
  const file = ws.file('bad.json', experimentYaml([[{ kind: 'linux-cpu-stress', params: { load: 101 } }]]));
  const result = await runCli(['run', file], ws.stateDir);
  t.is(result.code, 2);
  t.regex(result.stderr, /spec\.steps\[0\]\.faults\[0\]\.params\.load: must be in 0–100 \(got 101\)/);
  t.false(existsSync(ws.stateDir), 'no state dir, no ledger');
  const missing = await runCli(['run', `${ws.dir}/nope.yaml`], ws.stateDir);
  t.is(missing.code, 2);
  t.regex(missing.stderr, /cannot read .*nope\.yaml: ENOENT/);
});

test('a live stressor recorded by a dead faultd (pid, start time, cgroup) is stopped and its cgroup removed', async (t) => {
  const ws = workspace();
  t.teardown(() => ws.remove());
  const { spawn } = await import('node:child_process');
  const { STRESSOR_BIN } = await import('../helpers/cli.js');
  const { detectCgroupLayout, stressCgroupDirs } = await import('../../src/host/cgroup.js');
  const tag = `orphan-${process.pid}`;
  // Not a child of any faultd: PDEATHSIG cannot help, only the revert can stop it.
  const stressor = spawn(STRESSOR_BIN, ['cpu', '--workers=1', '--load-pct=5', `--tag=${tag}`], { stdio: 'ignore' });
  t.teardown(() => stressor.kill('SIGKILL'));
  await new Promise((resolve) => stressor.once('spawn', resolve));
  const pid = stressor.pid ?? 0;
  const cgroups = stressCgroupDirs(detectCgroupLayout(), tag);
  t.true(cgroups.length > 0);
  for (const dir of cgroups) {
    mkdirSync(dir);
    t.teardown(() => existsSync(dir) && rmdirSync(dir));
    (await import('node:fs')).writeFileSync(`${dir}/cgroup.procs`, `${pid}\n`);
  }
  const startTime = loadNative().processStartTime(pid) ?? 0;
  const ledger = new Ledger(ws.stateDir, loadNative());
  await ledger.open();
  const bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  const revert = { tag, bootId, cgroups };
  await ledger.append({ event: 'intent', faultId: tag, runId: 'r', kind: 'linux-cpu-stress', target: 't', bootId, owner: { pid: 999_999, startTime: 1 }, revert });
  await ledger.append({ event: 'applied', faultId: tag, revert: { ...revert, pid, startTime } });
  await ledger.close();
  const result = await runCli(['revert', '--remnants'], ws.stateDir);
  t.is(result.code, 0, result.stdout + result.stderr);
  t.regex(result.stdout, new RegExp(`stopped stressor ${pid}`));
  t.true(await waitUntil(() => stressor.exitCode !== null || stressor.signalCode !== null, 2000));
  for (const dir of cgroups) t.false(existsSync(dir), `${dir} removed`);
});

test('a reader that goes away (faultd run … | head -1) is taken as SIGPIPE: faultd reverts, then exits 3', async (t) => {
  const { ws, start } = setup(t, [[CPU_FAULT]]);
  const child = start('--progress-interval', '100ms');
  await waitForLine(child, /fault applied/);
  const record = await appliedRecord(ws.stateDir);
  child.stdout.destroy(); // the pipe's read end closes: the next write gets EPIPE
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  t.is(code, 3, 'aborted, as by a signal');
  t.deepEqual(stressorsMatching(record.tag), []);
  t.regex((await runCli(['status'], ws.stateDir)).stdout, /Clean/);
  const help = spawnSync(`${process.execPath} ${FAULTD_BIN} --help | head -1`, { shell: true, encoding: 'utf8' });
  t.is(help.stderr, '', '--help into a closed pipe: no stack trace');
});

for (const kind of ['throw', 'reject'] as const) {
  test(`an internal error (${kind === 'throw' ? 'uncaught exception' : 'unhandled rejection'}) mid-experiment reverts what faultd applied before it exits 1`, async (t) => {
    const ws = workspace();
    t.teardown(() => ws.remove());
    const file = ws.file('exp.json', experimentYaml([[CPU_FAULT, { kind: 'linux-memory-stress', name: 'mem', duration: '60s', params: { memory: '32Mi' } }], [{ ...CPU_FAULT, name: 'later' }]]));
    const child = startCli(['--log-format', 'json', 'run', file], ws.stateDir, undefined, { FAULTD_TEST_FAILPOINT: `${kind}:1500` });
    t.teardown(() => child.kill('SIGKILL'));
    t.teardown(async () => {
      await runCli(['revert', '--remnants', '--force'], ws.stateDir);
    });
    await waitForLine(child, /fault applied/);
    const tags = (await appliedRecords(ws.stateDir)).map((r) => r.tag);
    const result = await finish(child);
    t.is(result.code, 1, result.stderr);
    t.regex(result.stderr, new RegExp(`faultd: internal error: Error: FAULTD_TEST_FAILPOINT ${kind}:1500`));
    t.regex(result.stderr, /after the internal error, the run was stopped and reverted; nothing it applied is left/);
    for (const tag of tags) t.deepEqual(stressorsMatching(tag), [], `stressor ${tag} stopped`);
    t.notRegex(result.stdout, /"id":"later"[^}]*"status":"(running|completed)"/, 'the later step never started');
    t.regex((await runCli(['status'], ws.stateDir)).stdout, /Clean/);
  });
}
