// SPDX-License-Identifier: Apache-2.0
// faultd as a systemd service inside a real systemd (nspawn, see container.ts): installed with
// `faultd install`, talking to a hub in the same container. Kill torture (kill -9 of the agent at
// a random moment of a run with CPU, memory and two network faults: a tbf qdisc and an nf_tables
// partition), a graceful reboot and a hard stop mid-run, and a revert made impossible. The number of kills is FAULTD_SYSTEM_KILLS
// (3 in `npm test`, 20 in `npm run test:system`).
import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import test, { type ExecutionContext } from 'ava';

import { HubService } from '../../src/hub/service.js';
import { SqliteHubStore } from '../../src/hub/sqlite-store.js';
import { Container, ensureRootfs, HUB_DIR, REPO, sleep, systemSuiteMissing } from './container.js';

const KILLS = Number(process.env['FAULTD_SYSTEM_KILLS'] ?? 3);
const missing = systemSuiteMissing();
const systemTest = missing ? test.skip : test.serial;
if (missing) test.skip(`system suite skipped: ${missing}`, () => undefined);

/** Checks, in one exec, that nothing of faultd is left in the container; prints what is. */
const LEFTOVERS = `
left=""
pgrep -x faultd-stressor >/dev/null && left="$left stressor"
tc qdisc show dev fd0 | grep -Eq "tbf|htb|netem|prio" && left="$left qdisc"
nft list tables | grep -q faultd && left="$left nft"
ip -o link show type ifb | grep -q . && left="$left ifb"
ls -a /mnt/fill 2>/dev/null | grep -q faultd-fill && left="$left fill-file"
/usr/bin/node /opt/faultd/bin/faultd.js --state-dir /var/lib/faultd status | grep -q '^Clean' || left="$left ledger"
echo "left:$left"
`;

interface Rig {
  readonly c: Container;
  readonly hub: HubService;
}

function experiment(name: string, extra: Record<string, unknown>[] = []) {
  return {
    apiVersion: 'faultd/v1',
    kind: 'Experiment',
    metadata: { name },
    spec: {
      steps: [
        {
          faults: [
            { kind: 'linux-cpu-stress', name: 'cpu', duration: '60s', params: { load: 20, workers: 1 } },
            { kind: 'linux-memory-stress', name: 'mem', duration: '60s', params: { memory: '32Mi' } },
            { kind: 'linux-network-rate-limit', name: 'rate', duration: '60s', params: { networkInterfaces: 'fd0', networkBandwidth: '1mbit' } },
            { kind: 'linux-network-partition', name: 'cut', duration: '60s', params: { networkInterfaces: 'fd0', destinationIPs: '10.99.0.2' } },
            ...extra,
          ],
        },
      ],
    },
  };
}

/** A container with the hub and faultd installed by `faultd install`, the agent READY. */
async function rig(t: ExecutionContext): Promise<Rig> {
  const c = Container.create(ensureRootfs((line) => t.log(line)));
  t.teardown(() => c.destroy());
  const hubDir = path.join(c.root, HUB_DIR);
  execFileSync(process.execPath, [path.join(REPO, 'bin/faultd.js'), 'hub', '--hub-dir', hubDir, 'init']);
  const store = new SqliteHubStore(path.join(hubDir, 'hub.db'));
  t.teardown(() => store.close());
  const hub = new HubService(store);
  const { id, accessKey } = hub.createInfra('container');
  writeFileSync(path.join(c.root, 'root/access-key'), `${accessKey}\n`, { mode: 0o600 });
  t.log(`booted in ${await c.boot()} ms`);
  const installed = c.faultd(['install', '--hub-url', 'https://127.0.0.1:8443', '--infra-id', id, '--access-key-file', '/root/access-key', '--ca-file', `${HUB_DIR}/tls/ca.pem`]);
  if (installed.code !== 0) throw new Error(`faultd install failed: ${installed.stdout}${installed.stderr}`);
  return { c, hub };
}

