// SPDX-License-Identifier: Apache-2.0
// The agent's identity: an id made once in the state directory (0600), the machine id, the host name.
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import test from 'ava';

import { AGENT_ID_FILE, loadAgentIdentity } from '../../../src/agent/agent-identity.js';

function tempDir(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'faultd-identity-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('the agent id is made once (0600) and read back unchanged; the machine id and host name come along', (t) => {
  const dir = tempDir(t);
  const stateDir = path.join(dir, 'state');
  const machineIdFile = path.join(dir, 'machine-id');
  writeFileSync(machineIdFile, '0123456789abcdef0123456789abcdef\n');
  const first = loadAgentIdentity({ stateDir, machineIdFile, hostname: 'edge-1' });
  t.regex(first.id, /^[0-9a-f]{32}$/);
  t.is(first.machineId, '0123456789abcdef0123456789abcdef');
  t.is(first.hostname, 'edge-1');
  const file = path.join(stateDir, AGENT_ID_FILE);
  t.is(statSync(file).mode & 0o777, 0o600);
  t.is(readFileSync(file, 'utf8'), `${first.id}\n`);
  t.deepEqual(loadAgentIdentity({ stateDir, machineIdFile, hostname: 'edge-1' }), first, 'stable across starts');
  t.not(loadAgentIdentity({ stateDir: path.join(dir, 'other'), machineIdFile, hostname: 'edge-1' }).id, first.id, 'another state directory is another instance');
});

test('no /etc/machine-id (or not an id): the identity has none', (t) => {
  const dir = tempDir(t);
  t.is(loadAgentIdentity({ stateDir: dir, machineIdFile: path.join(dir, 'missing') }).machineId, undefined);
  const odd = path.join(dir, 'odd');
  writeFileSync(odd, 'not an id!\n');
  t.is(loadAgentIdentity({ stateDir: dir, machineIdFile: odd }).machineId, undefined);
});

test('a damaged agent-id file is a config error naming the file and what to do', (t) => {
  const dir = tempDir(t);
  writeFileSync(path.join(dir, AGENT_ID_FILE), 'short\n');
  t.throws(() => loadAgentIdentity({ stateDir: dir, machineIdFile: path.join(dir, 'missing') }), {
    message: /agent-id must hold an agent id of 8–64 of A-Z, a-z, 0-9, "_", "-"; delete it to make a new one/,
  });
});
