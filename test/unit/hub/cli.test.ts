// SPDX-License-Identifier: Apache-2.0
// `faultd hub …` commands on a hub directory of the test's own; those that use the database on
// SQLite and on a real PostgreSQL (`--database`; skipped, saying why, where it is not installed).
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import test from 'ava';

import { escapeTerminalText } from '../../../src/cli/terminal-text.js';
import { HubService } from '../../../src/hub/service.js';
import { finish, runCli, startCli } from '../../helpers/cli.js';
import { stopTestPostgres, testOnStores } from '../../helpers/hub-stores.js';

test.after.always(stopTestPostgres);

testOnStores(test, 'hub init, infra create/list, run, runs, abort, result, logs on --database (sqlite:<file> or postgres://…) or FAULTD_HUB_DATABASE; errors exit 2', async (t, backend) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'faultd-hubcli-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const db = await backend.database(t);
  const hub = (...args: string[]) => runCli(['hub', '--hub-dir', dir, '--database', db.url, ...args], path.join(dir, 'state'));
  const init = await hub('init');
  t.is(init.code, 0, init.stderr);
  t.regex(init.stdout, /CA certificate for agents \(config caFile\): .*tls\/ca\.pem/);
  t.regex((await hub('init')).stdout, /already exist; nothing changed/);
  const created = await hub('infra', 'create', 'edge-1');
  t.regex(created.stdout, /infra id: {3}inf_\S+\naccess key: fdk_\S+/);
  t.regex((await hub('infra', 'list')).stdout, /edge-1\s+NEVER_SEEN/);
  const file = path.join(dir, 'exp.yaml');
  writeFileSync(file, 'apiVersion: faultd/v1\nkind: Experiment\nmetadata: { name: x }\nspec:\n  steps:\n    - faults:\n        - kind: linux-cpu-stress\n          duration: 1s\n');
  const queued = await hub('run', '--infra', 'edge-1', file);
  t.is(queued.code, 0, queued.stderr);
  const runId = /Queued run (run_\S+)/.exec(queued.stdout)?.[1] ?? '';
  t.truthy(runId);
  t.regex((await hub('runs')).stdout, new RegExp(`${runId}\\s+edge-1\\s+queued`));
  t.regex((await hub('abort', runId)).stdout, /was still queued: cancelled/);
  t.regex((await hub('result', runId)).stdout, new RegExp(`Run ${runId}: cancelled`));
  t.is((await hub('logs', runId)).code, 0);
  // The same database read by a store of this process, and through FAULTD_HUB_DATABASE; the
  // hub dir holds the TLS files only.
  const store = await db.connect();
  t.like(await store.run(runId), { state: 'cancelled' });
  t.is((await store.listInfras())[0]?.name, 'edge-1');
  const viaEnv = await finish(startCli(['hub', '--hub-dir', dir, 'infra', 'list'], path.join(dir, 'state'), undefined, { FAULTD_HUB_DATABASE: db.url }));
  t.regex(viaEnv.stdout, /edge-1\s+NEVER_SEEN/);
  t.false(existsSync(path.join(dir, 'hub.db')), 'no hub.db in the hub dir');
  const unknown = await hub('run', '--infra', 'nope', file);
  t.is(unknown.code, 2);
  t.regex(unknown.stderr, /no infrastructure named "nope"/);
  const notExperiment = path.join(dir, 'bad.yaml');
  writeFileSync(notExperiment, 'apiVersion: v0\n');
  const bad = await hub('run', '--infra', 'edge-1', notExperiment);
  t.is(bad.code, 2);
  // Checked as `faultd validate` checks it: the same lines.
  writeFileSync(path.join(dir, 'config.yaml'), '');
  const validate = await runCli(['validate', notExperiment], path.join(dir, 'state'));
  t.is(validate.code, 2);
  t.regex(bad.stderr, /bad\.yaml is not a valid experiment:\n {2}apiVersion: /);
  t.is(bad.stderr, validate.stderr);
});

