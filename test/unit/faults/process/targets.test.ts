// SPDX-License-Identifier: Apache-2.0
// Target selection of the process faults over a made-up process table.
import test from 'ava';

import { protectedPids, selectProcesses, type ProcessInfo, type ProcessSelector } from '../../../../src/faults/process/targets.js';

const p = (pid: number, ppid: number, comm: string, cmdline: string, state = 'S'): ProcessInfo => ({ pid, ppid, comm, cmdline, startTime: pid * 10, state });

const SELF = 500;
const TABLE: ProcessInfo[] = [
  p(1, 0, 'systemd', '/sbin/init'),
  p(2, 0, 'kthreadd', ''),
  p(3, 2, 'nginx', ''), // a kernel thread that happens to share the name
  p(100, 1, 'sshd', '/usr/sbin/sshd -D'),
  p(400, 1, 'bash', '-bash'),
  p(500, 400, 'node', 'node /usr/bin/faultd run exp.yaml'),
  p(510, 500, 'faultd-stresso', '/opt/faultd/build/Release/faultd-stressor --mode=cpu'),
  p(511, 510, 'faultd-stresso', '/opt/faultd/build/Release/faultd-stressor --mode=cpu --child'),
  p(600, 1, 'nginx', 'nginx: master process /usr/sbin/nginx'),
  p(601, 600, 'nginx', 'nginx: worker process'),
  p(602, 600, 'nginx', 'nginx: worker process'),
  p(700, 1, 'averyverylongpr', '/opt/averyverylongprocessname --serve'),
];

const select = (s: Partial<ProcessSelector>) => selectProcesses(TABLE, { exclude: [], ...s }, SELF).targets.map((x) => x.pid);

test('PID 1, faultd, its ancestors and its descendants are protected', (t) => {
  t.deepEqual([...protectedPids(TABLE, SELF)].sort((a, b) => a - b), [1, 400, 500, 510, 511]);
});

test('processIDs win over processCommand, which wins over processNames', (t) => {
  t.deepEqual(select({ processIDs: [601], processCommand: 'nginx', processNames: ['sshd'] }), [601]);
  t.deepEqual(select({ processCommand: 'worker process', processNames: ['sshd'] }), [601, 602]);
  t.deepEqual(select({ processNames: ['sshd', 'nginx'] }), [100, 600, 601, 602], 'not the kernel thread named nginx');
});

test('protected processes and kernel threads are never targets, whatever selects them', (t) => {
  t.deepEqual(select({ processIDs: [1, 2, 3, 400, 500, 511, 100] }), [100]);
  t.deepEqual(select({ processCommand: 'faultd' }), []);
  const selection = selectProcesses(TABLE, { processIDs: [1], exclude: [] }, SELF);
  t.deepEqual(selection.protectedMatches.map((x) => x.pid), [1]);
});

test('names match comm as the kernel keeps it (15 characters)', (t) => {
  t.deepEqual(select({ processNames: ['averyverylongprocessname'] }), [700]);
});

test('exclude, count and percentage (rounded up, lowest pids first)', (t) => {
  t.deepEqual(select({ processNames: ['nginx'], exclude: ['master'] }), [601, 602]);
  t.deepEqual(select({ processNames: ['nginx'], count: 2 }), [600, 601]);
  t.deepEqual(select({ processNames: ['nginx'], percentage: 50 }), [600, 601]);
  t.deepEqual(select({ processNames: ['nginx'], percentage: 1 }), [600]);
});
