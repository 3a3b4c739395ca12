// SPDX-License-Identifier: Apache-2.0
// Console login over TLS: the session cookie, CSRF, the same refusal for unknown names and
// wrong passwords, rate limits, logout, idle and absolute expiry, API tokens, and the audit log.
// Each test on SQLite and on a real PostgreSQL (skipped, saying why, where it is not installed).
import test from 'ava';

import { localActor } from '../../../../src/hub/operators/operator-service.js';
import { startHub } from '../../../helpers/hub.js';
import { stopTestPostgres, testOnStores } from '../../../helpers/hub-stores.js';
import { addOperator, apiCall, apiToken, login, PASSWORD } from '../../../helpers/operator-api.js';

test.after.always(stopTestPostgres);

testOnStores(test, 'login sets an HttpOnly, Secure, SameSite=Strict cookie; the session answers with the CSRF token; logout ends it', async (t, backend) => {
  const hub = await startHub(t, { backend });
  await addOperator(hub, 'ann', 'operator');
  const session = await login(hub, 'ann');
  t.regex(session.setCookie, /^faultd_session=[A-Za-z0-9_-]{43}; /);
  for (const attribute of ['HttpOnly', 'Secure', 'SameSite=Strict', 'Path=/']) t.true(session.setCookie.split('; ').includes(attribute), session.setCookie);
  const me = await apiCall(hub, 'GET', '/api/v1/session', { headers: { cookie: session.cookie } });
  t.is(me.status, 200);
  t.deepEqual(me.json, { operator: { name: 'ann', role: 'operator' }, csrfToken: session.csrf });
  // A state-changing call with the cookie but without (or with a wrong) CSRF header.
  const noCsrf = await apiCall(hub, 'POST', '/api/v1/runs/run_x/abort', { body: {}, headers: { cookie: session.cookie } });
  t.is(noCsrf.status, 403);
  t.is(noCsrf.json.error?.code, 'CSRF');
  const wrongCsrf = await apiCall(hub, 'POST', '/api/v1/runs/run_x/abort', { body: {}, headers: { cookie: session.cookie, 'x-csrf-token': `${session.csrf.slice(0, -1)}${session.csrf.endsWith('x') ? 'y' : 'x'}` } });
  t.is(wrongCsrf.json.error?.code, 'CSRF');
  t.is((await apiCall(hub, 'POST', '/api/v1/runs/run_x/abort', { body: {}, auth: session })).status, 404, 'with the header it reaches the handler');
  // A form post (not JSON) is refused even with the header.
  const form = await apiCall(hub, 'POST', '/api/v1/logout', { headers: { cookie: session.cookie, 'x-csrf-token': session.csrf, 'content-type': 'application/x-www-form-urlencoded' }, body: 'a=1' });
  t.is(form.status, 400);
  const logout = await apiCall(hub, 'POST', '/api/v1/logout', { auth: session });
  t.is(logout.status, 204);
  t.regex(String(logout.headers['set-cookie']), /^faultd_session=; .*Max-Age=0/);
  const after = await apiCall(hub, 'GET', '/api/v1/session', { headers: { cookie: session.cookie } });
  t.is(after.status, 401);
  t.is(after.json.error?.code, 'UNAUTHENTICATED');
});

