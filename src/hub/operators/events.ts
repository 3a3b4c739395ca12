// SPDX-License-Identifier: Apache-2.0
/**
 * GET /api/v1/runs/:id/events: a run followed as `faultd hub logs --follow` follows it, as
 * server-sent events. `log` (id = the line's seq, so Last-Event-ID resumes), `status` (every
 * status event once per stream), `state` (on each change of state or verdict), then `end` once
 * the run has ended and every line is sent; the stream closes then. Bounded: at most
 * `maxStreams` at once (503 TOO_MANY_STREAMS beyond), a comment every `heartbeatMs` keeps
 * proxies from closing an idle stream, and a stream lasts at most `maxStreamMs` (the browser's
 * EventSource reconnects with Last-Event-ID).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

import { Wakeable } from '../wakeable.js';
import { OperatorError } from './operator-error.js';
import type { HubOperations } from './operations.js';

export interface EventStreamOptions {
  readonly maxStreams: number;
  readonly heartbeatMs: number;
  /** How often new log lines are looked for (they do not wake held calls). */
  readonly pollMs: number;
  readonly maxStreamMs: number;
}

export const DEFAULT_EVENT_STREAM_OPTIONS: EventStreamOptions = { maxStreams: 64, heartbeatMs: 15_000, pollMs: 500, maxStreamMs: 3600_000 };

const LOG_BATCH = 500;

function event(name: string, data: unknown, id?: number): string {
  return `${id === undefined ? '' : `id: ${id}\n`}event: ${name}\ndata: ${JSON.stringify(data)}\n\n`;
}

export class EventStreams {
  readonly #ops: HubOperations;
  readonly #options: EventStreamOptions;
  #open = 0;

  constructor(ops: HubOperations, options: Partial<EventStreamOptions> = {}) {
    this.#ops = ops;
    this.#options = { ...DEFAULT_EVENT_STREAM_OPTIONS, ...options };
  }

  get open(): number {
    return this.#open;
  }

  /** Streams run `runId` from log seq `after` until it has ended, the client leaves, or the bound. */
  async stream(req: IncomingMessage, res: ServerResponse, runId: string, after: number): Promise<void> {
    await this.#ops.run(runId); // NOT_FOUND before any header
    if (this.#open >= this.#options.maxStreams) throw new OperatorError('TOO_MANY_STREAMS', `the hub already serves ${this.#options.maxStreams} event streams; try again later`);
    this.#open += 1;
    let gone = false;
    const sleeper = new Wakeable();
    const onClose = (): void => {
      gone = true;
      sleeper.wake();
    };
    req.once('close', onClose);
    const unsubscribe = this.#ops.hub.onRunsChanged(() => sleeper.wake());
    const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), this.#options.heartbeatMs);
    const started = Date.now();
    try {
      res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', 'x-accel-buffering': 'no', connection: 'keep-alive' });
      res.write(`retry: 2000\n\n`);
      let sentSeq = after;
      const sentStatus = new Set<string>();
      let lastState = '';
      while (!gone) {
        const detail = await this.#ops.run(runId);
        for (;;) {
          const { entries } = await this.#ops.logs(runId, sentSeq, LOG_BATCH);
          for (const e of entries) {
            res.write(event('log', e, e.seq));
            sentSeq = e.seq;
          }
          if (entries.length < LOG_BATCH) break;
        }
        detail.status.forEach((s, i) => {
          const key = s.seq === undefined ? `n${i}` : `s${s.seq}`;
          if (sentStatus.has(key)) return;
          sentStatus.add(key);
          res.write(event('status', s));
        });
        const state = { state: detail.run.state, ...(detail.run.verdict === undefined ? {} : { verdict: detail.run.verdict }) };
        if (JSON.stringify(state) !== lastState) {
          lastState = JSON.stringify(state);
          res.write(event('state', state));
        }
        const ended = detail.run.state === 'finished' || detail.run.state === 'cancelled';
        // Ended, and every line stored before we looked at its state has been sent.
        if (ended && (await this.#ops.logs(runId, sentSeq, 1)).entries.length === 0) {
          res.write(event('end', state));
          break;
        }
        if (Date.now() - started >= this.#options.maxStreamMs) break;
        await sleeper.sleep(this.#options.pollMs);
      }
    } finally {
      clearInterval(heartbeat);
      unsubscribe();
      req.off('close', onClose);
      this.#open -= 1;
      res.end();
    }
  }
}
