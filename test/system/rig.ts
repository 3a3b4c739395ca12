// SPDX-License-Identifier: Apache-2.0
/**
 * The system suite's rig, shared by test/system and bench/system: a container (container.ts)
 * with a hub inside and faultd installed by `faultd install`, plus the probes both use (what
 * is left of faultd in the container, the agent's pid, the journal) and one kill -9 measured.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';

import { HubService } from '../../src/hub/service.js';
import { SqliteHubStore } from '../../src/hub/sqlite-store.js';
import { Container, ensureRootfs, FAULTD, HUB_DIR, REPO, sleep } from './container.js';

export interface Rig {
  readonly c: Container;
  readonly hub: HubService;
  /** Closes the hub database, then powers the container off and deletes it. */
  destroy(): Promise<void>;
}

/** Checks, in one exec, that nothing of faultd is left in the container; prints what is. */
const leftoversScript = (faultd: string): string => `
left=""
pgrep -x faultd-stressor >/dev/null && left="$left stressor"
tc qdisc show dev fd0 | grep -Eq "tbf|htb|netem|prio" && left="$left qdisc"
nft list tables | grep -q faultd && left="$left nft"
ip -o link show type ifb | grep -q . && left="$left ifb"
ls -a /mnt/fill 2>/dev/null | grep -q faultd-fill && left="$left fill-file"
${faultd} --state-dir /var/lib/faultd status | grep -q '^Clean' || left="$left ledger"
echo "left:$left"
`;

export function experiment(name: string, extra: Record<string, unknown>[] = []) {
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
export async function bootRig(log: (line: string) => void): Promise<Rig> {
  const c = Container.create(ensureRootfs(log));
  let store: SqliteHubStore | undefined;
  const destroy = async (): Promise<void> => {
    store?.close();
    await c.destroy();
  };
  try {
    const hubDir = path.join(c.root, HUB_DIR);
    execFileSync(process.execPath, [path.join(REPO, 'bin/faultd.js'), 'hub', '--hub-dir', hubDir, 'init']);
    store = new SqliteHubStore(path.join(hubDir, 'hub.db'));
    const hub = new HubService(store);
    const { id, accessKey } = await hub.createInfra('container');
    writeFileSync(path.join(c.root, 'root/access-key'), `${accessKey}\n`, { mode: 0o600 });
    log(`booted in ${await c.boot()} ms`);
    const installed = c.faultd(['install', '--hub-url', 'https://127.0.0.1:8443', '--infra-id', id, '--access-key-file', '/root/access-key', '--ca-file', `${HUB_DIR}/tls/ca.pem`]);
    if (installed.code !== 0) throw new Error(`faultd install failed: ${installed.stdout}${installed.stderr}`);
    return { c, hub, destroy };
  } catch (error) {
    await destroy();
    throw error;
  }
}

/** What is left of faultd in the container; `faultd` is the command that reads its ledger. */
export function leftovers(c: Container, faultd = `/usr/bin/node ${FAULTD}`): string {
  const out = c.exec(['sh', '-c', leftoversScript(faultd)]).stdout.trim();
  return out.replace(/^left:/, '').trim();
}

export function mainPid(c: Container): number {
  return Number(c.exec(['systemctl', 'show', '-p', 'MainPID', '--value', 'faultd.service']).stdout.trim());
}

export async function waitFor<T>(what: string, probe: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs: number, everyMs = 50): Promise<T> {
  const started = performance.now();
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (performance.now() - started > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(everyMs);
  }
}

/** Waits until the agent has the run; a run that ended instead (rejected, failed) says why. */
export async function runStarted(hub: HubService, runId: string): Promise<void> {
  const state = await waitFor('the run started', async () => {
    const now = (await hub.run(runId))?.state;
    return now === 'running' || now === 'finished' ? now : undefined;
  }, 20_000);
  if (state === 'finished') throw new Error(`the run ended before it could be interrupted: ${JSON.stringify((await hub.run(runId))?.result)}`);
}

/** `journalctl -b -u faultd` lines of this boot, oldest first. */
export function journal(c: Container): string[] {
  return c.exec(['journalctl', '-b', '-u', 'faultd.service', '-o', 'cat', '--no-pager']).stdout.split('\n');
}


/**
 * One round of the kill torture: queue a run of `experiment()`, wait until the agent has it,
 * kill -9 the agent at a random moment 0–`maxDelayMs` later, and measure until the container is
 * clean. Resolves once the hub has the `interrupted` result and systemd restarted the agent.
 */
export async function killRound(rig: Rig, name: string, maxDelayMs = 1500): Promise<{ cleanMs: number; verdict: string; reason: string }> {
  const { c, hub } = rig;
  const run = await hub.queueRun('container', experiment(name));
  await runStarted(hub, run.id);
  await sleep(Math.random() * maxDelayMs);
  const pid = mainPid(c);
  c.exec(['kill', '-9', String(pid)]);
  const killed = performance.now();
  let left = '';
  await waitFor('clean after the kill', () => (left = leftovers(c)) === '', 10_000, 20).catch((error: unknown) => {
    throw new Error(`${String(error)}; still left: ${left}\n${journal(c).slice(-40).join('\n')}`);
  });
  const cleanMs = Math.round(performance.now() - killed);
  await waitFor('the interrupted result', async () => (await hub.run(run.id))?.state === 'finished', 15_000);
  await waitFor('the agent is back', () => mainPid(c) !== pid && mainPid(c) > 0, 10_000);
  const result = (await hub.run(run.id))?.result;
  return { cleanMs, verdict: result?.verdict ?? '', reason: result?.reason ?? '' };
}
