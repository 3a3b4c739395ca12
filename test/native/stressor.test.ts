// SPDX-License-Identifier: Apache-2.0
// The real stressor executable, no privileges: load sanity (loose; the bench checks the strict
// targets), memory residency, dying with its parent, clean stop on SIGTERM.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { readFileSync } from 'node:fs';

import anyTest from 'ava';

// Serial: the load measurements must not share the CPUs with this file's other stressors.
const test = anyTest.serial;

import { STRESSOR_BIN } from '../helpers/cli.js';
import { runTimeNs, stressorsMatching, waitUntil } from '../helpers/processes.js';

interface Started {
  readonly child: ChildProcessWithoutNullStreams;
  /** Resolves when stdout has shown `text` (collected from spawn on, so nothing is missed). */
  printed: (text: string) => Promise<void>;
}

function startStressor(t: import('ava').ExecutionContext, args: string[]): Promise<Started> {
  const child = spawn(STRESSOR_BIN, [...args, `--tag=test-${process.pid}`]);
  t.teardown(() => child.kill('SIGKILL'));
  let out = '';
  const waiters: { text: string; resolve: () => void }[] = [];
  child.stdout.on('data', (chunk: Buffer) => {
    out += chunk.toString();
    for (const w of waiters) if (out.includes(w.text)) w.resolve();
  });
  const printed = (text: string) =>
    new Promise<void>((resolve) => {
      if (out.includes(text)) resolve();
      else waiters.push({ text, resolve });
    });
  return new Promise((resolve, reject) => {
    void printed('"ready"').then(() => resolve({ child, printed }));
    child.once('exit', (code) => reject(new Error(`stressor exited ${String(code)}`)));
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test('CPU load of one worker at 50 % is within 3 pp over 3 s', async (t) => {
  const { child } = await startStressor(t, ['cpu', '--workers=1', '--load-pct=50']);
  await sleep(200);
  const ns0 = runTimeNs(child.pid!);
  const t0 = process.hrtime.bigint();
  await sleep(3000);
  const pct = (100 * (runTimeNs(child.pid!) - ns0)) / Number(process.hrtime.bigint() - t0);
  t.log(`measured ${pct.toFixed(2)} %`);
  t.true(Math.abs(pct - 50) <= 3, `measured ${pct.toFixed(2)} %`);
});

test('memory stress holds the asked resident size within 2 %', async (t) => {
  const bytes = 256 * 1024 * 1024;
  const { child, printed } = await startStressor(t, ['memory', '--workers=2', `--bytes-per-worker=${bytes / 2}`]);
  await printed('"populated"');
  const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
  const rss = Number(/^RssAnon:\s+(\d+) kB/m.exec(status)?.[1]) * 1024;
  t.log(`RssAnon ${(rss / 1024 ** 2).toFixed(1)} MiB of ${bytes / 1024 ** 2} MiB`);
  t.true(Math.abs(rss - bytes) / bytes <= 0.02, `RssAnon ${rss}`);
});

test('SIGTERM stops the stressor cleanly with exit code 0', async (t) => {
  const { child } = await startStressor(t, ['cpu', '--workers=2', '--load-pct=100']);
  const exit = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const sent = Date.now();
  child.kill('SIGTERM');
  t.is(await exit, 0);
  t.true(Date.now() - sent < 500, `stopped in ${Date.now() - sent} ms`);
});

test('the stressor dies with its parent (PR_SET_PDEATHSIG)', async (t) => {
  const tag = `orphan-${process.pid}-${Date.now()}`;
  const script = `const c=require('child_process').spawn(${JSON.stringify(STRESSOR_BIN)},['cpu','--workers=1','--load-pct=5','--tag=${tag}','--parent-pid='+process.pid],{stdio:'ignore'});setInterval(()=>{},1000);`;
  const parent = spawn(process.execPath, ['-e', script], { stdio: 'ignore' });
  t.teardown(() => {
    parent.kill('SIGKILL');
    for (const pid of stressorsMatching(tag)) process.kill(pid, 'SIGKILL');
  });
  t.true(await waitUntil(() => stressorsMatching(tag).length === 1, 5000), 'stressor started');
  parent.kill('SIGKILL');
  t.true(await waitUntil(() => stressorsMatching(tag).length === 0, 3000), 'stressor gone after its parent died');
});

test('bad stressor arguments exit with code 2', async (t) => {
  const child = spawn(STRESSOR_BIN, ['cpu', '--workers=x']);
  const code = await new Promise((resolve) => child.once('exit', resolve));
  t.is(code, 2);
});
