// SPDX-License-Identifier: Apache-2.0
/**
 * linux-api-modify-body (Harness name and tunables): the body of matching HTTP requests
 * (dataDirection request), of their responses (response) or of both is replaced with
 * `responseBody` (Harness: an empty body when none is given), re-framed with Content-Length.
 * Harness documents no default for dataDirection; faultd takes `response`, which the tunable's
 * name says.
 */
import { dataDirectionParam, responseBodyParam } from './http/action-params.js';
import { defineHttpFault } from './http/define-http-fault.js';

export const linuxApiModifyBody = defineHttpFault({
  kind: 'linux-api-modify-body',
  summary: 'Replace the body of matching HTTP requests and/or their responses (HTTP interceptor behind an nf_tables redirect)',
  aliases: { RESPONSE_BODY: 'responseBody', DATA_DIRECTION: 'dataDirection' },
  actionParams: () => ({
    responseBody: responseBodyParam('the body that replaces the original; empty when not given, as in Harness (RESPONSE_BODY)'),
    dataDirection: dataDirectionParam('response', 'request: the request body is replaced; response: the response body; both: each (DATA_DIRECTION)'),
  }),
  action: (p) => ({
    args: ['--action=body', `--body=${p.responseBody}`, `--direction=${p.dataDirection}`],
    describe: `get their ${p.dataDirection === 'both' ? 'request and response bodies' : `${p.dataDirection} body`} replaced with ${p.responseBody ? `${Buffer.byteLength(p.responseBody)} bytes of responseBody` : 'an empty body'}`,
  }),
});
