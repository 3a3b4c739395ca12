// SPDX-License-Identifier: Apache-2.0
// `faultd hub …` against a real hub over TLS (--hub-url, --token-file, --ca-file) prints what
// the same command prints on the hub's database file, accounts and tokens included (admin only).
// Each test on SQLite and on a real PostgreSQL (skipped, saying why, where it is not installed).
import { spawn } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import test, { type ExecutionContext } from 'ava';

import { FAULTD_BIN, runCli } from '../../../helpers/cli.js';
import { QUEUED_EXPERIMENT, startHub } from '../../../helpers/hub.js';
import { stopTestPostgres, testOnStores, type StoreBackend } from '../../../helpers/hub-stores.js';
import { addOperator, apiCall, apiToken, PASSWORD } from '../../../helpers/operator-api.js';

test.after.always(stopTestPostgres);

/** A hub on `backend` with an admin (ann) and a viewer (vic), their API token files, and the CLI locally and through --hub-url. */
async function remoteSetUp(t: ExecutionContext, backend: StoreBackend) {
  const hub = await startHub(t, { backend });
  const stateDir = path.join(hub.dir, 'state');
  writeFileSync(path.join(hub.dir, 'config.yaml'), '');
  const caFile = path.join(hub.dir, 'hub-ca.pem');
  writeFileSync(caFile, hub.ca);
  await addOperator(hub, 'ann', 'admin');
  await addOperator(hub, 'vic', 'viewer');
  const tokenFile = (name: string, token: string) => {
    const file = path.join(hub.dir, `${name}.token`);
    writeFileSync(file, `${token}\n`, { mode: 0o600 });
    return file;
  };
  const annToken = tokenFile('ann', await apiToken(hub, 'ann'));
  const vicToken = tokenFile('vic', await apiToken(hub, 'vic'));
  const local = (...args: string[]) => runCli(['hub', '--hub-dir', hub.dir, '--database', hub.database, ...args], stateDir);
  const remote = (token: string, ...args: string[]) => runCli(['hub', '--hub-dir', path.join(hub.dir, 'unused'), '--hub-url', hub.url, '--token-file', token, '--ca-file', caFile, ...args], stateDir);
  return { hub, stateDir, caFile, tokenFile, annToken, vicToken, local, remote };
}

