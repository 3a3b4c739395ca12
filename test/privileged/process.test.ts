// SPDX-License-Identifier: Apache-2.0
// linux-process-kill and linux-process-stop against processes the test starts (a copy of sleep
// under a name of its own, so no other process on the machine can match): what the kernel says
// of them (exit signal, /proc/<pid>/stat state), not faultd's report.
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, readFileSync } from 'node:fs';
import path from 'node:path';

import type { ExecutionContext } from 'ava';

import { experimentYaml, finish, runCli, startCli, waitForLine, workspace, type Workspace } from '../helpers/cli.js';
import { privilegedTest as test } from '../helpers/privileged.js';
import { waitUntil } from '../helpers/processes.js';

interface Target {
  readonly child: ChildProcess;
  readonly exited: Promise<NodeJS.Signals | null>;
}

/** A workspace with a copy of sleep named `name` (≤ 15 characters: it is the comm). */
function setUp(t: ExecutionContext): { ws: Workspace; name: string; bin: string; start: (...args: string[]) => Target } {
  const ws = workspace();
  const name = `fdt${process.pid % 100_000}${Math.floor(Math.random() * 1000)}`.slice(0, 15);
  const bin = path.join(ws.dir, name);
  copyFileSync('/bin/sleep', bin);
  const children: ChildProcess[] = [];
  t.teardown(async () => {
    for (const child of children) {
      child.kill('SIGCONT');
      child.kill('SIGKILL');
    }
    await runCli(['revert', '--remnants', '--force'], ws.stateDir);
    ws.remove();
  });
  const start = (...args: string[]): Target => {
    const child = spawn(bin, args.length ? args : ['300'], { stdio: 'ignore' });
    children.push(child);
    return { child, exited: new Promise((resolve) => child.on('exit', (_code, signal) => resolve(signal))) };
  };
  return { ws, name, bin, start };
}

const stateOf = (pid: number): string => {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0] ?? '?';
};

function run(ws: Workspace, fault: Record<string, unknown>, name = `exp-${Math.random().toString(36).slice(2)}.json`) {
  const file = ws.file(name, experimentYaml([[{ name: 'proc', duration: '1s', ...fault }]]));
  return startCli(['--log-format', 'json', 'run', file], ws.stateDir);
}

test('linux-process-kill, Harness spelling (PROCESS_NAMES): SIGTERM reaches every match; the result lists each pid', async (t) => {
  const { ws, name, start } = setUp(t);
  const targets = [start(), start()];
  const result = await finish(run(ws, { kind: 'linux-process-kill', params: { PROCESS_NAMES: name } }));
  t.is(result.code, 0, result.stdout + result.stderr);
  t.deepEqual(await Promise.all(targets.map((x) => x.exited)), ['SIGTERM', 'SIGTERM']);
  for (const x of targets) t.regex(result.stdout, new RegExp(`SIGTERM was sent to [^"]*${x.child.pid ?? 0} \\(start \\d+`));
});

test('forceKill sends SIGKILL; processCommand matches a substring of the command line; exclude and count leave the rest alone', async (t) => {
  const { ws, bin, start } = setUp(t);
  const [a, b, c] = [start('301'), start('302'), start('303')];
  const result = await finish(run(ws, { kind: 'linux-process-kill', params: { processCommand: `${bin} 30`, exclude: '302', count: 1, forceKill: 'true' } }));
  t.is(result.code, 0, result.stdout + result.stderr);
  t.is(await a.exited, 'SIGKILL', 'the lowest pid of the matches');
  t.is(b.child.exitCode, null);
  t.is(b.child.signalCode, null, 'excluded');
  t.is(c.child.signalCode, null, 'beyond count: 1');
});

