// SPDX-License-Identifier: Apache-2.0
/**
 * Delivers a finished run: everything its outbox still owes, then the result, retried with
 * backoff until the hub has it. The result goes only once the hub has acknowledged every status
 * event (the last phases of each fault and the run's `finished` included): a hub shows a
 * finished run with its whole history. A result the hub refuses is resent as the verdict alone (the
 * run must close on the hub, or its queue waits); a run the hub has forgotten is dropped.
 */
import type { Logger } from 'pino';

import { messageOf } from '../errors.js';
import { API_PREFIX, LogsResponse, type ResultRequest } from '../protocol/messages.js';
import { retryDelayMs } from './backoff.js';
import { expectStatus, RefusedByHub, RunUnknownToHub, type HubLink } from './hub-link.js';
import type { RunOutbox } from './outbox.js';
import { fitResult } from './result-fit.js';
import { SHIP_BATCH_BYTES, type Shipper } from './shipper.js';
import { sleep } from './sleep.js';

/** Status events still wait for the hub's acknowledgement: the result waits too (retried). */
export class StatusNotAcknowledged extends Error {}

export interface DeliveryDeps {
  readonly link: HubLink;
  readonly shipper: Shipper;
  readonly logger: Logger;
}

/**
 * Sends everything owed and the result. True once the hub has them (or can never take them);
 * false when the agent stops first (the journal keeps them for the next start).
 */
export async function deliverResult(deps: DeliveryDeps, runId: string, outbox: RunOutbox, result: ResultRequest, shutdown: AbortSignal): Promise<boolean> {
  const { link, shipper, logger } = deps;
  let sent = fitResult(result, SHIP_BATCH_BYTES);
  for (let attempt = 0; ; attempt += 1) {
    try {
      await shipper.flush(runId, outbox);
      if (outbox.statusOwed) throw new StatusNotAcknowledged('the hub has not acknowledged every status event yet');
      expectStatus(await link.post(`${API_PREFIX}/runs/${runId}/result`, sent, LogsResponse), [204, 409]);
      await shipper.flush(runId, outbox);
      return true;
    } catch (error) {
      if (error instanceof RefusedByHub && sent.faults.length > 0) {
        logger.error({ runId, err: error.message }, 'the hub refused the result (400/413): sending the verdict without the fault list; every outcome is in the run log');
        const why = `the hub refused the full result (${error.message})`;
        sent = { verdict: result.verdict, reason: (result.reason ? `${result.reason}; ${why}` : why).slice(0, 4000), faults: [] };
        continue;
      }
      if (error instanceof RefusedByHub) {
        logger.error({ runId, err: error.message }, 'the hub refused even the bare verdict (400/413): dropping it; see the agent log');
        return true;
      }
      if (error instanceof RunUnknownToHub) {
        logger.error({ runId, err: error.message }, 'the hub does not know this run (was its database reset?): dropping its result and logs');
        return true;
      }
      if (shutdown.aborted) {
        logger.error({ runId, err: messageOf(error) }, 'stopping before the hub received the result; it is sent at the next start');
        return false;
      }
      logger.warn({ runId, err: messageOf(error), attempt: attempt + 1 }, 'result not delivered yet; retrying');
      await sleep(retryDelayMs(attempt + 1, error), shutdown);
    }
  }
}
