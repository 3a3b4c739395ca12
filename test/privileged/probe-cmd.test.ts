// SPDX-License-Identifier: Apache-2.0
// The cmd check as root against the real kernel: who the command runs as (its own uid, gid and
// groups as the kernel reports them), what it sees (environment, cwd, argv without a shell), and
// that a timeout or an exit leaves no process of its group alive (checked by pid in /proc).
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import type { ExecutionContext } from 'ava';

import { lookupUser, resolveCmdUser } from '../../src/probes/checks/cmd-user.js';
import { createCmdCheck, SAFE_PATH } from '../../src/probes/checks/cmd.js';
import type { CheckEnvironment, CmdCheckSpec, Comparison, ProbeCheck } from '../../src/probes/types.js';
import { privilegedTest as test } from '../helpers/privileged.js';
import { waitUntil } from '../helpers/processes.js';

const NEVER = new AbortController().signal;
const EXIT_0: Comparison = { type: 'int', criteria: '==', value: 0 };

function environment(): CheckEnvironment {
  return { cmdUser: resolveCmdUser({ user: 'nobody', allowRoot: false }) };
}

function cmd(command: readonly string[], more: Partial<Omit<CmdCheckSpec, 'criteria'>> & { criteria?: Partial<CmdCheckSpec['criteria']> } = {}): CmdCheckSpec {
  const { criteria, ...rest } = more;
  return { type: 'cmd', command, shell: false, env: {}, ...rest, criteria: { exitCode: EXIT_0, ...criteria } };
}

function check(t: ExecutionContext, spec: CmdCheckSpec): ProbeCheck {
  const made = createCmdCheck(spec, environment());
  t.teardown(() => made.close());
  return made;
}

/** A directory the probes user can read and write (owned by it), removed at teardown. */
function sharedDir(t: ExecutionContext): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'faultd-probe-cmd-'));
  const { uid, gid } = environment().cmdUser;
  chownSync(dir, uid, gid);
  chmodSync(dir, 0o755);
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Alive: /proc/<pid> exists and is not a zombie. */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0] !== 'Z';
  } catch {
    return false;
  }
}

function pidsIn(file: string): number[] {
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean).map(Number) : [];
}