test('a selector that matches nothing fails naming it; PID 1 and faultd itself are never targets', async (t) => {
  const { ws, name } = setUp(t);
  const none = await finish(run(ws, { kind: 'linux-process-kill', params: { processNames: `${name}x` } }));
  t.is(none.code, 1);
  // In the JSON log, quotes are escaped.
  t.regex(none.stdout + none.stderr, new RegExp(`processNames \\\\?"${name}x\\\\?": no process matches`));
  const init = await finish(run(ws, { kind: 'linux-process-kill', params: { processIDs: '1', forceKill: true } }));
  t.is(init.code, 1);
  t.regex(init.stdout + init.stderr, /processIDs \\?"1\\?": no process matches that faultd may signal \(protected: 1 /);
  // Matches only this faultd's own command line (its experiment file's unique path).
  const own = path.join(ws.dir, 'self-target.json');
  const self = await finish(run(ws, { kind: 'linux-process-kill', params: { processCommand: own, forceKill: true } }, 'self-target.json'));
  t.is(self.code, 1, 'faultd does not kill itself or its ancestors');
  t.regex(self.stdout + self.stderr, /no process matches that faultd may signal \(protected: \d+ /);
});

test('interval: a supervisor\'s restarts are killed again for the duration', async (t) => {
  const { ws, name, bin } = setUp(t);
  let restarts = 0;
  // Its own process group, so that the teardown kills the loop and the sleep it runs at once.
  const supervisor = spawn('bash', ['-c', `while true; do echo start; ${bin} 300; done`], { stdio: ['ignore', 'pipe', 'ignore'], detached: true });
  t.teardown(() => process.kill(-(supervisor.pid ?? 0), 'SIGKILL'));
  supervisor.stdout.on('data', (chunk: Buffer) => (restarts += chunk.toString().split('\n').filter((l) => l === 'start').length));
  t.true(await waitUntil(() => restarts === 1, 5000));
  const result = await finish(run(ws, { kind: 'linux-process-kill', duration: '2s', params: { processNames: name, interval: '300ms' } }));
  t.is(result.code, 0, result.stdout + result.stderr);
  const during = restarts;
  t.log(`the supervisor restarted its process ${during - 1} times in the 2 s fault (interval 300 ms)`);
  t.true(during - 1 >= 4, `${during - 1} restarts`);
  await new Promise((resolve) => setTimeout(resolve, 700));
  t.is(restarts, during, 'none after the fault: the interval stopped with the revert');
});

test('linux-process-stop: state T for the duration, running again after; kill -9 of faultd, then revert --remnants continues them', async (t) => {
  const { ws, name, start } = setUp(t);
  const target = start();
  const pid = target.child.pid ?? 0;
  const clean = run(ws, { kind: 'linux-process-stop', duration: '2s', params: { processNames: name } });
  await waitForLine(clean, /processes stopped/, 10_000);
  t.is(stateOf(pid), 'T', 'stopped during the fault');
  const result = await finish(clean);
  t.is(result.code, 0, result.stdout + result.stderr);
  t.is(stateOf(pid), 'S', 'continued by the revert');
  t.regex(result.stdout, new RegExp(`continued ${pid} `));

  const killed = run(ws, { kind: 'linux-process-stop', duration: '60s', params: { processIDs: pid } });
  await waitForLine(killed, /processes stopped/, 10_000);
  killed.kill('SIGKILL');
  await finish(killed);
  t.is(stateOf(pid), 'T', 'a SIGKILLed faultd leaves it stopped');
  const revert = await runCli(['revert', '--remnants'], ws.stateDir);
  t.is(revert.code, 0, revert.stdout + revert.stderr);
  t.is(stateOf(pid), 'S', 'revert --remnants continues it');
  t.is(target.child.exitCode, null);
});

test('linux-process-stop leaves out a process someone else stopped, and continues only its own', async (t) => {
  const { ws, name, start } = setUp(t);
  const [mine, theirs] = [start(), start()];
  theirs.child.kill('SIGSTOP');
  t.true(await waitUntil(() => stateOf(theirs.child.pid ?? 0) === 'T', 2000));
  const result = await finish(run(ws, { kind: 'linux-process-stop', params: { processNames: name } }));
  t.is(result.code, 0, result.stdout + result.stderr);
  t.is(stateOf(mine.child.pid ?? 0), 'S');
  t.is(stateOf(theirs.child.pid ?? 0), 'T', 'not ours to continue');
});

test('linux-process-stop with a zombie among its targets: the zombie (exited, not reaped) is left out and named, never counted as stopped; the live target is stopped and continued', async (t) => {
  const { ws, name, bin, start } = setUp(t);
  const live = start();
  // A parent that never reaps: the copy of sleep exits at once and stays a zombie under `sleep 300`.
  const parent = spawn('sh', ['-c', `"${bin}" 0 & exec sleep 300`], { stdio: 'ignore' });
  t.teardown(() => parent.kill('SIGKILL'));
  let zombie = 0;
  t.true(await waitUntil(() => {
    for (const task of readFileSync(`/proc/${parent.pid ?? 0}/task/${parent.pid ?? 0}/children`, 'utf8').split(' ').filter(Boolean)) {
      if (stateOf(Number(task)) === 'Z') zombie = Number(task);
    }
    return zombie !== 0;
  }, 3000), 'a zombie child');
  const child = run(ws, { kind: 'linux-process-stop', duration: '2s', params: { processIDs: `${live.child.pid ?? 0},${zombie}` } });
  const line = await waitForLine(child, /processes stopped/, 10_000);
  t.is(stateOf(live.child.pid ?? 0), 'T');
  t.is(stateOf(zombie), 'Z');
  const logged = JSON.parse(line) as { stopped: { pid: number }[]; leftOut?: { pid: number; state: string }[] };
  t.deepEqual(logged.stopped.map((p) => p.pid), [live.child.pid ?? 0], 'only the live process is reported stopped');
  t.deepEqual(logged.leftOut, [{ pid: zombie, state: 'Z' }]);
  const result = await finish(child);
  t.is(result.code, 0, result.stdout + result.stderr);
  t.is(stateOf(live.child.pid ?? 0), 'S');
  const onlyZombie = await finish(run(ws, { kind: 'linux-process-stop', params: { processNames: name, exclude: '300' } }));
  t.is(onlyZombie.code, 1, onlyZombie.stdout + onlyZombie.stderr);
  t.regex(onlyZombie.stdout + onlyZombie.stderr, new RegExp(`processNames \\\\"${name}\\\\": no process matches that can be stopped; left out: ${zombie} \\(exited, a zombie\\)`));
});

test('bad input names the field and changes nothing', async (t) => {
  const { ws, name, start } = setUp(t);
  const target = start();
  const cases: [Record<string, unknown>, RegExp][] = [
    [{}, /processNames: give processIDs, processCommand or processNames/],
    [{ processIDs: 'abc' }, /processIDs: must be process ids/],
    [{ processNames: name, count: 1, percentage: 50 }, /count: give count or percentage, not both/],
    [{ processNames: name, signal: 'SIGFOO' }, /signal: must be a signal name or number/],
    [{ processNames: name, signal: 'SIGHUP', forceKill: true }, /signal: SIGHUP contradicts forceKill/],
    [{ processNames: name, interval: '25h' }, /interval: must be in 0s–24h/],
    [{ processNames: name, signal: 'STOP' }, /signal: SIGSTOP stops processes, and nothing here would continue them: use linux-process-stop/],
  ];
  for (const [params, message] of cases) {
    const result = await finish(run(ws, { kind: 'linux-process-kill', params }));
    t.is(result.code, 2, JSON.stringify(params));
    t.regex(result.stdout + result.stderr, message);
  }
  t.is(target.child.signalCode, null);
  t.is(stateOf(target.child.pid ?? 0), 'S');
});
