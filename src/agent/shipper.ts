// SPDX-License-Identifier: Apache-2.0
/**
 * Ships a run's outbox to the hub: numbered status events, then numbered log lines in batches
 * bounded in count and bytes, until the hub acknowledges them. What the hub refuses for good
 * (400/413) becomes notes under the same numbers, so the acknowledgement can move on. A hub
 * before 2026-12 answers status with 204 (stored, not numbered) or, once the run has its
 * result, 409 (never stored): either way those events are done. While a run executes, it ships
 * every second.
 */
import type { Logger } from 'pino';

import { API_PREFIX, LogsResponse, StatusResponse } from '../protocol/messages.js';
import { expectStatus, RefusedByHub, type HubLink } from './hub-link.js';
import type { NumberedStatus, RunOutbox } from './outbox.js';
import { sleep } from './sleep.js';

export const SHIP_INTERVAL_MS = 1_000;
export const SHIP_BATCH = 500;
/** Well under the hub's 256 KiB body limit. */
export const SHIP_BATCH_BYTES = 192 * 1024;

export class Shipper {
  readonly #link: HubLink;
  readonly #logger: Logger;

  constructor(link: HubLink, logger: Logger) {
    this.#link = link;
    this.#logger = logger;
  }

  /** While the run executes: ships what is owed every second, until `stop`. Never throws. */
  async loop(runId: string, outbox: RunOutbox, stop: AbortSignal): Promise<void> {
    while (!stop.aborted) {
      await this.flush(runId, outbox).catch(() => undefined);
      await sleep(SHIP_INTERVAL_MS, stop);
    }
  }

  /** Sends pending status events and log lines once; throws if the hub cannot be reached. */
  async flush(runId: string, outbox: RunOutbox): Promise<void> {
    await this.#flushStatus(runId, outbox);
    for (let entries = outbox.pendingLogs(SHIP_BATCH, SHIP_BATCH_BYTES); entries.length; entries = outbox.pendingLogs(SHIP_BATCH, SHIP_BATCH_BYTES)) {
      const reply = await this.#link.post(`${API_PREFIX}/runs/${runId}/logs`, { entries }, LogsResponse);
      if (!('body' in reply)) {
        try {
          expectStatus(reply, []);
        } catch (error) {
          if (!(error instanceof RefusedByHub)) throw error;
          // Notes under the same numbers go instead, so the acknowledgement can move on.
          this.#logger.error({ runId, err: error.message, lines: entries.length }, 'the hub refused log lines; sending notes in their place');
          outbox.replaceRefused(entries.map((e) => e.seq), error.message);
          continue;
        }
        return;
      }
      const before = entries.at(-1)?.seq ?? 0;
      outbox.acknowledge(reply.body.ackedThrough);
      if (reply.body.ackedThrough < before) break; // a gap the hub is still missing: resend next time
    }
  }

  /** Sends status events until the hub has acknowledged all of them or stops moving on. */
  async #flushStatus(runId: string, outbox: RunOutbox): Promise<void> {
    for (let events = outbox.pendingStatus(SHIP_BATCH, SHIP_BATCH_BYTES); events.length; events = outbox.pendingStatus(SHIP_BATCH, SHIP_BATCH_BYTES)) {
      const through = lastSeq(events);
      const reply = await this.#link.post(`${API_PREFIX}/runs/${runId}/status`, { events }, StatusResponse);
      if ('body' in reply) {
        outbox.acknowledgeStatus(reply.body.ackedThrough);
        if (reply.body.ackedThrough < through) {
          // Missing numbers this agent no longer has: a note covers them (sent next time), else
          // the result would wait for them forever.
          outbox.noteLostStatus(reply.body.ackedThrough);
          return; // a gap the hub is still missing: resend next time
        }
        continue;
      }
      try {
        expectStatus(reply, [204, 409]);
      } catch (error) {
        if (!(error instanceof RefusedByHub)) throw error;
        if (events.length === 1 && events[0]?.phase === 'left-out') {
          this.#logger.error({ runId, err: error.message }, 'the hub refused even the note for refused status events; it is left out');
          outbox.acknowledgeStatus(through);
          continue;
        }
        this.#logger.error({ runId, err: error.message, events: events.length }, 'the hub refused status events; sending a note in their place');
        outbox.replaceRefusedStatus(events, error.message);
        continue;
      }
      outbox.acknowledgeStatus(through);
    }
  }
}

/** The last sequence number a batch of status events covers. */
function lastSeq(events: readonly NumberedStatus[]): number {
  const last = events.at(-1);
  return last ? last.seq + (last.span ?? 1) - 1 : 0;
}
