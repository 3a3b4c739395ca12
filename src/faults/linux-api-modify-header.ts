// SPDX-License-Identifier: Apache-2.0
/**
 * linux-api-modify-header (Harness name and tunables): the headers in `headersMap` are set on
 * matching HTTP requests (dataDirection request), their responses (response) or both; a header
 * mapped to "" is removed. Harness documents no default for dataDirection; faultd takes `both`,
 * as in Harness's example.
 */
import { dataDirectionParam, headersMapParam } from './http/action-params.js';
import { defineHttpFault } from './http/define-http-fault.js';

export const linuxApiModifyHeader = defineHttpFault({
  kind: 'linux-api-modify-header',
  summary: 'Set or remove headers of matching HTTP requests and/or their responses (HTTP interceptor behind an nf_tables redirect)',
  // Harness's page names it `headerMap` in its prose and `headersMap` in its examples: both are taken.
  aliases: { HEADERS_MAP: 'headersMap', headerMap: 'headersMap', HEADER_MAP: 'headersMap', DATA_DIRECTION: 'dataDirection' },
  actionParams: () => ({
    headersMap: headersMapParam(),
    dataDirection: dataDirectionParam('both', 'request: the request headers are edited; response: the response headers; both: each (DATA_DIRECTION)'),
  }),
  action: (p) => ({
    args: ['--action=header', `--direction=${p.dataDirection}`, ...p.headersMap.map((h) => (h.value === '' ? `--remove-header=${h.name}` : `--set-header=${h.name}:${h.value}`))],
    describe: `get ${p.headersMap.map((h) => (h.value === '' ? `${h.name} removed` : `${h.name}: ${h.value}`)).join(', ')} on the ${p.dataDirection === 'both' ? 'request and the response' : p.dataDirection}`,
  }),
});
