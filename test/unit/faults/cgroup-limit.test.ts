// SPDX-License-Identifier: Apache-2.0
// Finding a unit's cgroup from a made-up /proc, and the limit files per cgroup version.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import test from 'ava';

import { unitCgroups } from '../../../src/faults/linux-cgroup-limit.js';
import { limitWrite } from '../../../src/host/cgroup-limits.js';

function fakeProc(t: { teardown(fn: () => void): void }, processes: Record<number, string>): string {
  const root = mkdtempSync(path.join(tmpdir(), 'faultd-proc-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  for (const [pid, cgroup] of Object.entries(processes)) {
    mkdirSync(path.join(root, pid));
    writeFileSync(path.join(root, pid, 'stat'), `${pid} (x) S 1 ${pid} ${pid} 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 ${Number(pid) * 10} 0 0`);
    writeFileSync(path.join(root, pid, 'cmdline'), 'x\0');
    writeFileSync(path.join(root, pid, 'cgroup'), cgroup);
  }
  return root;
}

test('a unit\'s cgroup is found through its processes, up to the unit itself (not its sub-cgroups)', (t) => {
  const procRoot = fakeProc(t, {
    10: '4:memory:/system.slice/nginx.service\n1:cpu:/system.slice/nginx.service\n0::/system.slice/nginx.service\n',
    11: '4:memory:/system.slice/nginx.service/worker\n1:cpu:/system.slice/nginx.service/worker\n0::/system.slice/nginx.service/worker\n',
    12: '4:memory:/system.slice/nginx-exporter.service\n0::/system.slice/nginx-exporter.service\n',
  });
  const found = unitCgroups('nginx.service', { procRoot });
  t.is(found.length, 1, 'one cgroup, however many processes');
  t.deepEqual(Object.fromEntries(found[0] ?? []), { memory: '/system.slice/nginx.service', cpu: '/system.slice/nginx.service', '': '/system.slice/nginx.service' });
  t.deepEqual(unitCgroups('redis.service', { procRoot }), []);
});

test('limit files: v2 cpu.max with its own period, memory rounded down to pages as the kernel reads it back, pids', (t) => {
  t.deepEqual(limitWrite('cpu', 0.5, 2, '/cg'), { kind: 'cpu', file: '/cg/cpu.max', value: '50000 100000', expected: '50000 100000' });
  t.deepEqual(limitWrite('memory', 10_000, 2, '/cg'), { kind: 'memory', file: '/cg/memory.max', value: '10000', expected: '8192' });
  t.deepEqual(limitWrite('memory', 8192, 1, '/cg'), { kind: 'memory', file: '/cg/memory.limit_in_bytes', value: '8192', expected: '8192' });
  t.deepEqual(limitWrite('pids', 50, 1, '/cg'), { kind: 'pids', file: '/cg/pids.max', value: '50', expected: '50' });
});
