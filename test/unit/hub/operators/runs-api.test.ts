// SPDX-License-Identifier: Apache-2.0
// The run routes of the operator API: filters, limits, the detail with status and result, logs;
// on SQLite and on a real PostgreSQL (skipped, saying why, where it is not installed).
import test from 'ava';

import { dispatchRun, linkTo, QUEUED_EXPERIMENT, startHub } from '../../../helpers/hub.js';
import { stopTestPostgres, testOnStores } from '../../../helpers/hub-stores.js';
import { addOperator, apiCall, apiToken } from '../../../helpers/operator-api.js';

test.after.always(stopTestPostgres);

testOnStores(test, 'GET /api/v1/runs filters by infra, state and verdict, newest first, bounded by limit; a run answers with its experiment, status and result', async (t, backend) => {
  const hub = await startHub(t, { backend });
  const { infraId } = await linkTo(t, hub);
  await hub.service.createInfra('edge-2');
  await addOperator(hub, 'vic', 'viewer');
  const auth = { bearer: await apiToken(hub, 'vic') };
  const finished = await dispatchRun(hub, infraId);
  const at = new Date().toISOString();
  await hub.service.reportStatus(infraId, finished, { events: [{ seq: 1, at, faultId: 'f1', phase: 'applied' }] });
  await hub.service.reportLogs(infraId, finished, { entries: [{ seq: 1, at, level: 'info', message: 'hello' }] });
  await hub.service.reportResult(infraId, finished, { verdict: 'failed', reason: 'r', faults: [] });
  const cancelled = (await hub.service.queueRun('edge-1', QUEUED_EXPERIMENT)).id;
  await hub.service.requestAbort(cancelled);
  const other = (await hub.service.queueRun('edge-2', QUEUED_EXPERIMENT)).id;
  const ids = async (query: string) => ((await apiCall(hub, 'GET', `/api/v1/runs${query}`, { auth })).json['runs'] as { id: string }[]).map((r) => r.id);
  t.deepEqual(await ids(''), [other, cancelled, finished]);
  t.deepEqual(await ids('?limit=2'), [other, cancelled]);
  t.deepEqual(await ids('?infra=edge-2'), [other]);
  t.deepEqual(await ids(`?infra=${infraId}`), [cancelled, finished], 'by id too');
  t.deepEqual(await ids('?state=queued,cancelled'), [other, cancelled]);
  t.deepEqual(await ids('?verdict=failed'), [finished]);
  t.deepEqual(await ids('?state=finished&verdict=completed'), []);
  for (const bad of ['?state=done', '?verdict=great', '?limit=0', '?limit=501', '?limit=x']) t.is((await apiCall(hub, 'GET', `/api/v1/runs${bad}`, { auth })).status, 400, bad);
  t.is((await apiCall(hub, 'GET', '/api/v1/runs?infra=nope', { auth })).status, 404);
  const detail = await apiCall(hub, 'GET', `/api/v1/runs/${finished}`, { auth });
  t.like(detail.json, { run: { id: finished, infraId, infraName: 'edge-1', experimentName: 'x', state: 'finished', verdict: 'failed', experiment: QUEUED_EXPERIMENT }, result: { verdict: 'failed', reason: 'r' } });
  t.deepEqual(detail.json['status'], [{ seq: 1, at, faultId: 'f1', phase: 'applied' }]);
  t.like((await apiCall(hub, 'GET', `/api/v1/runs/${finished}/logs?after=0`, { auth })).json, { entries: [{ seq: 1, message: 'hello' }] });
  t.deepEqual((await apiCall(hub, 'GET', `/api/v1/runs/${finished}/logs?after=1`, { auth })).json, { entries: [] });
  const infras = (await apiCall(hub, 'GET', '/api/v1/infras', { auth })).json['infras'] as { name: string; connected: boolean; capabilities: string[] }[];
  t.deepEqual(infras.map((i) => [i.name, i.connected]), [['edge-1', false], ['edge-2', false]]);
});
