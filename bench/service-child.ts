// SPDX-License-Identifier: Apache-2.0
/**
 * Runs inside the system suite's container (bench/service.ts starts it): `node
 * service-child.js <unit> <trials>` times, alternating, faultd's restart path and
 * `systemctl restart`, and a state read each way; prints one JSON line of milliseconds.
 */
import { spawnSync } from 'node:child_process';

import { startAndWait, stopAndWait, MAX_WAIT_MS } from '../src/faults/service/units.js';
import { loadNative } from '../src/native/load.js';

const [unit = 'svc-bench.service', trialsText = '20'] = process.argv.slice(2);
const trials = Number(trialsText);
const native = loadNative();
const now = (): number => Number(process.hrtime.bigint()) / 1e6;

/** The main pid now, and whether the unit is active. */
async function mainPid(): Promise<number> {
  const s = await native.systemdUnitState(unit);
  if (s.activeState !== 'active' || s.jobId !== 0) throw new Error(`${unit} is ${s.activeState}/${s.subState} (job ${s.jobId})`);
  return s.mainPid;
}

const out = { faultd: [] as number[], systemctl: [] as number[], readFaultd: [] as number[], readSystemctl: [] as number[] };
for (let i = 0; i < trials; i += 1) {
  for (const who of i % 2 ? (['systemctl', 'faultd'] as const) : (['faultd', 'systemctl'] as const)) {
    const before = await mainPid();
    const t0 = now();
    if (who === 'faultd') {
      const down = await stopAndWait(native, unit, MAX_WAIT_MS);
      const up = await startAndWait(native, unit, MAX_WAIT_MS);
      if (!down.done || !up.done) throw new Error(`faultd's restart did not complete: ${JSON.stringify(up.state)}`);
    } else {
      const r = spawnSync('systemctl', ['restart', unit], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`systemctl restart: ${r.stderr}`);
    }
    const ms = now() - t0;
    if ((await mainPid()) === before) throw new Error(`${who}: the main pid did not change`);
    out[who].push(ms);
  }
  let t0 = now();
  await native.systemdUnitState(unit);
  out.readFaultd.push(now() - t0);
  t0 = now();
  spawnSync('systemctl', ['show', '-p', 'LoadState,ActiveState,SubState,Job,Restart,NRestarts,MainPID,TimeoutStartUSec', unit]);
  out.readSystemctl.push(now() - t0);
}
console.log(JSON.stringify(out));
