// SPDX-License-Identifier: Apache-2.0
// The web console in a real browser (headless Chromium from Debian, puppeteer-core) against a
// real hub with the operator API: an operator logs in, queues a run on a real agent (a CPU and a
// memory stressor), watches the live log and the timeline advance, aborts it after confirming,
// and sees the verdict; a viewer sees no queue or abort action (and the hub refuses them
// anyway); the library shows validation errors line by line; an admin rotates a key; an admin
// manages operators and API tokens (a token made in the console works with the CLI), releases an
// infrastructure, and a viewer they made sees no admin action, is refused by the hub, and changes
// their own password.
// Screenshots at 1280 px and on a phone viewport go to test-artifacts/console/.
import { chmodSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import anyTest, { type TestFn } from 'ava';
import type { Browser, Page } from 'puppeteer-core';

import { configureAgent, cpuAndMemoryExperiment, launchAgent } from '../helpers/agent-process.js';
import { attributeOf, canvasImage, chromiumOrReason, DESKTOP, exists, fill, holds, launchBrowser, pageProblems, PHONE, screenshot, textOf, textsOf, unlabelledControls } from '../helpers/browser.js';
import { runCli, workspace } from '../helpers/cli.js';
import { dispatchRun, startHub, type TestHub } from '../helpers/hub.js';
import { rootOrReason } from '../helpers/host.js';
import { addOperator, apiCall, PASSWORD } from '../helpers/operator-api.js';
import { stressorsMatching, waitUntil } from '../helpers/processes.js';

const noBrowser = chromiumOrReason();
if (noBrowser) console.log(`browser suite skipped: ${noBrowser}`);
const noAgent = noBrowser ?? rootOrReason();
if (noAgent && !noBrowser) console.log(`console test with a real agent skipped: ${noAgent}`);
const test: TestFn['serial'] = noBrowser ? (anyTest.skip as TestFn['serial']) : anyTest.serial;
const agentTest: TestFn['serial'] = noAgent ? (anyTest.skip as TestFn['serial']) : anyTest.serial;

/** The agent suites' CPU and memory faults for 60 s, with a probe on the CPU fault and one on the experiment's edges. */
function probedExperiment() {
  const base = cpuAndMemoryExperiment(60, 'console-e2e');
  const [cpu, mem] = base.spec.steps[0]?.faults ?? [];
  const responsive = { name: 'responsive', type: 'cmd', mode: 'Continuous', command: ['/bin/true'], runProperties: { probeTimeout: '500ms', probePollingInterval: '1s' } };
  const osRelease = { name: 'os-release', type: 'cmd', mode: 'Edge', command: ['test', '-r', '/etc/os-release'], criteria: { exitCode: 0 } };
  return { ...base, spec: { probes: [osRelease], steps: [{ faults: [{ ...cpu, probes: [responsive] }, mem] }] } };
}

async function openPage(browser: Browser, viewport: typeof DESKTOP | typeof PHONE = DESKTOP): Promise<{ page: Page; problems: string[] }> {
  const context = await browser.createBrowserContext();
  const page = await context.newPage();
  await page.setViewport(viewport);
  page.setDefaultTimeout(20_000);
  return { page, problems: pageProblems(page) };
}

/** Opens the hub's root, which leads to the login page, and logs in. */
async function logIn(page: Page, hub: TestHub, name: string): Promise<void> {
  await page.goto(`${hub.url}/`);
  await page.waitForSelector('#login-name');
  if (new URL(page.url()).pathname !== '/ui/') throw new Error(`/ redirected to ${page.url()}`);
  const unlabelled = await unlabelledControls(page);
  if (unlabelled.length > 0) throw new Error(`login controls without a label: ${unlabelled.join(' ')}`);
  await page.type('#login-name', name);
  await page.type('#login-password', PASSWORD);
  await page.locator('form button[type="submit"]').click();
  await page.waitForSelector('[data-testid="operator"]');
}

async function laneOf(page: Page, lane: string): Promise<string> {
  return attributeOf(page, `[data-testid="timeline-lanes"] li[data-lane="${lane}"]`, 'data-phase');
}

async function logLines(page: Page): Promise<string[]> {
  return textsOf(page, 'ol.log li');
}

/** Polls `check` in the page until it is true (false after `timeoutMs`). */
async function eventually(check: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return false;
}

agentTest('an operator logs in, queues a run on a real agent, follows its log and timeline, aborts it after confirming and sees the verdict', async (t) => {
  const hub = await startHub(t);
  await addOperator(hub, 'alice', 'operator');
  const ws = workspace();
  t.teardown(() => ws.remove());
  await configureAgent(hub, ws);
  launchAgent(t, ws);
  t.true(await waitUntil(async () => (await hub.service.listInfras())[0]?.state === 'CONNECTED', 15_000), 'the agent is connected');

  const browser = await launchBrowser(t);
  const { page, problems } = await openPage(browser);
  await logIn(page, hub, 'alice');
  t.is(await textOf(page, '[data-testid="operator"]'), 'alice (operator)');

  // Infrastructures: the real agent, connected, with its version and capabilities.
  await page.locator('nav a[href="#/infras"]').click();
  await page.waitForSelector('td[data-label="State"] .badge-connected');
  t.regex(await textOf(page, 'td[data-label="Agent"]'), /^\d+\.\d+\.\d+.* on /);
  t.regex(await textOf(page, 'td[data-label="Capabilities"]'), /linux-cpu-stress/);
  t.false(await exists(page, 'td button'), 'an operator has no key rotation button');
  await screenshot(page, 'infrastructures-1280');

  // Queue a run from an uploaded experiment file.
  await page.locator('nav a[href="#/queue"]').click();
  await page.waitForSelector('#queue-file');
  t.deepEqual(await unlabelledControls(page), [], 'every control of the queue form has a label');
  const file = path.join(ws.dir, 'console-e2e.json');
  writeFileSync(file, JSON.stringify(probedExperiment(), null, 2));
  const upload = await page.$('#queue-file');
  await upload?.uploadFile(file);
  await page.waitForFunction("(document.querySelector('#queue-text')?.value ?? '').includes('linux-cpu-stress')");
  await page.locator('form button[type="submit"]').click();
  await page.waitForFunction("/^#\\/runs\\/[^/]+$/.test(location.hash)");
  const runId = decodeURIComponent(new URL(page.url()).hash.replace('#/runs/', ''));
  t.is((await hub.service.run(runId))?.infraId, (await hub.service.listInfras())[0]?.id, 'the run the page shows was queued on edge-1');

  // The live log and the timeline follow the run as it starts.
  t.true(await eventually(async () => (await laneOf(page, 'cpu')) === 'applied' && (await laneOf(page, 'mem')) === 'applied', 20_000), 'both lanes reach applied');
  t.is(stressorsMatching(runId).length, 2, 'both stressors run on this host');
  t.true(await eventually(async () => (await logLines(page)).some((l) => l.includes('fault applied')), 10_000), 'the log shows the faults applied');
  t.is(await textOf(page, '[data-testid="stream-state"]'), '(live)');
  t.true(await eventually(async () => /\(([1-9]\d*) probe evaluations\)/.test(await textOf(page, 'li[data-lane="cpu"]')), 10_000), 'the probe evaluations of the CPU fault are marked on its lane');
  t.regex(await textOf(page, 'li[data-lane="run"]'), /\([1-9]\d* probe evaluations\)/, 'the first evaluation of the experiment probe, on the run lane');
  t.is(`${await attributeOf(page, 'ol.log', 'role')} ${await attributeOf(page, 'ol.log', 'aria-live')}`, 'log polite');
  const before = await canvasImage(page, '.timeline canvas');
  const linesBefore = (await logLines(page)).length;
  t.true(await eventually(async () => (await canvasImage(page, '.timeline canvas')) !== before, 5000), 'the timeline plot is redrawn as the run goes on');
  await screenshot(page, 'run-live-1280');

  // Abort: a confirmation first; Cancel changes nothing.
  await page.locator('.run-head button.danger').click();
  await page.waitForSelector('dialog[open]');
  t.regex(await textOf(page, 'dialog[open] h2'), /Abort run/);
  await page.click('dialog[open] button:not(.danger)');
  await page.waitForFunction("!document.querySelector('dialog[open]')");
  t.is((await hub.service.run(runId))?.abortRequested, false, 'Cancel sends no abort');
  await page.locator('.run-head button.danger').click();
  await page.waitForSelector('dialog[open]');
  await page.locator('dialog[open] button.danger').click();

  t.true(await eventually(async () => (await textOf(page, '[data-testid="run-verdict"]')) === 'aborted', 20_000), 'the verdict is shown');
  t.is(await textOf(page, '[data-testid="run-state"]'), 'finished');
  t.true(await eventually(async () => (await textOf(page, '[data-testid="stream-state"]')) === '(ended)', 10_000), 'the event stream ended with the run');
  t.is(await laneOf(page, 'cpu'), 'reverted');
  t.is(await laneOf(page, 'mem'), 'reverted');
  t.true(await waitUntil(() => stressorsMatching(runId).length === 0, 10_000), 'no stressor left on this host');
  t.true((await logLines(page)).length > linesBefore, 'the log went on without a reload');
  t.like((await hub.service.run(runId))?.result, { verdict: 'aborted' });
  t.regex(await textOf(page, 'table'), /cpu.*linux-cpu-stress/, 'each fault and its outcome');
  t.true((await textsOf(page, 'table.status tbody tr')).length >= 6, 'the status history');
  t.regex(await textOf(page, 'td[data-label="Revert"]'), /^reverted: stopped stressor \d+/);
  await page.waitForSelector('table.probes');
  t.regex(await textOf(page, 'table.probes'), /responsive.*cmd, Continuous.*fault cpu/);
  await screenshot(page, 'run-aborted-1280');

  // The runs list, filtered by verdict, has it; the run page and the list fit a phone.
  await page.goto(`${hub.url}/ui/#/runs?verdict=aborted`);
  await page.waitForSelector(`a[href="#/runs/${runId}"]`);
  await screenshot(page, 'runs-1280');
  // A phone: a second tab of the same session (changing a tab to a mobile viewport reloads it).
  const phone = await page.browserContext().newPage();
  const phoneProblems = pageProblems(phone);
  await phone.setViewport(PHONE);
  await phone.goto(`${hub.url}/ui/#/runs/${runId}`);
  await phone.waitForSelector('[data-testid="timeline-lanes"] li[data-phase="reverted"]');
  t.true(await holds(phone, 'document.documentElement.scrollWidth <= window.innerWidth + 1'), 'no horizontal scrolling on a phone');
  t.true(await holds(phone, "getComputedStyle(document.querySelector('nav')).display === 'none'"), 'the navigation folds into the menu button');
  await screenshot(phone, 'run-phone', false);
  await phone.locator('.menu-toggle').click();
  await phone.locator('nav a[href="#/runs"]').click();
  await phone.waitForSelector(`a[href="#/runs/${runId}"]`);
  await screenshot(phone, 'runs-phone', false);
  t.deepEqual(phoneProblems, []);
  t.deepEqual(problems, [], 'no script error, no CSP refusal');
});

test('a viewer reads runs but gets no queue, abort or key rotation action, and the hub refuses them anyway', async (t) => {
  const hub = await startHub(t);
  await addOperator(hub, 'victor', 'viewer');
  await hub.service.createInfra('edge-1');
  const run = await hub.service.queueRun('edge-1', cpuAndMemoryExperiment(5, 'waiting'));
  const browser = await launchBrowser(t);
  const { page, problems } = await openPage(browser);
  await logIn(page, hub, 'victor');
  t.is(await textOf(page, '[data-testid="operator"]'), 'victor (viewer)');
  t.false(await exists(page, 'nav a[href="#/queue"]'), 'no Queue a run link');
  t.false(await exists(page, 'nav a[href="#/audit"]') || await exists(page, 'nav a[href="#/users"]'), 'no admin views');
  await page.waitForSelector(`a[href="#/runs/${run.id}"]`);
  t.deepEqual(await unlabelledControls(page), [], 'the filters have labels');
  // The filters: by state (none finished yet), then queued on edge-1; kept in the URL.
  await page.select('select[name="state"]', 'finished');
  await page.waitForFunction("/No run matches/.test(document.querySelector('main')?.textContent ?? '')");
  t.is(new URL(page.url()).hash, '#/runs?state=finished');
  await page.select('select[name="state"]', 'queued');
  await page.select('select[name="infra"]', 'edge-1');
  await page.waitForSelector(`a[href="#/runs/${run.id}"]`);
  t.is(new URL(page.url()).hash, '#/runs?state=queued&infra=edge-1');
  await page.locator(`a[href="#/runs/${run.id}"]`).click();
  await page.waitForSelector('[data-testid="run-state"] .badge-queued');
  t.false(await exists(page, '.run-head button'), 'no Abort button on an open run');
  await page.locator('nav a[href="#/infras"]').click();
  await page.waitForSelector('td[data-label="Name"]');
  t.false(await exists(page, 'td button'), 'no Rotate key button');
  // The hub checks the role, whatever the page shows.
  const refused = await page.evaluate(async (id) => {
    const session = (await (await fetch('/api/v1/session')).json()) as { csrfToken: string };
    const response = await fetch(`/api/v1/runs/${id}/abort`, { method: 'POST', headers: { 'x-csrf-token': session.csrfToken } });
    return { status: response.status, body: (await response.json()) as { error: { code: string } } };
  }, run.id);
  t.is(refused.status, 403);
  t.is(refused.body.error.code, 'FORBIDDEN');
  t.is((await hub.service.run(run.id))?.state, 'queued');
  // The hub's Content-Security-Policy is in force: an inline script injected into the page does not run.
  await page.evaluate("(() => { const s = document.createElement('script'); s.textContent = 'window.inlineRan = true'; document.body.append(s); })()");
  t.false(await holds(page, 'window.inlineRan === true'), 'inline script refused');
  t.true(problems.some((p) => p.startsWith('CSP:')), 'and the refusal is reported');
  problems.length = 0;
  // Log out: back to the login page, and the session is gone.
  await page.locator('.who button').click();
  await page.waitForSelector('#login-name');
  await page.reload();
  await page.waitForSelector('#login-name');
  await screenshot(page, 'login-1280');
  t.deepEqual(problems, []);
});

test('the library lists validation errors line by line, then stores the corrected experiment; an admin rotates a key after confirming, creates an infrastructure and an operator, and reads the audit log', async (t) => {
  const hub = await startHub(t);
  await addOperator(hub, 'ada', 'admin');
  await hub.service.createInfra('edge-1');
  const browser = await launchBrowser(t);
  const { page, problems } = await openPage(browser);
  await logIn(page, hub, 'ada');

  await page.locator('nav a[href="#/experiments"]').click();
  await page.locator('a[href="#/experiments/%2Bnew"]').click();
  await page.waitForSelector('#experiment-text');
  t.deepEqual(await unlabelledControls(page), [], 'every control of the editor has a label');
  await page.type('#experiment-name', 'cpu-burst');
  const invalid = cpuAndMemoryExperiment(5, 'cpu-burst');
  const broken = { ...invalid, spec: { steps: [{ faults: [{ kind: 'linux-cpu-stress', name: 'cpu', duration: '5s', params: { load: 250, workers: 1 } }, { kind: 'linux-memory-stress', name: 'mem', duration: 'soon', params: { memory: '32Mi', workers: 1 } }] }] } };
  await fill(page, '#experiment-text', JSON.stringify(broken, null, 2));
  await page.locator('form button[type="submit"]').click();
  await page.waitForSelector('.validation-lines li');
  const lines = await textsOf(page, '.validation-lines li');
  t.true(lines.some((l) => /load/.test(l)), lines.join('\n'));
  t.true(lines.some((l) => /duration/.test(l)), lines.join('\n'));
  t.is(await attributeOf(page, '.error', 'role'), 'alert');
  await screenshot(page, 'library-errors-1280');
  await fill(page, '#experiment-text', JSON.stringify(invalid, null, 2));
  await page.locator('form button[type="submit"]').click();
  await page.waitForFunction("location.hash === '#/experiments/cpu-burst'");
  // Edited in place: the stored text is replaced.
  await page.waitForFunction("(document.querySelector('#experiment-text')?.value ?? '').includes('cpu-burst')");
  await fill(page, '#experiment-text', JSON.stringify(cpuAndMemoryExperiment(7, 'cpu-burst'), null, 2));
  await page.locator('form button[type="submit"]').click();
  await page.waitForFunction("/Saved cpu-burst/.test(document.querySelector('.notice')?.textContent ?? '')");
  t.regex((await hub.ops.operators.experiment('cpu-burst')).text, /"duration": "7s"/);
  await page.locator('nav a[href="#/experiments"]').click();
  await page.waitForSelector('a[href="#/experiments/cpu-burst"]');
  t.regex(await textOf(page, 'table'), /cpu-burst2/, 'stored with its 2 faults, listed');

  await page.locator('nav a[href="#/infras"]').click();
  await page.waitForSelector('td button[aria-label="Rotate the key of edge-1"]');
  await page.locator('td button[aria-label="Rotate the key of edge-1"]').click();
  await page.waitForSelector('dialog[open]');
  await page.locator('dialog[open] button.danger').click();
  await page.waitForFunction("/Key rotation of edge-1 requested/.test(document.querySelector('.notice')?.textContent ?? '')");
  t.is((await hub.service.listInfras())[0]?.keyRotation, 'requested');

  // A new infrastructure: its key shown once, and it works for a token exchange.
  await page.type('#infra-name', 'edge-2');
  await page.locator('form.inline-form button[type="submit"]').click();
  await page.waitForSelector('[data-testid="new-access-key"]');
  const infraId = await textOf(page, '[data-testid="new-infra-id"]');
  const accessKey = await textOf(page, '[data-testid="new-access-key"]');
  t.truthy(await hub.service.exchangeToken({ infraId, accessKey }), 'the key shown is the infrastructure key');

  // An operator account made in the console logs in.
  await page.locator('nav a[href="#/users"]').click();
  await page.waitForSelector('#user-name');
  t.deepEqual(await unlabelledControls(page), [], 'every control of the operators view has a label');
  await page.type('#user-name', 'olga');
  await page.select('#user-role', 'operator');
  await page.type('#user-password', PASSWORD);
  await page.locator('form.inline-form button[type="submit"]').click();
  await page.waitForFunction("/Operator olga created with role operator/.test(document.querySelector('.notice')?.textContent ?? '')");
  t.like(await hub.ops.operators.listUsers(), [{ name: 'ada', role: 'admin' }, { name: 'olga', role: 'operator' }]);

  // The audit log shows each of these changes, newest first, with who and from where.
  await page.locator('nav a[href="#/audit"]').click();
  await page.waitForSelector('table.audit tbody tr');
  const audit = await textsOf(page, 'table.audit tbody tr td[data-label="Action"]');
  for (const action of ['user.add', 'infra.create', 'infra.rotate-key', 'experiment.put', 'login']) t.true(audit.includes(action), `${action} in ${audit.join(', ')}`);
  t.is(audit[0], 'user.add', 'newest first');
  t.regex(await textOf(page, 'table.audit tbody tr td[data-label="Who"]'), /^ada \(admin\)$/);
  t.regex(await textOf(page, 'table.audit tbody tr td[data-label="From"]'), /127\.0\.0\.1/);
  await screenshot(page, 'audit-1280');
  t.deepEqual(problems, []);
});

test('an admin makes a viewer, changes a role, resets a password, disables and enables an operator, creates an API token that works with the CLI and revokes it, releases an infrastructure; the viewer sees no admin action, the hub refuses them, and they change their own password', async (t) => {
  t.timeout(180_000);
  const hub = await startHub(t);
  await addOperator(hub, 'ada', 'admin');
  const { id: infraId, accessKey } = await hub.service.createInfra('edge-1');
  await hub.service.exchangeToken({ infraId, accessKey, agent: { id: 'agent-0123456789', hostname: 'edge-1.example' } });
  const browser = await launchBrowser(t);
  const { page, problems } = await openPage(browser);
  await logIn(page, hub, 'ada');
  const notice = (pattern: string) => page.waitForFunction(`/${pattern}/.test(document.querySelector('.notice')?.textContent ?? '')`);

  // Operators: a viewer and an operator made in the console.
  await page.locator('nav a[href="#/users"]').click();
  await page.waitForSelector('#user-name');
  for (const [name, role] of [['vera', 'viewer'], ['otto', 'viewer']] as const) {
    await page.type('#user-name', name);
    await page.select('#user-role', role);
    await page.type('#user-password', PASSWORD);
    await page.locator('#add-user button[type="submit"]').click();
    await notice(`Operator ${name} created with role ${role}`);
  }
  await page.waitForSelector('tr[data-user="otto"] select');
  t.deepEqual(await unlabelledControls(page), [], 'every control of the operators view has a label');
  t.false(await exists(page, 'tr[data-user="ada"] button'), 'no action on one\'s own account here');
  await page.select('tr[data-user="otto"] select', 'operator');
  await notice('otto now has role operator');
  t.is((await hub.ops.operators.listUsers()).find((u) => u.name === 'otto')?.role, 'operator');
  // A password reset, in a dialog: the new one logs in, the old one does not.
  await page.locator('button[aria-label="Reset the password of otto"]').click();
  await page.waitForSelector('dialog[open] #reset-password');
  t.deepEqual(await unlabelledControls(page), []);
  await page.type('dialog[open] #reset-password', 'otto has a new passphrase');
  await page.locator('dialog[open] button.danger').click();
  await notice('Password of otto changed');
  t.is((await apiCall(hub, 'POST', '/api/v1/login', { body: { name: 'otto', password: 'otto has a new passphrase' } })).status, 200);
  t.is((await apiCall(hub, 'POST', '/api/v1/login', { body: { name: 'otto', password: PASSWORD } })).status, 401);
  // Disabled after confirming: otto cannot log in; enabled again, they can.
  await page.locator('button[aria-label="Disable otto"]').click();
  await page.waitForSelector('dialog[open]');
  await page.locator('dialog[open] button.danger').click();
  await notice('Operator otto disabled');
  await page.waitForSelector('tr[data-user="otto"] .badge-disabled');
  t.is((await apiCall(hub, 'POST', '/api/v1/login', { body: { name: 'otto', password: 'otto has a new passphrase' } })).status, 401);
  await page.locator('button[aria-label="Enable otto"]').click();
  await notice('Operator otto enabled');
  t.false(await exists(page, 'tr[data-user="otto"] .badge-disabled'));
  t.is((await apiCall(hub, 'POST', '/api/v1/login', { body: { name: 'otto', password: 'otto has a new passphrase' } })).status, 200);
  await screenshot(page, 'users-1280');

  // API tokens: one for otto, shown once, works with the CLI as otto (an operator), then revoked.
  await page.locator('nav a[href="#/tokens"]').click();
  await page.waitForSelector('#token-user option[value="otto"]');
  t.deepEqual(await unlabelledControls(page), [], 'every control of the tokens view has a label');
  await page.select('#token-user', 'otto');
  await page.select('#token-lifetime', '1');
  await page.locator('#new-token button[type="submit"]').click();
  await page.waitForSelector('[data-testid="new-token"]');
  const token = await textOf(page, '[data-testid="new-token"]');
  t.regex(token, /^fdo_[A-Za-z0-9_-]{43}$/);
  const [listed] = await hub.ops.operators.listTokens('otto');
  t.truthy(listed);
  t.true(Math.abs((listed?.expiresAt ?? 0) - (listed?.createdAt ?? 0) - 30 * 86_400_000) < 1000, '30 days, as chosen');
  await page.waitForSelector(`tr[data-token="${listed?.id ?? ''}"]`);
  t.false((await textOf(page, 'table.tokens')).includes(token), 'the list never shows the token');
  await screenshot(page, 'tokens-1280');
  const tokenFile = path.join(hub.dir, 'otto.token');
  writeFileSync(tokenFile, `${token}\n`);
  chmodSync(tokenFile, 0o600);
  const caFile = path.join(hub.dir, 'hub-ca.pem');
  writeFileSync(caFile, hub.ca);
  writeFileSync(path.join(hub.dir, 'config.yaml'), '');
  const cli = (...args: string[]) => runCli(['hub', '--hub-url', hub.url, '--token-file', tokenFile, '--ca-file', caFile, ...args], path.join(hub.dir, 'state'));
  const infraList = await cli('infra', 'list');
  t.is(infraList.code, 0, infraList.stderr);
  t.regex(infraList.stdout, /edge-1/);
  const notAdmin = await cli('user', 'list');
  t.is(notAdmin.code, 1);
  t.regex(notAdmin.stderr, /FORBIDDEN\): GET \/api\/v1\/users needs role admin; you are operator/);
  await page.locator(`button[aria-label="Revoke ${listed?.id ?? ''}"]`).click();
  await page.waitForSelector('dialog[open]');
  await page.locator('dialog[open] button.danger').click();
  await notice(`API token ${listed?.id ?? ''} revoked`);
  const revoked = await cli('infra', 'list');
  t.is(revoked.code, 1);
  t.regex(revoked.stderr, /refused the call \(UNAUTHENTICATED\)/);

  // Release edge-1 from its machine, after confirming.
  await page.locator('nav a[href="#/infras"]').click();
  await page.locator('button[aria-label="Release edge-1 from its machine"]').click();
  await page.waitForSelector('dialog[open]');
  await page.locator('dialog[open] button.danger').click();
  await notice('edge-1 released from edge-1.example');
  t.is((await hub.service.listInfras())[0]?.binding, undefined);

  // The viewer made above: no admin view or action; the hub refuses them anyway.
  const viewer = await openPage(browser);
  await logIn(viewer.page, hub, 'vera');
  t.is(await textOf(viewer.page, '[data-testid="operator"]'), 'vera (viewer)');
  for (const view of ['users', 'tokens', 'audit', 'queue']) t.false(await exists(viewer.page, `nav a[href="#/${view}"]`), `no ${view} link`);
  await viewer.page.goto(`${hub.url}/ui/#/tokens`);
  await viewer.page.waitForSelector('select[name="state"]');
  t.false(await exists(viewer.page, '#new-token') || await exists(viewer.page, '#add-user'), 'no admin form by URL either');
  await viewer.page.locator('nav a[href="#/infras"]').click();
  await viewer.page.waitForSelector('td[data-label="Name"]');
  t.false(await exists(viewer.page, 'td button'), 'no Rotate key or Release button');
  const refusals = await viewer.page.evaluate(async (password) => {
    const session = (await (await fetch('/api/v1/session')).json()) as { csrfToken: string };
    const headers = { 'x-csrf-token': session.csrfToken, 'content-type': 'application/json' };
    const calls: [string, string, unknown][] = [
      ['POST', '/api/v1/users', { name: 'mallory', role: 'admin', password }],
      ['PUT', '/api/v1/users/vera/role', { role: 'admin' }],
      ['POST', '/api/v1/tokens', { user: 'ada' }],
      ['GET', '/api/v1/tokens', undefined],
      ['POST', '/api/v1/infras/edge-1/release', {}],
    ];
    const answers: string[] = [];
    for (const [method, url, body] of calls) {
      const response = await fetch(url, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
      answers.push(`${response.status} ${((await response.json()) as { error?: { code?: string } }).error?.code ?? ''}`);
    }
    return answers;
  }, PASSWORD);
  t.deepEqual(refusals, ['403 FORBIDDEN', '403 FORBIDDEN', '403 FORBIDDEN', '403 FORBIDDEN', '403 FORBIDDEN']);
  t.deepEqual((await hub.ops.operators.listUsers()).map((u) => `${u.name}:${u.role}`), ['ada:admin', 'otto:operator', 'vera:viewer']);

  // The viewer changes their own password: a wrong current one is refused, then the tab goes on.
  await viewer.page.locator('nav a[href="#/account"]').click();
  await viewer.page.waitForSelector('#current-password');
  t.deepEqual(await unlabelledControls(viewer.page), [], 'every control of the account view has a label');
  await viewer.page.type('#current-password', 'not my password');
  await viewer.page.type('#new-password', 'vera chose a new one');
  await viewer.page.type('#new-password-again', 'vera chose a new one');
  await viewer.page.locator('#own-password button[type="submit"]').click();
  await viewer.page.waitForFunction("/the current password is wrong/.test(document.querySelector('.error')?.textContent ?? '')");
  await fill(viewer.page, '#current-password', PASSWORD);
  await viewer.page.locator('#own-password button[type="submit"]').click();
  await viewer.page.waitForFunction("/Password changed/.test(document.querySelector('.notice')?.textContent ?? '')");
  t.is(await textOf(viewer.page, '[data-testid="operator"]'), 'vera (viewer)', 'still logged in');
  await viewer.page.locator('nav a[href="#/runs"]').click();
  await viewer.page.waitForSelector('select[name="state"]');
  t.is((await apiCall(hub, 'POST', '/api/v1/login', { body: { name: 'vera', password: 'vera chose a new one' } })).status, 200);
  // The account view and the admin views fit a phone.
  const phone = await viewer.page.browserContext().newPage();
  await phone.setViewport(PHONE);
  await phone.goto(`${hub.url}/ui/#/account`);
  await phone.waitForSelector('#current-password');
  t.true(await holds(phone, 'document.documentElement.scrollWidth <= window.innerWidth + 1'), 'the account view: no horizontal scrolling on a phone');
  const adminPhone = await page.browserContext().newPage();
  await adminPhone.setViewport(PHONE);
  for (const view of ['users', 'tokens']) {
    await adminPhone.goto(`${hub.url}/ui/#/${view}`);
    await adminPhone.waitForSelector(view === 'users' ? 'tr[data-user="vera"]' : '#token-user');
    t.true(await holds(adminPhone, 'document.documentElement.scrollWidth <= window.innerWidth + 1'), `${view}: no horizontal scrolling on a phone`);
    await screenshot(adminPhone, `${view}-phone`, false);
  }

  const audit = (await hub.ops.operators.listAudit(100)).map((e) => `${e.actor} ${e.action} ${e.target ?? ''}`);
  for (const line of ['ada user.add vera', 'ada user.role otto', 'ada user.passwd otto', 'ada user.disable otto', 'ada user.enable otto', 'ada token.create otto', `ada token.revoke ${listed?.id ?? ''}`, 'ada infra.release edge-1', 'vera user.passwd vera']) t.true(audit.includes(line), `${line} in the audit log`);
  t.deepEqual(problems, []);
  t.deepEqual(viewer.problems, []);
});

test('the live log survives the event stream being cut every second: the browser reconnects with Last-Event-ID and shows every line once, in order', async (t) => {
  // Streams last 1 s here (1 h by default), so the page reconnects about three times.
  const hub = await startHub(t, { streams: { maxStreamMs: 1000, pollMs: 100 } });
  await addOperator(hub, 'alice', 'viewer');
  const infraId = (await hub.service.createInfra('edge-1')).id;
  const runId = await dispatchRun(hub, infraId);
  const browser = await launchBrowser(t);
  const { page, problems } = await openPage(browser);
  await logIn(page, hub, 'alice');
  // The headers Chromium sends (the extra-info event has those the network stack adds; it may
  // come before or after the request's own event).
  const cdp = await page.createCDPSession();
  await cdp.send('Network.enable');
  const eventRequests: string[] = [];
  const sentHeaders = new Map<string, Record<string, string>>();
  cdp.on('Network.requestWillBeSent', (e) => {
    if (e.request.url.endsWith('/events')) eventRequests.push(e.requestId);
  });
  cdp.on('Network.requestWillBeSentExtraInfo', (e) => sentHeaders.set(e.requestId, e.headers));
  await page.goto(`${hub.url}/ui/#/runs/${runId}`);
  await page.waitForSelector('ol.log');
  const lines = 40;
  for (let seq = 1; seq <= lines; seq++) {
    await hub.service.reportLogs(infraId, runId, { entries: [{ seq, at: new Date().toISOString(), level: 'info', message: `line ${seq}` }] });
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await hub.service.reportResult(infraId, runId, { verdict: 'completed', faults: [] });
  t.true(await eventually(async () => (await textOf(page, '[data-testid="stream-state"]')) === '(ended)', 15_000), 'the stream ended with the run');
  const shown = (await logLines(page)).map((l) => /line (\d+)$/.exec(l)?.[1]);
  t.deepEqual(shown, Array.from({ length: lines }, (_, i) => String(i + 1)), 'every line once, in order');
  t.is(await textOf(page, '[data-testid="run-verdict"]'), 'completed');
  const streams = eventRequests.map((id) => sentHeaders.get(id)?.['Last-Event-ID'] ?? '-');
  t.true(streams.length >= 3, `reconnected (Last-Event-ID of each stream: ${streams.join(' ')})`);
  t.is(streams[0], '-', 'the first stream starts from the beginning');
  t.true(streams.slice(1).every((id) => /^\d+$/.test(id)), `each reconnection resumed after a line: ${streams.join(' ')}`);
  t.deepEqual(problems, []);
});