testOnStores(test, 'infra, run, runs, result, logs, abort, audit and user list print the same remotely as locally; roles and refusals', async (t, backend) => {
  t.timeout(120_000);
  const { hub, stateDir, caFile, annToken, vicToken, local, remote } = await remoteSetUp(t, backend);

  const created = await remote(annToken, 'infra', 'create', 'edge-2');
  t.is(created.code, 0, created.stderr);
  t.regex(created.stdout, /Infrastructure "edge-2" created\.\ninfra id: {3}inf_\S+\naccess key: fdk_\S+/);
  const experiment = path.join(hub.dir, 'exp.json');
  writeFileSync(experiment, JSON.stringify(QUEUED_EXPERIMENT));
  const queued = await remote(annToken, 'run', '--infra', 'edge-2', experiment);
  t.is(queued.code, 0, queued.stderr);
  const runId = /Queued run (run_\S+) for "edge-2"/.exec(queued.stdout)?.[1] ?? '';
  t.truthy(runId, queued.stdout);
  for (const args of [['infra', 'list'], ['infra', 'list', '--json'], ['runs'], ['runs', '--json'], ['runs', '--state', 'queued'], ['result', runId], ['result', runId, '--json'], ['logs', runId], ['user', 'list']]) {
    const [here, there] = await Promise.all([local(...args), remote(annToken, ...args)]);
    t.is(there.code, 0, `${args.join(' ')}: ${there.stderr}`);
    t.is(there.stdout, here.stdout, args.join(' '));
  }
  t.regex((await remote(annToken, 'runs')).stdout, new RegExp(`${runId}\\s+edge-2\\s+queued`));

  // A viewer reads but cannot change: the hub's refusal, exit 1.
  t.is((await remote(vicToken, 'runs')).code, 0);
  const refused = await remote(vicToken, 'abort', runId);
  t.is(refused.code, 1);
  t.regex(refused.stderr, /refused the call \(FORBIDDEN\): POST \/api\/v1\/runs\/:id\/abort needs role operator; you are viewer/);
  const aborted = await remote(annToken, 'abort', runId);
  t.is(aborted.code, 0, aborted.stderr);
  t.regex(aborted.stdout, /was still queued: cancelled/);
  // Bad input keeps the hub's message and exits 2, as locally.
  const unknownInfra = await remote(annToken, 'run', '--infra', 'nope', experiment);
  t.is(unknownInfra.code, 2);
  t.is(unknownInfra.stderr, (await local('run', '--infra', 'nope', experiment)).stderr);
  const bad = path.join(hub.dir, 'bad.yaml');
  writeFileSync(bad, 'apiVersion: v0\n');
  const invalid = await remote(annToken, 'run', '--infra', 'edge-2', bad);
  t.is(invalid.code, 2);
  t.regex(invalid.stderr, /bad\.yaml is not a valid experiment:\n {2}apiVersion: /);

  // The library: stored locally, listed and shown the same remotely, queued and deleted remotely.
  const put = await local('experiment', 'put', 'cpu-1', experiment);
  t.is(put.code, 0, put.stderr);
  t.regex(put.stdout, /Experiment "cpu-1" added to the library/);
  t.is((await local('experiment', 'put', 'bad-1', bad)).code, 2, 'validated');
  for (const args of [['experiment', 'list'], ['experiment', 'list', '--json'], ['experiment', 'show', 'cpu-1']]) {
    const [here, there] = await Promise.all([local(...args), remote(annToken, ...args)]);
    t.is(there.code, 0, `${args.join(' ')}: ${there.stderr}`);
    t.is(there.stdout, here.stdout, args.join(' '));
  }
  t.regex((await local('experiment', 'list')).stdout, /^cpu-1\s+1 fault\(s\) {2}updated \S+ by local:\S+$/m);
  t.is((await remote(annToken, 'experiment', 'show', 'cpu-1')).stdout, `${JSON.stringify(QUEUED_EXPERIMENT)}\n`);
  const fromLibrary = await remote(annToken, 'run', '--infra', 'edge-2', '--library', 'cpu-1');
  t.is(fromLibrary.code, 0, fromLibrary.stderr);
  t.regex(fromLibrary.stdout, /Queued run run_\S+ for "edge-2"/);
  t.is((await remote(annToken, 'run', '--infra', 'edge-2', '--library', 'cpu-1', experiment)).code, 2, 'a file or --library, not both');
  t.is((await remote(vicToken, 'experiment', 'delete', 'cpu-1')).code, 1, 'viewers do not manage the library');
  t.is((await remote(annToken, 'experiment', 'delete', 'cpu-1')).code, 0);
  t.is((await remote(annToken, 'experiment', 'show', 'cpu-1')).code, 2);

  // The audit log names the remote operator and the local user.
  const audit = await remote(annToken, 'audit', '--json');
  t.is(audit.code, 0, audit.stderr);
  const entries = JSON.parse(audit.stdout) as { actor: string; action: string; target?: string; remote: string }[];
  t.like(entries.find((e) => e.action === 'run.abort'), { actor: 'ann', target: runId, remote: '127.0.0.1' });
  t.like(entries.find((e) => e.action === 'infra.create'), { actor: 'ann', target: 'edge-2' });
  t.like(entries.find((e) => e.action === 'experiment.delete'), { actor: 'ann', target: 'cpu-1' });
  t.regex(entries.find((e) => e.action === 'experiment.put')?.actor ?? '', /^local:\S+$/);
  t.regex((await local('audit', '--limit', '20')).stdout, /^#\d+ \S+ ann \(admin\) from 127\.0\.0\.1: run\.abort run_\S+ \(cancelled\)$/m);

  // Refusals before any call.
  const viewerAudit = await remote(vicToken, 'audit');
  t.is(viewerAudit.code, 1);
  chmodSync(annToken, 0o644);
  const loose = await remote(annToken, 'runs');
  t.is(loose.code, 2);
  t.regex(loose.stderr, /readable by others than its owner/);
  const viewerTokens = await remote(vicToken, 'token', 'list');
  t.is(viewerTokens.code, 1);
  t.regex(viewerTokens.stderr, /refused the call \(FORBIDDEN\): GET \/api\/v1\/tokens needs role admin; you are viewer/);
  const down = await runCli(['hub', '--hub-url', 'https://127.0.0.1:1', '--token-file', vicToken, '--ca-file', caFile, 'runs'], stateDir);
  t.is(down.code, 1);
  t.regex(down.stderr, /cannot reach the hub at https:\/\/127\.0\.0\.1:1/);
});

/** Runs the CLI with `input` on stdin. */
function runWithInput(args: string[], stateDir: string, input: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [FAULTD_BIN, ...args], { env: { ...process.env, FAULTD_STATE_DIR: stateDir, FAULTD_CONFIG: path.join(path.dirname(stateDir), 'config.yaml') }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input);
  });
}