test('runs as the probes user (nobody): its uid, gid and no supplementary groups, though faultd has some', async (t) => {
  const nobody = lookupUser('nobody');
  t.truthy(nobody);
  const before = process.getgroups!();
  process.setgroups!([0, 4, 27]);
  t.teardown(() => process.setgroups!(before));
  t.regex(readFileSync('/proc/self/status', 'utf8'), /^Groups:\s*0 4 27\s*$/m, 'the test process itself has supplementary groups');
  t.regex(spawnSync('cat', ['/proc/self/status'], { encoding: 'utf8' }).stdout, /^Groups:\s*0 4 27\s*$/m, 'and a child inherits them unless they are dropped');
  const uid = await check(t, cmd(['id', '-u'], { criteria: { stdout: { type: 'int', criteria: '==', value: nobody?.uid ?? -1 } } })).attempt(5000, NEVER);
  t.like(uid, { passed: true, observed: `exit 0, stdout "${nobody?.uid ?? ''}"`, criterion: `exitCode (int) == 0, stdout (int) == ${nobody?.uid ?? ''}` });
  const gid = await check(t, cmd(['id', '-g'], { criteria: { stdout: { type: 'int', criteria: '==', value: nobody?.gid ?? -1 } } })).attempt(5000, NEVER);
  t.true(gid.passed, gid.observed);
  // The kernel's view of the command's credentials: Groups: is empty.
  const status = await check(t, cmd(['cat', '/proc/self/status'], { criteria: { stdout: { type: 'string', criteria: 'matches', value: '\\nGroups:[ \\t]*\\n' } } })).attempt(5000, NEVER);
  t.true(status.passed, 'no supplementary group reached the command');
  const rootOnly = path.join(sharedDir(t), 'root-only');
  writeFileSync(rootOnly, 'secret\n', { mode: 0o600 });
  const denied = await check(t, cmd(['cat', rootOnly])).attempt(5000, NEVER);
  t.false(denied.passed);
  t.regex(denied.observed, /^exit 1, stdout "", stderr "cat: .*Permission deni/);
});

test('reads a file the test changes: stdout (int) >= 3 passes at 5, fails at 1', async (t) => {
  const file = path.join(sharedDir(t), 'ready');
  writeFileSync(file, '5\n', { mode: 0o644 });
  const probe = check(t, cmd(['cat', file], { criteria: { stdout: { type: 'int', criteria: '>=', value: 3 } } }));
  t.like(await probe.attempt(5000, NEVER), { passed: true, observed: 'exit 0, stdout "5"', criterion: 'exitCode (int) == 0, stdout (int) >= 3' });
  writeFileSync(file, '1\n');
  t.like(await probe.attempt(5000, NEVER), { passed: false, observed: 'exit 0, stdout "1"' });
  writeFileSync(file, 'starting\n');
  t.like(await probe.attempt(5000, NEVER), { passed: false, error: 'stdout: expected an integer, saw "starting"' });
});

test('exit code criteria: the default == 0, an explicit == 3, oneOf', async (t) => {
  const three = ['sh', '-c', 'echo failing >&2; exit 3'];
  const byDefault = await check(t, cmd(three)).attempt(5000, NEVER);
  t.like(byDefault, { passed: false, observed: 'exit 3, stdout "", stderr "failing"' });
  t.is(byDefault.error, undefined);
  t.true((await check(t, cmd(three, { criteria: { exitCode: { type: 'int', criteria: '==', value: 3 } } })).attempt(5000, NEVER)).passed);
  t.true((await check(t, cmd(three, { criteria: { exitCode: { type: 'int', criteria: 'oneOf', value: [0, 3] } } })).attempt(5000, NEVER)).passed);
  t.true((await check(t, cmd(['true'])).attempt(5000, NEVER)).passed);
  t.false((await check(t, cmd(['false'])).attempt(5000, NEVER)).passed);
});

test('a timeout kills the whole process group: the shell and both background sleeps are gone', async (t) => {
  const dir = sharedDir(t);
  const pids = path.join(dir, 'pids');
  const probe = check(t, cmd([`echo $$ > ${pids}; sleep 100 & echo $! >> ${pids}; sleep 100 & echo $! >> ${pids}; wait`], { shell: true }));
  const started = performance.now();
  const attempt = probe.attempt(800, NEVER);
  t.true(await waitUntil(() => pidsIn(pids).length === 3, 5000), 'the command wrote its three pids');
  const started3 = pidsIn(pids);
  t.teardown(() => {
    for (const pid of started3) if (alive(pid)) process.kill(pid, 'SIGKILL');
  });
  t.true(started3.every(alive), 'all three were running before the deadline');
  const outcome = await attempt;
  const elapsed = performance.now() - started;
  t.like(outcome, { passed: false, error: 'timed out after 800 ms' });
  t.regex(outcome.observed, /^signal SIGKILL/);
  t.true(elapsed >= 795 && elapsed < 800 + 500, `returned after ${elapsed} ms`);
  t.true(await waitUntil(() => !started3.some(alive), 1000), `still alive: ${started3.filter(alive).join(', ')}`);
});

test('when the command exits, what it left in its group is killed (and its stdout no longer holds the attempt)', async (t) => {
  const dir = sharedDir(t);
  const pids = path.join(dir, 'pids');
  const probe = check(t, cmd([`sleep 100 & echo $! > ${pids}; echo done`], { shell: true, criteria: { stdout: { type: 'string', criteria: '==', value: 'done' } } }));
  const started = performance.now();
  const outcome = await probe.attempt(10_000, NEVER);
  t.like(outcome, { passed: true, observed: 'exit 0, stdout "done"' });
  t.true(performance.now() - started < 2000, 'the background sleep did not keep the attempt waiting');
  const [sleeper] = pidsIn(pids);
  t.truthy(sleeper);
  t.teardown(() => {
    if (sleeper !== undefined && alive(sleeper)) process.kill(sleeper, 'SIGKILL');
  });
  t.true(await waitUntil(() => !alive(sleeper ?? 0), 1000), `background sleep ${sleeper ?? '?'} still alive`);
});

test('a process that left the group (setsid) and holds stdout does not hold the attempt', async (t) => {
  const dir = sharedDir(t);
  const pids = path.join(dir, 'pids');
  const probe = check(t, cmd([`setsid sh -c 'echo $$ > ${pids}; exec sleep 100' & while [ ! -s ${pids} ]; do sleep 0.05; done; echo started`], { shell: true }));
  const started = performance.now();
  const outcome = await probe.attempt(10_000, NEVER);
  t.true(await waitUntil(() => pidsIn(pids).length === 1, 5000));
  const [escaped = 0] = pidsIn(pids);
  t.teardown(() => {
    if (alive(escaped)) process.kill(escaped, 'SIGKILL');
  });
  t.like(outcome, { passed: true, observed: 'exit 0, stdout "started"' });
  t.true(performance.now() - started < 2000, `took ${performance.now() - started} ms`);
  t.true(alive(escaped), 'it really escaped the group (so the group kill could not end it)');
});

test('the caller\'s abort kills the command too', async (t) => {
  const dir = sharedDir(t);
  const pids = path.join(dir, 'pids');
  const probe = check(t, cmd([`echo $$ > ${pids}; exec sleep 100`], { shell: true }));
  const controller = new AbortController();
  const attempt = probe.attempt(60_000, controller.signal);
  t.true(await waitUntil(() => pidsIn(pids).length === 1, 5000));
  const [pid = 0] = pidsIn(pids);
  t.true(alive(pid));
  controller.abort();
  t.like(await attempt, { passed: false, error: 'aborted' });
  t.true(await waitUntil(() => !alive(pid), 1000));
});

test('close() kills a command still running; later attempts are refused', async (t) => {
  const dir = sharedDir(t);
  const pids = path.join(dir, 'pids');
  const probe = createCmdCheck(cmd([`echo $$ > ${pids}; exec sleep 100`], { shell: true }), environment());
  const attempt = probe.attempt(60_000, NEVER);
  t.true(await waitUntil(() => pidsIn(pids).length === 1, 5000));
  const [pid = 0] = pidsIn(pids);
  t.teardown(() => {
    if (alive(pid)) process.kill(pid, 'SIGKILL');
  });
  await probe.close();
  t.like(await attempt, { passed: false, error: 'check closed' });
  t.true(await waitUntil(() => !alive(pid), 1000));
  t.like(await probe.attempt(5000, NEVER), { passed: false, error: 'check closed' });
});

test('without shell: argv is not expanded ($HOME stays literal); with shell: true it is (nobody\'s home)', async (t) => {
  const home = lookupUser('nobody')?.home ?? '/';
  const literal = await check(t, cmd(['echo', '$HOME', '*'], { criteria: { stdout: { type: 'string', criteria: '==', value: '$HOME *' } } })).attempt(5000, NEVER);
  t.like(literal, { passed: true, observed: 'exit 0, stdout "$HOME *"' });
  const expanded = await check(t, cmd(['echo $HOME'], { shell: true, criteria: { stdout: { type: 'string', criteria: '==', value: home } } })).attempt(5000, NEVER);
  t.like(expanded, { passed: true, observed: `exit 0, stdout "${home}"` });
});

test('environment: only PATH, HOME, LANG and the probe\'s env (nothing of faultd\'s own); cwd as given, / by default', async (t) => {
  process.env['FAULTD_TEST_PROBE_LEAK'] = 'leaked';
  t.teardown(() => delete process.env['FAULTD_TEST_PROBE_LEAK']);
  const home = lookupUser('nobody')?.home ?? '/';
  const expected = [`PATH=${SAFE_PATH}`, `HOME=${home}`, 'LANG=C.UTF-8', 'GREETING=hello world'].join('\n');
  const env = await check(t, cmd(['env'], { env: { GREETING: 'hello world' }, criteria: { stdout: { type: 'string', criteria: '==', value: expected } } })).attempt(5000, NEVER);
  t.true(env.passed, env.observed);
  const dir = sharedDir(t);
  t.true((await check(t, cmd(['pwd'], { cwd: dir, criteria: { stdout: { type: 'string', criteria: '==', value: dir } } })).attempt(5000, NEVER)).passed);
  t.true((await check(t, cmd(['pwd'], { criteria: { stdout: { type: 'string', criteria: '==', value: '/' } } })).attempt(5000, NEVER)).passed);
});

test('a missing executable or working directory is a clear error, not a crash', async (t) => {
  const missing = await check(t, cmd(['faultd-no-such-command'])).attempt(5000, NEVER);
  t.like(missing, { passed: false, observed: '-' });
  t.regex(missing.error ?? '', /^cannot start "faultd-no-such-command": no such executable \(ENOENT/);
  const noDir = await check(t, cmd(['true'], { cwd: '/nonexistent-faultd-dir' })).attempt(5000, NEVER);
  t.regex(noDir.error ?? '', /working directory \/nonexistent-faultd-dir does not exist/);
});

test('output beyond 64 KiB is dropped and noted; the attempt still ends', async (t) => {
  const outcome = await check(t, cmd(['head -c 200000 /dev/zero | tr "\\0" a'], { shell: true, criteria: { stdout: { type: 'string', criteria: 'matches', value: '^a{65536}$' } } })).attempt(5000, NEVER);
  t.true(outcome.passed, outcome.error ?? outcome.observed);
  t.regex(outcome.observed, /^exit 0, stdout "a{60}…" \(cut at 64 KiB\)$/);
});