testOnStores(test, 'hub infra list, runs, result and logs escape control characters and bidi overrides from agents; --json keeps the text', async (t, backend) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'faultd-hubcli-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const db = await backend.database(t);
  const hub = (...args: string[]) => runCli(['hub', '--hub-dir', dir, '--database', db.url, ...args], path.join(dir, 'state'));
  // What a hostile or broken agent can send: colours, a clipboard write (OSC 52), a forged line,
  // an 8-bit CSI, DEL, and a right-to-left override.
  const evil = '\u001b[2J\u001b]52;c;aGk=\u0007host\n2026-01-01 INFO forged\r\u009b31m\u007f\u202Etxt.exe';
  const service = new HubService(await db.connect());
  const { id } = await service.createInfra('edge-1');
  await service.heartbeat(id, { agentVersion: `0.1\u001b[5m`, hostname: evil, capabilities: [`cpu\u2066x\u2069`] });
  const run = await service.queueRun('edge-1', { apiVersion: 'faultd/v1', kind: 'Experiment', metadata: { name: 'x' }, spec: { steps: [] } });
  await service.nextTask(id);
  const at = new Date().toISOString();
  await service.reportStatus(id, run.id, { events: [{ at, faultId: `f\u200F1`, phase: 'running', detail: evil }] });
  await service.reportLogs(id, run.id, { entries: [{ seq: 1, at, level: 'info', message: evil, fields: { note: evil } }] });
  await service.reportResult(id, run.id, { verdict: 'failed', reason: evil, faults: [{ faultId: 'f1', kind: 'linux-cpu-stress', status: evil, error: evil }] });

  // Anything a terminal acts on, but the line breaks between printed lines.
  const unsafe = (text: string) => Array.from(text, (c) => c.charCodeAt(0)).filter((code) => {
    return (code < 0x20 && code !== 0x0a) || (code >= 0x7f && code <= 0x9f) || [0x061c, 0x200e, 0x200f].includes(code) || (code >= 0x2028 && code <= 0x202e) || (code >= 0x2066 && code <= 0x2069);
  });
  const escaped = '\\x1b[2J\\x1b]52;c;aGk=\\x07host\\n2026-01-01 INFO forged\\r\\x9b31m\\x7f\\u202etxt.exe';
  for (const args of [['infra', 'list'], ['runs'], ['result', run.id], ['logs', run.id]]) {
    const out = await hub(...args);
    t.is(out.code, 0, out.stderr);
    t.deepEqual(unsafe(out.stdout), [], args.join(' '));
    t.false(out.stdout.includes('\nforged') || out.stdout.includes('\n2026-01-01 INFO forged'), `${args.join(' ')}: no forged line`);
    if (args[0] !== 'runs') t.true(out.stdout.includes(escaped), `${args.join(' ')}: ${out.stdout}`);
  }
  const list = (await hub('infra', 'list')).stdout;
  t.true(list.includes('agent 0.1\\x1b[5m on '), list);
  t.true(list.includes('capabilities: cpu\\u2066x\\u2069'), list);
  t.true((await hub('result', run.id)).stdout.includes('f\\u200f1 running'));
  t.true((await hub('logs', run.id)).stdout.includes(` ${escapeTerminalText(JSON.stringify({ note: evil }))}\n`), 'the fields as JSON, then escaped');
  // --json is JSON: parsed back, the agent's text is what it sent.
  const infras = JSON.parse((await hub('infra', 'list', '--json')).stdout) as { hostname?: string }[];
  t.is(infras[0]?.hostname, evil);
  const result = JSON.parse((await hub('result', run.id, '--json')).stdout) as { result?: { reason?: string } };
  t.is(result.result?.reason, evil);
});

// The hub's TLS files only: no database is opened.
test('hub client-cert issues an agent certificate from the hub CA (key 0600), never overwriting; before hub init it says to run it', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'faultd-hubcli-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const hub = (...args: string[]) => runCli(['hub', '--hub-dir', dir, ...args], path.join(dir, 'state'));
  const early = await hub('client-cert', 'edge-1');
  t.is(early.code, 1);
  t.regex(early.stderr, /cannot read the hub CA .*\(run faultd hub init\)/);
  t.is((await hub('init')).code, 0);
  const issued = await hub('client-cert', 'edge-1');
  t.is(issued.code, 0, issued.stderr);
  const key = /key \(agent config clientKeyFile, keep it mode 0600\): (\S+)/.exec(issued.stdout)?.[1] ?? '';
  t.is(statSync(key).mode & 0o777, 0o600);
  const again = await hub('client-cert', 'edge-1');
  t.is(again.code, 1);
  t.regex(again.stderr, /exists already/);
  t.is((await hub('client-cert', 'Bad/Name')).code, 2);
});

test('hub --database refuses a URL it does not take with exit 2, naming both forms', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'faultd-hubcli-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const out = await runCli(['hub', '--hub-dir', dir, '--database', 'mysql://x/y', 'infra', 'list'], path.join(dir, 'state'));
  t.is(out.code, 2);
  t.regex(out.stderr, /--database \(FAULTD_HUB_DATABASE\) must be postgres:\/\/user@host:port\/db \(or postgresql:\/\/…\) or sqlite:<file>/);
});