testOnStores(test, 'user add (password from a file or stdin, never argv), list, role, passwd, remove; token create, list, revoke; all audited as local:<user>', async (t, backend) => {
  t.timeout(120_000);
  const hub = await startHub(t, { backend });
  const stateDir = path.join(hub.dir, 'state');
  const cli = (...args: string[]) => runCli(['hub', '--hub-dir', hub.dir, '--database', hub.database, ...args], stateDir);
  const passwordFile = path.join(hub.dir, 'pw');
  writeFileSync(passwordFile, `${PASSWORD}\nignored second line\n`, { mode: 0o600 });
  const added = await cli('user', 'add', 'ann', '--role', 'admin', '--password-file', passwordFile);
  t.is(added.code, 0, added.stderr);
  t.regex(added.stdout, /Operator "ann" created with role admin/);
  const piped = await runWithInput(['hub', '--hub-dir', hub.dir, '--database', hub.database, 'user', 'add', 'bob', '--role', 'viewer'], stateDir, 'another long password\n');
  t.is(piped.code, 0, piped.stderr);
  t.true(await hub.ops.operators.listUsers().then((users) => users.some((u) => u.name === 'bob')));
  const short = await runWithInput(['hub', '--hub-dir', hub.dir, '--database', hub.database, 'user', 'add', 'cy', '--role', 'viewer'], stateDir, 'short\n');
  t.is(short.code, 2);
  t.regex(short.stderr, /at least 12 characters/);
  t.is((await cli('user', 'add', 'ann', '--role', 'admin', '--password-file', passwordFile)).code, 2, 'duplicate');
  t.is((await cli('user', 'add', 'dee', '--role', 'root', '--password-file', passwordFile)).code, 2, 'unknown role');
  t.regex((await cli('user', 'list')).stdout, /^ann\s+admin\s+created \S+; last login never\nbob\s+viewer/m);
  t.is((await cli('user', 'role', 'bob', 'operator')).code, 0);
  t.is((await cli('user', 'passwd', 'bob', '--password-file', passwordFile)).code, 0);
  const token = await cli('token', 'create', '--user', 'bob', '--ttl', '1d');
  t.is(token.code, 0, token.stderr);
  const value = /^(fdo_\S+)$/m.exec(token.stdout)?.[1] ?? '';
  const tokenId = /API token (tok_\S+) for "bob", expires /.exec(token.stdout)?.[1] ?? '';
  t.truthy(value && tokenId, token.stdout);
  t.is((await hub.ops.operators.listTokens('bob'))[0]?.id, tokenId);
  t.regex((await cli('token', 'list')).stdout, new RegExp(`^${tokenId}\\s+bob\\s+created .*; expires .*; last used never$`, 'm'));
  t.false((await cli('token', 'list')).stdout.includes(value), 'the token itself is never shown again');
  t.is((await cli('token', 'revoke', tokenId)).code, 0);
  t.is((await cli('token', 'revoke', tokenId)).code, 2);
  t.is((await cli('user', 'remove', 'bob')).code, 0);
  t.is((await cli('user', 'remove', 'bob')).code, 2);
  const audit = JSON.parse((await cli('audit', '--json')).stdout) as { actor: string; role: string; action: string; remote: string }[];
  t.deepEqual(audit.map((e) => e.action).reverse(), ['user.add', 'user.add', 'user.role', 'user.passwd', 'token.create', 'token.revoke', 'user.remove']);
  t.true(audit.every((e) => /^local:\S+$/.test(e.actor) && e.role === 'local' && e.remote === 'local'));
});

