// SPDX-License-Identifier: Apache-2.0
/**
 * linux-api-status-code (Harness name and tunables): matching HTTP requests go to the service,
 * and their response comes back with `statusCode` (404 by default) and `responseBody` (Harness:
 * an empty body when none is given), re-framed with Content-Length.
 */
import { bodylessStatus, responseBodyParam, statusCodeParam } from './http/action-params.js';
import { defineHttpFault } from './http/define-http-fault.js';

export const linuxApiStatusCode = defineHttpFault({
  kind: 'linux-api-status-code',
  summary: "Replace the status code (and body) of matching HTTP requests' responses (HTTP interceptor behind an nf_tables redirect)",
  aliases: { STATUS_CODE: 'statusCode', RESPONSE_BODY: 'responseBody' },
  actionParams: () => ({
    statusCode: statusCodeParam('the status the responses get (STATUS_CODE)'),
    responseBody: responseBodyParam('the body the responses get; empty when not given, as in Harness (RESPONSE_BODY)'),
  }),
  refine: (p, issue) => {
    if (bodylessStatus(p.statusCode) && p.responseBody) issue('responseBody', `must be empty with statusCode ${p.statusCode}, a status whose response never has a body`);
  },
  action: (p) => ({
    args: ['--action=status', `--status=${p.statusCode}`, `--body=${p.responseBody}`],
    describe: `get the service's response with status ${p.statusCode} and ${p.responseBody ? `a ${Buffer.byteLength(p.responseBody)}-byte body` : 'an empty body'}`,
  }),
});