function leftovers(c: Container): string {
  const out = c.exec(['sh', '-c', LEFTOVERS]).stdout.trim();
  return out.replace(/^left:/, '').trim();
}

function mainPid(c: Container): number {
  return Number(c.exec(['systemctl', 'show', '-p', 'MainPID', '--value', 'faultd.service']).stdout.trim());
}

async function waitFor<T>(what: string, probe: () => T | undefined | false, timeoutMs: number, everyMs = 50): Promise<T> {
  const started = Date.now();
  for (;;) {
    const value = probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() - started > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(everyMs);
  }
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)] ?? NaN;
}

/** Waits until the agent has the run; a run that ended instead (rejected, failed) says why. */
async function runStarted(hub: HubService, runId: string): Promise<void> {
  const state = await waitFor('the run started', () => {
    const now = hub.run(runId)?.state;
    return now === 'running' || now === 'finished' ? now : undefined;
  }, 20_000);
  if (state === 'finished') throw new Error(`the run ended before it could be interrupted: ${JSON.stringify(hub.run(runId)?.result)}`);
}

/** `journalctl -b -u faultd` lines of this boot, oldest first. */
function journal(c: Container): string[] {
  return c.exec(['journalctl', '-b', '-u', 'faultd.service', '-o', 'cat', '--no-pager']).stdout.split('\n');
}

systemTest(`kill torture: ${KILLS} × kill -9 of the agent mid-run; each time the host is clean within 10 s and the hub gets an interrupted result`, async (t) => {
  const { c, hub } = await rig(t);
  const times: number[] = [];
  for (let i = 0; i < KILLS; i += 1) {
    const run = hub.queueRun('container', experiment(`torture-${i}`));
    await runStarted(hub, run.id);
    await sleep(Math.random() * 1500); // a random moment: applying, or applied
    const pid = mainPid(c);
    t.true(pid > 0);
    c.exec(['kill', '-9', String(pid)]);
    const killed = Date.now();
    let left = '';
    await waitFor(`clean after the kill (left: ${left})`, () => (left = leftovers(c)) === '', 10_000, 20).catch((error: unknown) => {
      throw new Error(`${String(error)}; still left: ${left}\n${journal(c).slice(-40).join('\n')}`);
    });
    times.push(Date.now() - killed);
    await waitFor('the interrupted result', () => hub.run(run.id)?.state === 'finished', 10_000 - (Date.now() - killed) + 5000);
    const result = hub.run(run.id)?.result;
    t.is(result?.verdict, 'interrupted', JSON.stringify(result));
    t.regex(result?.reason ?? '', /stopped abruptly/);
    await waitFor('the agent is back', () => mainPid(c) !== pid && mainPid(c) > 0, 10_000);
  }
  const sorted = [...times].sort((a, b) => a - b);
  t.log(`SIGKILL → clean host over ${KILLS} kills: p50 ${percentile(sorted, 0.5)} ms, p99 ${percentile(sorted, 0.99)} ms, max ${sorted.at(-1)} ms`);
  t.true((sorted.at(-1) ?? Infinity) <= 10_000);
  const restarts = Number(c.exec(['systemctl', 'show', '-p', 'NRestarts', '--value', 'faultd.service']).stdout.trim());
  t.is(restarts, KILLS, 'systemd restarted the agent after each kill');
});

systemTest('systemctl reboot mid-run: after the boot, remnants are reverted before the agent starts and the hub sees interrupted by reboot', async (t) => {
  const { c, hub } = await rig(t);
  const run = hub.queueRun('container', experiment('reboot'));
  await runStarted(hub, run.id);
  await waitFor('faults applied', () => c.exec(['pgrep', '-x', 'faultd-stressor']).code === 0, 10_000);
  c.exec(['systemctl', 'reboot']);
  t.is(await c.exited(), 133, 'nspawn reports a reboot');
  await c.boot();
  await waitFor('the result', () => hub.run(run.id)?.state === 'finished', 30_000);
  const result = hub.run(run.id)?.result;
  t.is(result?.verdict, 'interrupted');
  t.regex(result?.reason ?? '', /^interrupted by reboot/);
  t.is(leftovers(c), '');
  const lines = journal(c);
  const reverted = lines.findIndex((l) => /^No remnants|remnant\(s\)/.test(l));
  const started = lines.findIndex((l) => /agent started/.test(l));
  t.true(reverted >= 0 && started > reverted, `revert --remnants (line ${reverted}) before the agent (line ${started}):\n${lines.join('\n')}`);
});

