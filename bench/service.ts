// SPDX-License-Identifier: Apache-2.0
/**
 * linux-service-restart's path next to `systemctl restart`, in one booted nspawn container of
 * the system suite (systemd as PID 1): request → unit active again with a new main pid, for
 * faultd's D-Bus path (StopUnit, wait inactive, StartUnit, wait active: what each cycle and the
 * revert do) and `systemctl restart` (one RestartUnit job, waited for by systemctl), alternating,
 * BENCH_SERVICE_TRIALS (default 100) each; and one state read each way. Every trial checks the
 * unit active with a new main pid.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';

import { Container, ensureRootfs, systemSuiteMissing } from '../test/system/container.js';
import { median, percentile } from './stats.js';

const TRIALS = Number(process.env['BENCH_SERVICE_TRIALS'] ?? 100);
const UNIT = 'svc-bench.service';

function row(name: string, ours: readonly number[], peer: readonly number[]): string {
  const f = (v: readonly number[]): string => `${median(v).toFixed(2)} / ${percentile(v, 0.99).toFixed(2)}`;
  return `| ${name} | ${f(ours)} | ${f(peer)} | ${(median(ours) / median(peer)).toFixed(2)} |`;
}

export async function serviceRestart(): Promise<string[]> {
  const missing = systemSuiteMissing();
  if (missing) return [`skipped: ${missing}`];
  const c = Container.create(ensureRootfs());
  try {
    writeFileSync(path.join(c.root, 'etc/systemd/system', UNIT), '[Service]\nExecStart=/bin/sleep infinity\n');
    await c.boot();
    c.exec(['systemctl', 'start', UNIT]);
    const result = c.exec(['/usr/bin/node', '/opt/faultd/dist/bench/service-child.js', UNIT, String(TRIALS)]);
    if (result.code !== 0) throw new Error(`the bench child failed: ${result.stderr}`);
    const m = JSON.parse(result.stdout.trim().split('\n').pop() ?? '{}') as { faultd: number[]; systemctl: number[]; readFaultd: number[]; readSystemctl: number[] };
    const version = c.exec(['systemctl', '--version']).stdout.split('\n')[0] ?? '';
    return [
      `| ${TRIALS} trials each, ms (p50 / p99) | faultd | systemctl | faultd / systemctl (p50) |`,
      '|---|---|---|---|',
      row('restart: request → active again, checked (new main pid)', m.faultd, m.systemctl),
      row('unit state read (8 properties)', m.readFaultd, m.readSystemctl),
      '',
      `In one nspawn container (Debian bookworm, ${version}), unit \`ExecStart=/bin/sleep infinity\`, alternating. faultd's restart is what each cycle does: two jobs over the system bus, StopUnit then StartUnit, each waited for by its JobRemoved signal on the connection that queued it and checked by a state read on that connection; \`systemctl restart\` is one RestartUnit job and includes starting systemctl. The state read is one D-Bus connection from the addon against \`systemctl show -p …\` (fork, exec, connect).`,
    ];
  } finally {
    await c.destroy();
  }
}
