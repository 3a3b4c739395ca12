// SPDX-License-Identifier: Apache-2.0
/**
 * linux-api-block (Harness name and tunables): matching HTTP requests are answered by faultd's
 * HTTP interceptor with `statusCode` (404 by default) and never reach the service; the rest pass
 * unchanged. Mechanism, targeting and revert: http/http-fault.ts.
 */
import { statusCodeParam } from './http/action-params.js';
import { defineHttpFault } from './http/define-http-fault.js';

export const linuxApiBlock = defineHttpFault({
  kind: 'linux-api-block',
  summary: 'Answer matching HTTP requests with a status code; they never reach the service (HTTP interceptor behind an nf_tables redirect)',
  aliases: { STATUS_CODE: 'statusCode' },
  actionParams: () => ({ statusCode: statusCodeParam('the status the interceptor answers blocked requests with (STATUS_CODE)') }),
  action: (p) => ({ args: ['--action=block', `--status=${p.statusCode}`], describe: `get ${p.statusCode} from faultd without reaching the service` }),
});