systemTest('a hard stop mid-run (every process killed at once): the next boot reverts the fill file and the hub sees interrupted by reboot with it', async (t) => {
  const { c, hub } = await rig(t);
  const fill = { kind: 'linux-disk-fill', name: 'fill', duration: '60s', params: { path: '/mnt/fill', size: '16Mi', keepFree: '4Mi' } };
  const run = hub.queueRun('container', experiment('hard-stop', [fill]));
  await waitFor('the fill file', () => readdirSync(c.fillDir).some((n) => n.startsWith('.faultd-fill-')), 20_000);
  await c.hardStop();
  t.true(readdirSync(c.fillDir).some((n) => n.startsWith('.faultd-fill-')), 'the fill file outlives the container');
  await c.boot();
  await waitFor('the result', () => hub.run(run.id)?.state === 'finished', 30_000);
  const result = hub.run(run.id)?.result;
  t.is(result?.verdict, 'interrupted');
  t.regex(result?.reason ?? '', /^interrupted by reboot/);
  const filled = result?.faults.find((f) => f.faultId === 'fill');
  t.regex(filled?.revert ?? '', /deleted \/mnt\/fill\/\.faultd-fill-/, JSON.stringify(result?.faults));
  t.is(leftovers(c), '');
  const lines = journal(c);
  const reverted = lines.findIndex((l) => /remnant\(s\)/.test(l));
  const started = lines.findIndex((l) => /agent started/.test(l));
  t.true(reverted >= 0 && started > reverted, lines.join('\n'));
});

systemTest('a revert made impossible (chattr +i on the fill file): the log and faultd status say what is left and how to fix it; the service keeps running', async (t) => {
  const { c, hub } = await rig(t);
  const fill = { kind: 'linux-disk-fill', name: 'fill', duration: '60s', params: { path: '/mnt/fill', size: '8Mi', keepFree: '4Mi' } };
  const run = hub.queueRun('container', { ...experiment('revert-fails'), spec: { steps: [{ faults: [fill] }] } });
  const name = await waitFor('the fill file', () => readdirSync(c.fillDir).find((n) => n.startsWith('.faultd-fill-')), 20_000);
  const inside = `/mnt/fill/${name}`;
  execFileSync('chattr', ['+i', path.join(c.fillDir, name)]);
  t.teardown(() => void spawnSync('chattr', ['-i', path.join(c.fillDir, name)]));
  hub.requestAbort(run.id);
  await waitFor('the result', () => hub.run(run.id)?.state === 'finished', 15_000);
  t.is(hub.run(run.id)?.result?.verdict, 'revert-failed');
  const logs = hub.runLogs(run.id, 0).map((e) => `${e.message} ${JSON.stringify(e.fields ?? {})}`).join('\n');
  t.true(logs.includes(`chattr -i ${inside} && rm -f ${inside}`), logs);
  const status = c.faultd(['--state-dir', '/var/lib/faultd', 'status']);
  t.regex(status.stdout, /REVERT-FAILED/);
  t.true(status.stdout.includes(`chattr -i ${inside} && rm -f ${inside}`), status.stdout);
  t.is(c.exec(['systemctl', 'is-active', 'faultd.service']).stdout.trim(), 'active', 'the service keeps running');
  execFileSync('chattr', ['-i', path.join(c.fillDir, name)]);
  t.is(c.faultd(['--state-dir', '/var/lib/faultd', 'revert', '--remnants']).code, 0);
  t.is(leftovers(c), '');
});