testOnStores(test, 'an unknown name and a wrong password get the same answer, after the same work', async (t, backend) => {
  const hub = await startHub(t, { backend });
  await addOperator(hub, 'ann', 'viewer');
  const timed = async (name: string, password: string) => {
    const started = process.hrtime.bigint();
    const answer = await apiCall(hub, 'POST', '/api/v1/login', { body: { name, password } });
    return { answer, ms: Number(process.hrtime.bigint() - started) / 1e6 };
  };
  const unknown = await timed('nobody', PASSWORD);
  const wrong = await timed('ann', 'not the password at all');
  t.is(unknown.answer.status, 401);
  t.is(wrong.answer.status, 401);
  t.deepEqual(unknown.answer.json, wrong.answer.json);
  t.deepEqual(wrong.answer.json, { error: { code: 'UNAUTHENTICATED', message: 'wrong operator name or password' } });
  // Both run one scrypt of the same cost (tens of ms); without the dummy hash the unknown name would answer in ~1 ms.
  const samples = { unknown: [] as number[], wrong: [] as number[] };
  for (let i = 0; i < 5; i += 1) {
    samples.unknown.push((await timed('nobody', PASSWORD)).ms);
    samples.wrong.push((await timed('ann', 'not the password at all')).ms);
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[2] ?? 0;
  t.log(`median login refusal: unknown name ${median(samples.unknown).toFixed(1)} ms, wrong password ${median(samples.wrong).toFixed(1)} ms`);
  t.true(median(samples.unknown) > 10, 'an unknown name costs a scrypt');
  t.true(median(samples.unknown) > median(samples.wrong) / 3 && median(samples.unknown) < median(samples.wrong) * 3);
});

testOnStores(test, 'logins are rate-limited per name and per address (429 with Retry-After); a good login clears the name', async (t, backend) => {
  const hub = await startHub(t, { backend, auth: { failuresPerName: 3, attemptsPerAddress: 8 } });
  await addOperator(hub, 'ann', 'viewer');
  await addOperator(hub, 'bob', 'viewer');
  for (let i = 0; i < 3; i += 1) t.is((await apiCall(hub, 'POST', '/api/v1/login', { body: { name: 'ann', password: 'wrong password!' } })).status, 401);
  const limited = await apiCall(hub, 'POST', '/api/v1/login', { body: { name: 'ann', password: PASSWORD } });
  t.is(limited.status, 429, 'even the right password waits');
  t.is(limited.json.error?.code, 'RATE_LIMITED');
  t.regex(String(limited.headers['retry-after']), /^\d+$/);
  // Another name from the same address still works, until the address's allowance is used.
  t.is((await apiCall(hub, 'POST', '/api/v1/login', { body: { name: 'bob', password: PASSWORD } })).status, 200);
  const statuses: number[] = [];
  for (let i = 0; i < 5; i += 1) statuses.push((await apiCall(hub, 'POST', '/api/v1/login', { body: { name: 'bob', password: PASSWORD } })).status);
  t.deepEqual(statuses, [200, 200, 200, 200, 429], 'the 8th attempt from this address is the last allowed (a refused one does not count)');
  const audit = await hub.ops.operators.listAudit(100);
  t.is(audit.filter((e) => e.action === 'login.failed' && e.target === 'ann').length, 4, 'three wrong passwords and the rate-limited one');
  t.true(audit.some((e) => e.action === 'login.failed' && e.detail === 'RATE_LIMITED' && e.remote === '127.0.0.1'));
});

testOnStores(test, 'sessions end after the idle timeout and at their expiry; a new password ends them too', async (t, backend) => {
  let now = Date.now();
  const hub = await startHub(t, { backend, hub: { now: () => now }, auth: { idleMs: 60_000, sessionTtlMs: 300_000 } });
  await addOperator(hub, 'ann', 'viewer');
  const session = async () => (await login(hub, 'ann')).cookie;
  const alive = async (cookie: string) => (await apiCall(hub, 'GET', '/api/v1/session', { headers: { cookie } })).status;
  const idle = await session();
  now += 59_000;
  t.is(await alive(idle), 200);
  now += 59_000;
  t.is(await alive(idle), 200, 'each call restarts the idle clock');
  now += 61_000;
  t.is(await alive(idle), 401, 'idle for longer than 60 s');
  const busy = await session();
  for (let i = 0; i < 6; i += 1) {
    now += 50_000;
    t.is(await alive(busy), i < 5 ? 200 : 401, `after ${(i + 1) * 50} s`);
  }
  const changed = await session();
  await hub.ops.operators.setPassword(localActor(), 'ann', 'another long password');
  t.is(await alive(changed), 401);
});

testOnStores(test, 'API tokens: work until revoked or expired, follow the user\'s role, and die with the user', async (t, backend) => {
  let now = Date.now();
  const hub = await startHub(t, { backend, hub: { now: () => now } });
  await addOperator(hub, 'ann', 'admin');
  const token = await apiToken(hub, 'ann');
  t.regex(token, /^fdo_[A-Za-z0-9_-]{43}$/);
  t.is((await apiCall(hub, 'GET', '/api/v1/users', { auth: { bearer: token } })).status, 200);
  await hub.ops.operators.setRole(localActor(), 'ann', 'viewer');
  t.is((await apiCall(hub, 'GET', '/api/v1/users', { auth: { bearer: token } })).status, 403);
  const [listed] = await hub.ops.operators.listTokens('ann');
  t.truthy(listed?.lastUsed);
  await hub.ops.operators.revokeToken(localActor(), listed?.id ?? '');
  t.is((await apiCall(hub, 'GET', '/api/v1/infras', { auth: { bearer: token } })).status, 401);
  const short = (await hub.ops.operators.createToken(localActor(), 'ann', 60_000)).token;
  t.is((await apiCall(hub, 'GET', '/api/v1/infras', { auth: { bearer: short } })).status, 200);
  now += 60_001;
  t.is((await apiCall(hub, 'GET', '/api/v1/infras', { auth: { bearer: short } })).status, 401);
  const kept = (await hub.ops.operators.createToken(localActor(), 'ann')).token;
  await hub.ops.operators.removeUser(localActor(), 'ann');
  t.is((await apiCall(hub, 'GET', '/api/v1/infras', { auth: { bearer: kept } })).status, 401);
  t.deepEqual(await hub.ops.operators.listTokens(), []);
});

testOnStores(test, 'every change through the API is audited with who, what, when and from where', async (t, backend) => {
  const hub = await startHub(t, { backend });
  await addOperator(hub, 'root-admin', 'admin');
  const session = await login(hub, 'root-admin');
  const created = await apiCall(hub, 'POST', '/api/v1/infras', { body: { name: 'edge-9' }, auth: session });
  t.is(created.status, 201);
  const infraId = String(created.json['id']);
  t.is((await apiCall(hub, 'POST', `/api/v1/infras/${infraId}/rotate-key`, { auth: session })).status, 202);
  const text = 'apiVersion: faultd/v1\nkind: Experiment\nmetadata: { name: lib }\nspec:\n  steps:\n    - name: s\n      faults:\n        - kind: linux-cpu-stress\n          duration: 1s\n          params: { load: 10, workers: 1 }\n';
  t.is((await apiCall(hub, 'PUT', '/api/v1/experiments/cpu', { body: { text }, auth: session })).status, 201);
  t.is((await apiCall(hub, 'PUT', '/api/v1/experiments/cpu', { body: { text }, auth: session })).status, 200);
  const queued = await apiCall(hub, 'POST', '/api/v1/runs', { body: { infra: 'edge-9', library: 'cpu' }, auth: session });
  t.is(queued.status, 201);
  const runId = String(queued.json['id']);
  t.deepEqual((await apiCall(hub, 'POST', `/api/v1/runs/${runId}/abort`, { body: {}, auth: session })).json, { outcome: 'cancelled' });
  t.is((await apiCall(hub, 'DELETE', '/api/v1/experiments/cpu', { auth: session })).status, 204);
  t.is((await apiCall(hub, 'POST', '/api/v1/users', { body: { name: 'viv', role: 'viewer', password: PASSWORD }, auth: session })).status, 201);
  t.is((await apiCall(hub, 'DELETE', '/api/v1/users/viv', { auth: session })).status, 204);
  t.is((await apiCall(hub, 'POST', '/api/v1/logout', { auth: session })).status, 204);
  const entries = (await hub.ops.operators.listAudit(100)).reverse();
  t.deepEqual(
    entries.map((e) => `${e.actor} ${e.role} ${e.action} ${e.target ?? ''}`),
    [
      `${localActor().name} local user.add root-admin`,
      'root-admin admin login root-admin',
      'root-admin admin infra.create edge-9',
      'root-admin admin infra.rotate-key edge-9',
      'root-admin admin experiment.put cpu',
      'root-admin admin experiment.put cpu',
      `root-admin admin run.queue ${runId}`,
      `root-admin admin run.abort ${runId}`,
      'root-admin admin experiment.delete cpu',
      'root-admin admin user.add viv',
      'root-admin admin user.remove viv',
      'root-admin admin logout root-admin',
    ],
  );
  t.true(entries.slice(1).every((e) => e.remote === '127.0.0.1' && Math.abs(e.at - Date.now()) < 60_000));
  const api = await apiCall(hub, 'GET', '/api/v1/audit?limit=2', { auth: { bearer: await apiToken(hub, 'root-admin') } });
  t.deepEqual((api.json['entries'] as { action: string }[]).map((e) => e.action), ['token.create', 'logout']);
});

testOnStores(test, 'an invalid experiment is refused with the lines faultd validate prints, on PUT and on queueing', async (t, backend) => {
  const hub = await startHub(t, { backend });
  await hub.service.createInfra('edge-1');
  await addOperator(hub, 'op', 'operator');
  const auth = { bearer: await apiToken(hub, 'op') };
  const text = 'apiVersion: faultd/v1\nkind: Experiment\nmetadata: { name: bad }\nspec:\n  steps:\n    - name: s\n      faults:\n        - kind: linux-cpu-stress\n          duration: 1s\n          params: { load: 250 }\n';
  const put = await apiCall(hub, 'PUT', '/api/v1/experiments/bad', { body: { text }, auth });
  t.is(put.status, 400);
  t.is(put.json.error?.code, 'INVALID_EXPERIMENT');
  t.is(put.json.error?.lines?.[0], 'bad is not a valid experiment:');
  t.regex(put.json.error?.lines?.[1] ?? '', /^ {2}spec\.steps\[0\]\.faults\[0\]\.params\.load: /);
  const queued = await apiCall(hub, 'POST', '/api/v1/runs', { body: { infra: 'edge-1', experiment: text }, auth });
  t.is(queued.status, 400);
  t.deepEqual(queued.json.error?.lines?.slice(1), put.json.error?.lines?.slice(1));
  const syntax = await apiCall(hub, 'PUT', '/api/v1/experiments/bad', { body: { text: 'a: [' }, auth });
  t.is(syntax.json.error?.code, 'INVALID_EXPERIMENT');
  t.deepEqual(await hub.ops.operators.listExperiments(), []);
  t.deepEqual(await hub.service.runs(), []);
});

testOnStores(test, 'a plain-HTTP hub sets the cookie without Secure; under mutual TLS the operator API needs no client certificate, the agent API still does', async (t, backend) => {
  const { startHubServer } = await import('../../../../src/hub/server.js');
  const { HubService } = await import('../../../../src/hub/service.js');
  const { operatorApi } = await import('../../../../src/hub/operators/setup.js');
  const { SILENT } = await import('../../../helpers/hub.js');
  const { request } = await import('undici');
  const store = await (await backend.database(t)).connect();
  const service = new HubService(store);
  const api = operatorApi({ hub: service, store: store.operators() }, { secureCookies: false, logger: SILENT });
  const plain = await startHubServer({ service, logger: SILENT, host: '127.0.0.1', port: 0, insecureHttp: true, operatorApi: api });
  t.teardown(() => plain.close());
  await api.deps.ops.operators.addUser(localActor(), 'ann', 'viewer', PASSWORD);
  const answer = await request(`${plain.url}/api/v1/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'ann', password: PASSWORD }) });
  t.is(answer.statusCode, 200);
  await answer.body.dump();
  const setCookie = String(answer.headers['set-cookie']);
  t.false(setCookie.split('; ').includes('Secure'), setCookie);
  t.true(setCookie.includes('HttpOnly') && setCookie.includes('SameSite=Strict'));

  const mtls = await startHub(t, { backend, requireClientCert: true });
  await addOperator(mtls, 'ann', 'viewer');
  t.is((await apiCall(mtls, 'GET', '/api/v1/infras', { auth: { bearer: await apiToken(mtls, 'ann') } })).status, 200);
  // Again and again: a resumed TLS session (the same client's next connection) is no certificate either.
  for (let i = 0; i < 4; i += 1) {
    const agentCall = await apiCall(mtls, 'POST', '/v1/token', { body: { infraId: 'inf_x', accessKey: 'fdk_x' } });
    t.is(agentCall.status, 401, agentCall.text);
    t.regex(agentCall.json.error?.message ?? '', /client certificate signed by the hub CA is required/);
  }
});

test('an operator changes their own password: the current one is checked (403, counted as a failed login); the session continues as a new one, the others end', async (t) => {
  const hub = await startHub(t, { auth: { failuresPerName: 3 } });
  await addOperator(hub, 'vic', 'viewer');
  const session = await login(hub, 'vic');
  const other = await login(hub, 'vic');
  const wrong = await apiCall(hub, 'PUT', '/api/v1/session/password', { body: { currentPassword: 'not my password', password: 'a brand new passphrase' }, auth: session });
  t.is(wrong.status, 403);
  t.deepEqual(wrong.json, { error: { code: 'FORBIDDEN', message: 'the current password is wrong' } });
  const weak = await apiCall(hub, 'PUT', '/api/v1/session/password', { body: { currentPassword: PASSWORD, password: 'short' }, auth: session });
  t.is(weak.status, 400);
  const changed = await apiCall(hub, 'PUT', '/api/v1/session/password', { body: { currentPassword: PASSWORD, password: 'a brand new passphrase' }, auth: session });
  t.is(changed.status, 200, changed.text);
  const cookie = String(changed.headers['set-cookie']).split(';')[0] ?? '';
  t.not(cookie, session.cookie);
  t.like(changed.json, { operator: { name: 'vic', role: 'viewer' } });
  t.is((await apiCall(hub, 'GET', '/api/v1/session', { headers: { cookie } })).status, 200, 'the new session works');
  t.is((await apiCall(hub, 'GET', '/api/v1/session', { headers: { cookie: session.cookie } })).status, 401, 'the old one ended');
  t.is((await apiCall(hub, 'GET', '/api/v1/session', { headers: { cookie: other.cookie } })).status, 401, 'and the other sessions');
  t.is((await apiCall(hub, 'POST', '/api/v1/login', { body: { name: 'vic', password: PASSWORD } })).status, 401);
  t.is((await apiCall(hub, 'POST', '/api/v1/login', { body: { name: 'vic', password: 'a brand new passphrase' } })).status, 200);
  const audit = await hub.ops.operators.listAudit(100);
  t.like(audit.find((e) => e.action === 'user.passwd'), { actor: 'vic', role: 'viewer', target: 'vic' });
  t.like(audit.find((e) => e.action === 'login.failed' && e.role === 'viewer'), { actor: 'vic', target: 'vic', detail: 'UNAUTHENTICATED (password change)' }, 'the wrong current password, audited as the operator (the later failed login has no role)');
});

test('a disabled operator cannot log in (the same answer as a wrong password), their session and token are refused at once; enabled again, the token works and they log in', async (t) => {
  const hub = await startHub(t);
  await addOperator(hub, 'ada', 'admin');
  await addOperator(hub, 'vic', 'viewer');
  const admin = await login(hub, 'ada');
  const session = await login(hub, 'vic');
  const token = await apiToken(hub, 'vic');
  t.is((await apiCall(hub, 'GET', '/api/v1/runs', { auth: { bearer: token } })).status, 200);
  t.is((await apiCall(hub, 'PUT', '/api/v1/users/vic/disabled', { body: { disabled: true }, auth: admin })).status, 204);
  t.is((await apiCall(hub, 'GET', '/api/v1/session', { headers: { cookie: session.cookie } })).status, 401, 'the session ended');
  t.is((await apiCall(hub, 'GET', '/api/v1/runs', { auth: { bearer: token } })).status, 401, 'the token is refused');
  const refused = await apiCall(hub, 'POST', '/api/v1/login', { body: { name: 'vic', password: PASSWORD } });
  t.is(refused.status, 401);
  t.deepEqual(refused.json, { error: { code: 'UNAUTHENTICATED', message: 'wrong operator name or password' } });
  const users = await apiCall(hub, 'GET', '/api/v1/users', { auth: admin });
  t.true(typeof (users.json['users'] as { name: string; disabledAt?: number }[]).find((u) => u.name === 'vic')?.disabledAt === 'number');
  const self = await apiCall(hub, 'PUT', '/api/v1/users/ada/disabled', { body: { disabled: true }, auth: admin });
  t.is(self.status, 400);
  t.is(self.json.error?.message, 'you cannot disable your own account');
  t.is((await apiCall(hub, 'PUT', '/api/v1/users/nobody/disabled', { body: { disabled: true }, auth: admin })).status, 404);
  t.is((await apiCall(hub, 'PUT', '/api/v1/users/vic/disabled', { body: { disabled: false }, auth: admin })).status, 204);
  t.is((await apiCall(hub, 'GET', '/api/v1/runs', { auth: { bearer: token } })).status, 200, 'the token works again');
  t.is((await apiCall(hub, 'POST', '/api/v1/login', { body: { name: 'vic', password: PASSWORD } })).status, 200);
  const audit = (await hub.ops.operators.listAudit(100)).filter((e) => e.target === 'vic' && e.actor === 'ada').map((e) => `${e.actor} ${e.action}`);
  t.deepEqual(audit.reverse(), ['ada user.disable', 'ada user.enable']);
});

testOnStores(test, 'U+0000 in a login name, a path or a query finds nothing, as any unknown name: 401 or 404, never 500', async (t, backend) => {
  const hub = await startHub(t, { backend });
  await addOperator(hub, 'ann', 'admin');
  const login = await apiCall(hub, 'POST', '/api/v1/login', { body: { name: 'ann\u0000', password: PASSWORD } });
  t.is(login.status, 401, login.text);
  t.is(login.json.error?.code, 'UNAUTHENTICATED');
  t.true((await hub.ops.operators.listAudit(10)).some((e) => e.action === 'login.failed'), 'the refusal is audited');
  const auth = { bearer: await apiToken(hub, 'ann') };
  for (const path of ['/api/v1/runs/run_%00', '/api/v1/runs/run_%00/logs', '/api/v1/experiments/x%00', '/api/v1/runs?infra=edge%00']) {
    const answer = await apiCall(hub, 'GET', path, { auth });
    t.true(answer.status === 404 || answer.status === 400, `${path}: ${answer.status} ${answer.text}`);
  }
  const role = await apiCall(hub, 'PUT', '/api/v1/users/x%00/role', { body: { role: 'viewer' }, auth });
  t.true(role.status === 404 || role.status === 400, `${role.status} ${role.text}`);
});
