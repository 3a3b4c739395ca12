// SPDX-License-Identifier: Apache-2.0
// Two `faultd hub serve` processes on one real PostgreSQL 15 behind a TCP relay (a load balancer):
// a real agent runs an experiment through replica A; A is killed with SIGKILL mid-run and the
// relay fails over to B. Nothing is lost: the agent's next calls land on B with the same token,
// its run completes with every log line once, and a run queued with the CLI meanwhile runs next.
// Skipped, saying why, where PostgreSQL is missing.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import avaTest from 'ava';

import { HubService } from '../../src/hub/service.js';
import { PostgresHubStore } from '../../src/hub/postgres-store.js';
import { type AgentHub, configureAgent, cpuAndMemoryExperiment, launchAgent, waitForState } from '../helpers/agent-process.js';
import { runCli, startCli, waitForLine, workspace, type CliChild } from '../helpers/cli.js';
import { stopTestPostgres, testPostgres } from '../helpers/hub-stores.js';
import { postgresMissing } from '../helpers/postgres.js';
import { privilegedTest } from '../helpers/privileged.js';
import { startRelay } from '../helpers/relay.js';

avaTest.after.always(stopTestPostgres);

const missing = postgresMissing();
const test = missing ? privilegedTest.skip : privilegedTest;

/** `faultd hub serve` on `database`, on a port the kernel picks; killed at teardown. */
async function startReplica(t: { teardown(fn: () => void | Promise<void>): void }, hubDir: string, database: string, stateDir: string): Promise<{ child: CliChild; port: number }> {
  const child = startCli(['hub', '--hub-dir', hubDir, '--database', database, 'serve', '--listen', '127.0.0.1:0'], stateDir);
  t.teardown(() => {
    child.kill('SIGKILL');
  });
  const line = await waitForLine(child, /serving on https:\/\/127\.0\.0\.1:(\d+)/, 20_000);
  return { child, port: Number(/serving on https:\/\/127\.0\.0\.1:(\d+)/.exec(line)?.[1]) };
}

test(`a replica killed with SIGKILL mid-run loses nothing: the agent fails over to the other through the relay and its run completes${missing ? ` (skipped: ${missing})` : ''}`, async (t) => {
  t.timeout(120_000);
  const database = await (await testPostgres()).createDatabase();
  const ws = workspace();
  t.teardown(() => ws.remove());
  const hubDir = path.join(ws.dir, 'hub');
  t.is((await runCli(['hub', '--hub-dir', hubDir, 'init'], ws.stateDir)).code, 0);
  const a = await startReplica(t, hubDir, database, ws.stateDir);
  const b = await startReplica(t, hubDir, database, ws.stateDir);
  t.not(a.port, b.port);
  const relay = await startRelay(t, a.port);
  // The operator's view of the same database (as `faultd hub` commands have it).
  const store = await PostgresHubStore.open(database);
  t.teardown(() => store.close());
  const service = new HubService(store);
  const ca = readFileSync(path.join(hubDir, 'tls', 'ca.pem'), 'utf8');
  const hub: AgentHub = { url: `https://127.0.0.1:${relay.port}`, ca, service };
  await configureAgent(hub, ws, { url: hub.url, disconnectTimeout: '60s' });
  const agent = launchAgent(t, ws);
  const first = await service.queueRun('edge-1', cpuAndMemoryExperiment(6, 'failover'));
  t.true(await waitForState(hub, first.id, ['running'], 30_000), 'the agent runs it through replica A');
  const logsBefore = (await service.runLogs(first.id, 0)).length;
  a.child.kill('SIGKILL');
  const killedAt = performance.now();
  relay.retarget(b.port);
  // Queued with the CLI while A is gone: B (or any replica) hands it out after the first.
  const file = path.join(ws.dir, 'second.json');
  writeFileSync(file, JSON.stringify(cpuAndMemoryExperiment(1, 'after-failover')));
  const queued = await runCli(['hub', '--hub-dir', hubDir, '--database', database, 'run', '--infra', 'edge-1', file], ws.stateDir);
  t.is(queued.code, 0, queued.stderr);
  const secondId = /Queued run (run_\S+)/.exec(queued.stdout)?.[1] ?? '';
  t.true(await waitForState(hub, first.id, ['finished'], 40_000), 'the first run ends through replica B');
  const failoverMs = performance.now() - killedAt;
  const done = await service.run(first.id);
  t.is(done?.result?.verdict, 'completed', JSON.stringify(done?.result));
  t.true(done?.result?.faults.length === 2 && done.result.faults.every((f) => /"ok":true/.test(f.revert ?? '')), JSON.stringify(done?.result?.faults));
  const seqs = (await service.runLogs(first.id, 0)).map((e) => e.seq);
  t.true(seqs.length > logsBefore, 'lines shipped after the kill arrived through B');
  t.deepEqual(seqs, seqs.map((_, i) => i + 1), 'every log line once, in order, across the failover');
  t.true(await waitForState(hub, secondId, ['finished'], 40_000), 'the run queued with the CLI runs next, through B');
  t.is((await service.run(secondId))?.result?.verdict, 'completed');
  t.is(agent.exitCode, null, 'the agent kept running');
  t.log(`replica A killed → first run finished through B ${failoverMs.toFixed(0)} ms later (its faults last 6 s); ${seqs.length} log lines, each once`);
});
