// SPDX-License-Identifier: Apache-2.0
/**
 * faultd as a systemd service, in the system suite's nspawn container (test/system):
 *  - SIGKILL → clean container, over BENCH_SYSTEM_KILLS (default 200) kill -9s of the agent at a
 *    random moment of a run with CPU, memory, a tbf rate limit and an nf_tables partition;
 *  - boot → remnants reverted, over BENCH_SYSTEM_BOOTS (default 10) hard stops mid-run with a
 *    disk fill (the fill file outlives the container; ExecStartPre deletes it), from the start
 *    of systemd-nspawn to the journal line of `revert --remnants`;
 *  - `systemctl start` → READY for faultd.service (ExecStartPre's revert plus the agent's start),
 *    next to a Type=notify unit that is only Node loading the addon and sending READY=1 (the
 *    floor of any Node daemon), alternating, BENCH_SYSTEM_STARTS (default 20) each.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';

import { ensureRootfs, sleep, systemSuiteMissing } from '../test/system/container.js';
import { bootRig, experiment, journal, killRound, waitFor, type Rig } from '../test/system/rig.js';
import { median, percentile } from './stats.js';

const KILLS = Number(process.env['BENCH_SYSTEM_KILLS'] ?? 200);
const BOOTS = Number(process.env['BENCH_SYSTEM_BOOTS'] ?? 10);
const STARTS = Number(process.env['BENCH_SYSTEM_STARTS'] ?? 20);

const NODE_READY_UNIT = `[Unit]
Description=baseline: Node loads the faultd addon and reports READY=1
[Service]
Type=notify
ExecStart=/usr/bin/node -e "require('/opt/faultd/build/Release/faultd_native.node').sdNotify(process.env.NOTIFY_SOCKET, 'READY=1'); setInterval(() => {}, 1e9)"
`;

function stats(values: readonly number[]): string {
  return `${percentile(values, 0.5).toFixed(0)} / ${percentile(values, 0.99).toFixed(0)} / ${Math.max(...values).toFixed(0)}`;
}

/** Wall time of `systemctl start <unit>` (Type=notify: it returns at READY=1), after a stop. */
function timedStart(rig: Rig, unit: string): number {
  rig.c.exec(['systemctl', 'stop', unit]);
  const started = process.hrtime.bigint();
  const result = rig.c.exec(['systemctl', 'start', unit]);
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (result.code !== 0) throw new Error(`systemctl start ${unit}: ${result.stderr}`);
  return ms;
}

/** Hard stop mid-run with a disk fill, boot again; ms from nspawn's start to the remnants line. */
async function bootToRemnants(rig: Rig, round: number): Promise<number> {
  const fill = { kind: 'linux-disk-fill', name: 'fill', duration: '60s', params: { path: '/mnt/fill', size: '8Mi', keepFree: '4Mi' } };
  const run = await rig.hub.queueRun('container', experiment(`boot-${round}`, [fill]));
  await waitFor('the fill file', () => rig.c.exec(['sh', '-c', 'ls -a /mnt/fill | grep -q faultd-fill']).code === 0, 20_000);
  await rig.c.hardStop();
  const bootStarted = Date.now();
  await rig.c.boot();
  const entries = rig.c
    .exec(['journalctl', '-b', '-u', 'faultd.service', '-o', 'json', '--no-pager'])
    .stdout.split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as { MESSAGE?: unknown; __REALTIME_TIMESTAMP?: string });
  const reverted = entries.find((e) => typeof e.MESSAGE === 'string' && /remnant\(s\)/.test(e.MESSAGE));
  if (!reverted?.__REALTIME_TIMESTAMP) throw new Error(`no remnants line in this boot's journal:\n${journal(rig.c).join('\n')}`);
  await waitFor('the interrupted result', async () => (await rig.hub.run(run.id))?.state === 'finished', 30_000);
  return Number(reverted.__REALTIME_TIMESTAMP) / 1000 - bootStarted;
}

export async function systemService(): Promise<string[]> {
  const missing = systemSuiteMissing();
  if (missing) return [`Skipped: ${missing}.`];
  ensureRootfs();
  const rig = await bootRig(() => undefined);
  try {
    const clean: number[] = [];
    let interrupted = 0;
    for (let i = 0; i < KILLS; i += 1) {
      const round = await killRound(rig, `bench-${i}`);
      clean.push(round.cleanMs);
      if (round.verdict === 'interrupted') interrupted += 1;
    }
    const boots: number[] = [];
    for (let i = 0; i < BOOTS; i += 1) boots.push(await bootToRemnants(rig, i));
    writeFileSync(path.join(rig.c.root, 'etc/systemd/system/node-ready.service'), NODE_READY_UNIT);
    rig.c.exec(['systemctl', 'daemon-reload']);
    const faultdStart: number[] = [];
    const nodeStart: number[] = [];
    for (let i = 0; i < STARTS; i += 1) {
      faultdStart.push(timedStart(rig, 'faultd.service'));
      nodeStart.push(timedStart(rig, 'node-ready.service'));
      await sleep(100);
    }
    return [
      '| measure (nspawn container, Debian bookworm, systemd 252) | p50 / p99 / max (ms) | peer (same run) |',
      '|---|---|---|',
      `| SIGKILL of the agent → container clean (no stressor, qdisc, nf_tables table, IFB; ledger clean), ${KILLS} kills, ${interrupted} reported \`interrupted\` | ${stats(clean)} | – |`,
      `| container boot (nspawn start) → \`revert --remnants\` done after a hard stop with a disk fill, ${BOOTS} boots | ${stats(boots)} | – |`,
      `| \`systemctl start faultd\` → READY=1 (ExecStartPre revert + agent start), ${STARTS} starts | ${stats(faultdStart)} | Node + addon → READY=1: ${stats(nodeStart)} (faultd / floor = ${(median(faultdStart) / median(nodeStart)).toFixed(1)}×) |`,
      '',
      'Time to clean is measured from the kill to the first probe that finds nothing left, probing every 20 ms with one nsenter; it includes systemd noticing the death, killing the cgroup and running ExecStopPost. The start time includes two Node start-ups (the ExecStartPre revert and the agent); the floor is one.',
    ];
  } finally {
    await rig.destroy();
  }
}
