// SPDX-License-Identifier: Apache-2.0
// The console's run timeline (web/src/timeline-model.ts) from status events as an agent sends
// them: lanes per fault, the engine's phases named as the plot shows them, the wait before a
// fault's first phase, open phases drawn up to now, ends as reverted or failed from the result,
// probe evaluations as marks on their fault's lane or the run lane.
import test from 'ava';

import type { FaultOutcome, RunSummary, StatusEvent } from '../../../web/src/api.js';
import { revertText } from '../../../web/src/format.js';
import { timelineOf } from '../../../web/src/timeline-model.js';

const T0 = Date.parse('2026-12-06T12:00:00.000Z');
const at = (seconds: number): string => new Date(T0 + seconds * 1000).toISOString();

function run(finishedAfter?: number): RunSummary {
  return { id: 'run_1', infraId: 'inf_1', infraName: 'edge-1', experimentName: 'x', state: finishedAfter === undefined ? 'running' : 'finished', queuedAt: T0, ...(finishedAfter === undefined ? {} : { finishedAt: T0 + finishedAfter * 1000 }) };
}

const EVENTS: StatusEvent[] = [
  { seq: 1, at: at(1), phase: 'running' },
  { seq: 2, at: at(1), phase: 'probe-passed', detail: 'edge (cmd, SOT)' },
  { seq: 3, at: at(1.5), faultId: 'cpu', phase: 'applying' },
  { seq: 4, at: at(2), faultId: 'cpu', phase: 'running', detail: '1 worker(s) at 20%' },
  { seq: 5, at: at(3), faultId: 'cpu', phase: 'probe-failed', detail: 'responsive: exit 1' },
  { seq: 6, at: at(4), faultId: 'mem', phase: 'ramp-before' },
  { seq: 7, at: at(5), faultId: 'mem', phase: 'running' },
  { seq: 8, at: at(6), faultId: 'cpu', phase: 'reverting' },
  { seq: 9, at: at(6.5), faultId: 'cpu', phase: 'done' },
];

test('a live run: one lane per fault, phases named as plotted, the wait before each first phase, open phases up to now, the run lane last', (t) => {
  const timeline = timelineOf(run(), EVENTS, [], T0 + 8000);
  t.deepEqual(timeline.lanes, ['cpu', 'mem', 'run']);
  t.deepEqual(timeline.segments.filter((s) => s.lane === 'cpu').map((s) => [s.phase, s.start, s.end]), [['queued', 0, 1.5], ['applying', 1.5, 2], ['applied', 2, 6], ['reverting', 6, 6.5]]);
  t.deepEqual(timeline.segments.filter((s) => s.lane === 'mem').map((s) => [s.phase, s.start, s.end]), [['queued', 0, 4], ['applying', 4, 5], ['applied', 5, 8]], 'ramp-before is applying; running still applied at now');
  t.deepEqual(timeline.ends.map((e) => [e.lane, e.phase, e.at]), [['cpu', 'reverted', 6.5]]);
  t.deepEqual(timeline.probes.map((p) => [p.lane, p.at, p.passed]), [['run', 1, true], ['cpu', 3, false]]);
  t.is(timeline.current.get('cpu'), 'reverted');
  t.is(timeline.current.get('mem'), 'applied');
  t.is(timeline.span, 8);
});

test('a finished run: phases end at its end, a fault whose revert failed ends failed, a fault that never started gets its lane', (t) => {
  const faults: FaultOutcome[] = [
    { faultId: 'cpu', kind: 'linux-cpu-stress', status: 'completed', revert: JSON.stringify({ ok: true, detail: 'stopped stressor 1' }) },
    { faultId: 'mem', kind: 'linux-memory-stress', status: 'completed', revert: JSON.stringify({ ok: false, detail: 'EPERM' }) },
    { faultId: 'disk', kind: 'linux-disk-fill', status: 'skipped' },
  ];
  const events = [...EVENTS, { seq: 10, at: at(7), faultId: 'mem', phase: 'done' }];
  const timeline = timelineOf(run(9), events, faults, T0 + 60_000);
  t.deepEqual(timeline.ends.map((e) => [e.lane, e.phase, e.detail]), [['cpu', 'reverted', 'reverted: stopped stressor 1'], ['mem', 'failed', 'REVERT FAILED: EPERM']]);
  t.deepEqual(timeline.lanes, ['cpu', 'mem', 'disk', 'run']);
  t.is(timeline.current.get('disk'), 'queued', 'a fault that never started stays queued');
  t.is(timeline.span, 9, 'the plot ends with the run, not at now');
});

test('status events out of order (resent) are placed by their number; times as numbers work as ISO dates do', (t) => {
  const shuffled = [EVENTS[3]!, EVENTS[2]!, { ...EVENTS[0]!, at: T0 + 1000 }];
  const timeline = timelineOf(run(), shuffled, [], T0 + 3000);
  t.deepEqual(timeline.segments.map((s) => [s.phase, s.start, s.end]), [['queued', 0, 1.5], ['applying', 1.5, 2], ['applied', 2, 3]]);
});

test('revert text: the agent\'s JSON in words, plain text kept', (t) => {
  t.deepEqual(revertText('{"ok":true,"detail":"stopped stressor 9"}'), { ok: true, text: 'reverted: stopped stressor 9' });
  t.deepEqual(revertText('{"ok":false,"detail":"cgroup busy"}'), { ok: false, text: 'REVERT FAILED: cgroup busy' });
  t.deepEqual(revertText('revert failed: gone'), { ok: false, text: 'revert failed: gone' });
  t.is(revertText(undefined), undefined);
});
