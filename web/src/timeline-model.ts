// SPDX-License-Identifier: Apache-2.0
/**
 * A run's timeline from its status events: one lane per fault, its phases as segments
 * (queued → applying → applied → reverting) ending in reverted or failed, and each probe
 * evaluation as a mark on its fault's lane (experiment- and step-level probes on the `run` lane).
 * Times are seconds since the run was queued.
 */
import type { FaultOutcome, RunSummary, StatusEvent } from './api.js';
import { msOf, revertText } from './format.js';

export const SEGMENT_PHASES = ['queued', 'applying', 'applied', 'reverting'] as const;
export type SegmentPhase = (typeof SEGMENT_PHASES)[number];
export type EndPhase = 'reverted' | 'failed';

export interface Segment {
  readonly lane: string;
  readonly phase: SegmentPhase;
  readonly start: number;
  readonly end: number;
}

export interface Mark {
  readonly lane: string;
  readonly at: number;
  readonly detail: string;
}

export interface Timeline {
  readonly lanes: readonly string[];
  readonly segments: readonly Segment[];
  readonly ends: readonly (Mark & { readonly phase: EndPhase })[];
  readonly probes: readonly (Mark & { readonly passed: boolean })[];
  /** Each fault lane's phase now (what a screen reader is told). */
  readonly current: ReadonlyMap<string, SegmentPhase | EndPhase>;
  /** Seconds from the queueing to the end of the plot. */
  readonly span: number;
}

export const RUN_LANE = 'run';

/** The engine's fault phases (engine/runner.ts FaultPhase) as the timeline names them. */
const PHASE_OF: Readonly<Record<string, SegmentPhase | 'done'>> = {
  pending: 'queued',
  'ramp-before': 'applying',
  applying: 'applying',
  running: 'applied',
  'ramp-after': 'reverting',
  reverting: 'reverting',
  done: 'done',
};

function endPhase(outcome: FaultOutcome | undefined): EndPhase {
  if (!outcome) return 'reverted';
  return outcome.error || /fail/.test(outcome.status) || revertText(outcome.revert)?.ok === false ? 'failed' : 'reverted';
}

export function timelineOf(run: RunSummary, status: readonly StatusEvent[], faults: readonly FaultOutcome[], now: number): Timeline {
  const origin = run.queuedAt;
  const open = run.finishedAt === undefined;
  const last = status.reduce((max, e) => Math.max(max, msOf(e.at)), origin);
  const endMs = open ? Math.max(now, last) : Math.max(run.finishedAt ?? last, last);
  const seconds = (ms: number): number => Math.max(0, (ms - origin) / 1000);
  const lanes: string[] = [];
  const addLane = (lane: string): void => {
    if (!lanes.includes(lane)) lanes.push(lane);
  };
  const segments: Segment[] = [];
  const ends: (Mark & { phase: EndPhase })[] = [];
  const probes: (Mark & { passed: boolean })[] = [];
  const current = new Map<string, SegmentPhase | EndPhase>();
  const openSegment = new Map<string, { phase: SegmentPhase; start: number }>();
  const outcomeOf = (faultId: string): FaultOutcome | undefined => faults.find((f) => f.faultId === faultId);
  const close = (lane: string, at: number): void => {
    const segment = openSegment.get(lane);
    if (segment) segments.push({ lane, phase: segment.phase, start: segment.start, end: Math.max(segment.start, at) });
    openSegment.delete(lane);
  };
  const ordered = [...status].sort((a, b) => (a.seq ?? 0) - (b.seq ?? 0) || msOf(a.at) - msOf(b.at));
  for (const event of ordered) {
    const at = seconds(msOf(event.at));
    if (event.phase === 'probe-passed' || event.phase === 'probe-failed') {
      const lane = event.faultId ?? RUN_LANE;
      addLane(lane);
      probes.push({ lane, at, passed: event.phase === 'probe-passed', detail: event.detail ?? '' });
      continue;
    }
    const phase = event.faultId === undefined ? undefined : PHASE_OF[event.phase];
    if (!event.faultId || !phase) continue;
    const lane = event.faultId;
    if (!lanes.includes(lane)) {
      addLane(lane);
      // From the queueing until the fault's first phase, it waited.
      if (phase !== 'queued') openSegment.set(lane, { phase: 'queued', start: 0 });
    }
    close(lane, at);
    if (phase === 'done') {
      const end = endPhase(outcomeOf(lane));
      ends.push({ lane, at, phase: end, detail: revertText(outcomeOf(lane)?.revert)?.text ?? '' });
      current.set(lane, end);
    } else {
      openSegment.set(lane, { phase, start: at });
      current.set(lane, phase);
    }
  }
  for (const lane of [...openSegment.keys()]) close(lane, seconds(endMs));
  // A fault of the result that never started (a step skipped after an abort) stays queued.
  for (const f of faults) {
    if (!lanes.includes(f.faultId)) {
      addLane(f.faultId);
      current.set(f.faultId, 'queued');
    }
  }
  // The run lane last, under the faults.
  if (lanes.includes(RUN_LANE)) lanes.push(...lanes.splice(lanes.indexOf(RUN_LANE), 1));
  return { lanes, segments, ends, probes, current, span: Math.max(1, seconds(endMs)) };
}
