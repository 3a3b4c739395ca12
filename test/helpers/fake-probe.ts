// SPDX-License-Identifier: Apache-2.0
/**
 * Probe checks for unit tests of the scheduler (the addon-free boundary of probes): each
 * attempt asks `healthy(url)` what the probed service looks like now, and logs `check:<url>`
 * into the same event log as the fake faults, so the order of checks, applies and reverts is
 * visible. The real checks are tested against real servers (test/privileged/probe-*).
 */
import type { CheckSpec, ProbeCheck } from '../../src/probes/types.js';
import type { EventLog } from './fake.js';

export interface FakeChecks {
  readonly createCheck: (spec: CheckSpec) => ProbeCheck;
  /** Checks closed so far. */
  readonly closed: () => number;
}

/** `healthy(target)`: the target is the probe's url (http), first argument (cmd) or query (prometheus). */
export function fakeChecks(events: EventLog, healthy: (target: string) => boolean, latencyMs = 1): FakeChecks {
  let closed = 0;
  const createCheck = (spec: CheckSpec): ProbeCheck => {
    const target = spec.type === 'http' ? spec.url : spec.type === 'cmd' ? (spec.command[0] ?? '') : spec.query;
    return {
      async attempt(_timeoutMs, signal) {
        events.push(`check:${target}`);
        await new Promise((resolve) => setTimeout(resolve, latencyMs));
        if (signal.aborted) return { passed: false, observed: '-', criterion: 'healthy', error: 'aborted', latencyMs };
        const passed = healthy(target);
        return { passed, observed: passed ? 'healthy' : 'unhealthy', criterion: 'healthy', latencyMs };
      },
      close() {
        closed += 1;
        return Promise.resolve();
      },
    };
  };
  return { createCheck, closed: () => closed };
}