testOnStores(test, 'user add, list, role, passwd, disable, enable, remove and token create, list, revoke through --hub-url with an admin token: the same output as locally, audited as the admin from their address; a viewer is refused', async (t, backend) => {
  t.timeout(120_000);
  const { hub, stateDir, caFile, tokenFile, annToken, vicToken, local, remote } = await remoteSetUp(t, backend);
  const passwordFile = path.join(hub.dir, 'pw');
  writeFileSync(passwordFile, `${PASSWORD}\n`, { mode: 0o600 });

  const added = await remote(annToken, 'user', 'add', 'bob', '--role', 'viewer', '--password-file', passwordFile);
  t.is(added.code, 0, added.stderr);
  t.regex(added.stdout, /Operator "bob" created with role viewer/);
  t.like(await hub.ops.operators.listUsers().then((users) => users.find((u) => u.name === 'bob')), { role: 'viewer' });
  // Piped on stdin, as locally; the hub checks it.
  const piped = await runWithInput(['hub', '--hub-url', hub.url, '--token-file', annToken, '--ca-file', caFile, 'user', 'add', 'cy', '--role', 'operator'], stateDir, 'another long password\n');
  t.is(piped.code, 0, piped.stderr);
  const short = await runWithInput(['hub', '--hub-url', hub.url, '--token-file', annToken, '--ca-file', caFile, 'user', 'add', 'dee', '--role', 'viewer'], stateDir, 'short\n');
  t.is(short.code, 2);
  t.regex(short.stderr, /at least 12 characters/);
  const duplicate = await remote(annToken, 'user', 'add', 'bob', '--role', 'viewer', '--password-file', passwordFile);
  t.is(duplicate.code, 2);
  t.regex(duplicate.stderr, /operator "bob" already exists/);
  for (const args of [['user', 'list'], ['user', 'list', '--json']]) {
    const [here, there] = await Promise.all([local(...args), remote(annToken, ...args)]);
    t.is(there.code, 0, there.stderr);
    t.is(there.stdout, here.stdout, args.join(' '));
  }
  t.is((await remote(annToken, 'user', 'role', 'bob', 'operator')).code, 0);
  t.is((await hub.ops.operators.listUsers()).find((u) => u.name === 'bob')?.role, 'operator');
  t.is((await remote(annToken, 'user', 'role', 'bob', 'root')).code, 2, 'unknown role');
  t.is((await remote(annToken, 'user', 'role', 'nobody', 'viewer')).code, 2, 'unknown operator');
  // passwd: the new password logs in, the old one no longer does.
  writeFileSync(passwordFile, 'a brand new passphrase\n', { mode: 0o600 });
  t.is((await remote(annToken, 'user', 'passwd', 'bob', '--password-file', passwordFile)).code, 0);
  t.is((await apiCall(hub, 'POST', '/api/v1/login', { body: { name: 'bob', password: 'a brand new passphrase' } })).status, 200);
  t.is((await apiCall(hub, 'POST', '/api/v1/login', { body: { name: 'bob', password: PASSWORD } })).status, 401);

  // Tokens: created remotely, shown once, working, listed the same as locally, revoked.
  const created = await remote(annToken, 'token', 'create', '--user', 'bob', '--ttl', '1d');
  t.is(created.code, 0, created.stderr);
  const value = /^(fdo_\S+)$/m.exec(created.stdout)?.[1] ?? '';
  const tokenId = /API token (tok_\S+) for "bob", expires /.exec(created.stdout)?.[1] ?? '';
  t.truthy(value && tokenId, created.stdout);
  const bobToken = tokenFile('bob', value);
  t.is((await remote(bobToken, 'runs')).code, 0, 'the new token works');
  const forever = await remote(annToken, 'token', 'create', '--user', 'cy', '--no-expiry');
  t.regex(forever.stdout, /API token tok_\S+ for "cy", no expiry:/);
  for (const args of [['token', 'list'], ['token', 'list', '--json'], ['token', 'list', '--user', 'bob']]) {
    const [here, there] = await Promise.all([local(...args), remote(annToken, ...args)]);
    t.is(there.code, 0, there.stderr);
    t.is(there.stdout, here.stdout, args.join(' '));
  }
  t.regex((await remote(annToken, 'token', 'list', '--user', 'bob')).stdout, new RegExp(`^${tokenId}\\s+bob\\s+created .*; expires .*; last used \\S+$`, 'm'));
  t.false((await remote(annToken, 'token', 'list')).stdout.includes(value), 'the token itself is never shown again');
  t.is((await remote(annToken, 'token', 'revoke', tokenId)).code, 0);
  t.is((await remote(annToken, 'token', 'revoke', tokenId)).code, 2, 'already revoked');
  const revoked = await remote(bobToken, 'runs');
  t.is(revoked.code, 1);
  t.regex(revoked.stderr, /refused the call \(UNAUTHENTICATED\)/);

  // A viewer can do none of it, and nothing changes.
  for (const args of [['user', 'add', 'eve', '--role', 'admin', '--password-file', passwordFile], ['user', 'role', 'vic', 'admin'], ['user', 'passwd', 'ann', '--password-file', passwordFile], ['user', 'remove', 'ann'], ['token', 'create', '--user', 'vic'], ['token', 'list']]) {
    const refused = await remote(vicToken, ...args);
    t.is(refused.code, 1, args.join(' '));
    t.regex(refused.stderr, /refused the call \(FORBIDDEN\): \S+ \/api\/v1\/\S+ needs role admin; you are viewer/, args.join(' '));
  }
  t.deepEqual((await hub.ops.operators.listUsers()).map((u) => `${u.name}:${u.role}`).sort(), ['ann:admin', 'bob:operator', 'cy:operator', 'vic:viewer']);

  // Disabled: listed so (the same locally), no login; enabled again.
  const disabled = await remote(annToken, 'user', 'disable', 'cy');
  t.is(disabled.code, 0, disabled.stderr);
  t.regex(disabled.stdout, /Operator "cy" disabled/);
  const [listedHere, listedThere] = await Promise.all([local('user', 'list'), remote(annToken, 'user', 'list')]);
  t.is(listedThere.stdout, listedHere.stdout);
  t.regex(listedThere.stdout, /^cy\s+operator\s+created \S+; last login never; DISABLED since \S+$/m);
  t.is((await apiCall(hub, 'POST', '/api/v1/login', { body: { name: 'cy', password: 'another long password' } })).status, 401);
  t.is((await remote(annToken, 'user', 'enable', 'cy')).code, 0);
  t.is((await apiCall(hub, 'POST', '/api/v1/login', { body: { name: 'cy', password: 'another long password' } })).status, 200);
  t.is((await remote(vicToken, 'user', 'disable', 'ann')).code, 1, 'not for a viewer');

  t.is((await remote(annToken, 'user', 'remove', 'bob')).code, 0);
  t.is((await remote(annToken, 'user', 'remove', 'bob')).code, 2);
  const audit = (await hub.ops.operators.listAudit(100)).filter((e) => e.actor === 'ann');
  t.deepEqual(audit.map((e) => e.action).reverse(), ['user.add', 'user.add', 'user.role', 'user.passwd', 'token.create', 'token.create', 'token.revoke', 'user.disable', 'user.enable', 'user.remove']);
  t.true(audit.every((e) => e.role === 'admin' && e.remote === '127.0.0.1'));
});
