// SPDX-License-Identifier: Apache-2.0
/**
 * A run's result must reach the hub in one body (the reference hub takes 256 KiB). An
 * experiment may hold up to 3200 faults, each with a revert report and an error of up to 4000
 * characters, so a large result is cut to fit: long texts first, then the list itself, keeping
 * the faults that matter most (a failed revert, then an error) and saying in `reason` how many
 * were left out. Every fault's outcome is also in the run's log.
 */
import type { ResultRequest } from '../protocol/messages.js';

type FaultOutcome = ResultRequest['faults'][number];
type ProbeOutcome = NonNullable<ResultRequest['probes']>[number];

const SHORT_TEXT = 500;

function bytes(result: ResultRequest): number {
  return Buffer.byteLength(JSON.stringify(result));
}

/** 0: its revert failed; 1: it failed; 2: anything else. */
function importance(fault: FaultOutcome): number {
  if (fault.status === 'revert-failed' || fault.revert?.includes('"ok":false') === true) return 0;
  return fault.error === undefined ? 2 : 1;
}

function shortened(fault: FaultOutcome): FaultOutcome {
  return {
    ...fault,
    ...(fault.revert === undefined ? {} : { revert: fault.revert.slice(0, SHORT_TEXT) }),
    ...(fault.error === undefined ? {} : { error: fault.error.slice(0, SHORT_TEXT) }),
  };
}

function shortenedProbe(probe: ProbeOutcome): ProbeOutcome {
  return {
    ...probe,
    ...(probe.last === undefined ? {} : { last: probe.last.slice(0, SHORT_TEXT) }),
    ...(probe.firstFailure === undefined ? {} : { firstFailure: probe.firstFailure.slice(0, SHORT_TEXT) }),
  };
}

function withNote(result: ResultRequest, faults: FaultOutcome[], total: number): ResultRequest {
  const note = `the result lists ${faults.length} of ${total} faults (the hub's body limit); every fault's outcome is in the run log`;
  return { ...result, ...(result.probes ? { probes: result.probes.map(shortenedProbe) } : {}), reason: (result.reason ? `${result.reason}; ${note}` : note).slice(0, 4000), faults };
}

/** `result` if it fits in `maxBytes` of JSON, else a shortened one that does. */
export function fitResult(result: ResultRequest, maxBytes: number): ResultRequest {
  if (bytes(result) <= maxBytes) return result;
  const short = { ...result, faults: result.faults.map(shortened), ...(result.probes ? { probes: result.probes.map(shortenedProbe) } : {}) };
  if (bytes(short) <= maxBytes) return short;
  // Keep the most important faults, in their original order, as many as fit with the note.
  const ranked = short.faults.map((fault, index) => ({ fault, index })).sort((a, b) => importance(a.fault) - importance(b.fault) || a.index - b.index);
  const note = withNote(result, [], result.faults.length);
  let budget = maxBytes - bytes(note);
  const kept: { fault: FaultOutcome; index: number }[] = [];
  for (const entry of ranked) {
    const size = Buffer.byteLength(JSON.stringify(entry.fault)) + 1;
    if (size > budget) break;
    budget -= size;
    kept.push(entry);
  }
  kept.sort((a, b) => a.index - b.index);
  return withNote(result, kept.map((k) => k.fault), result.faults.length);
}
