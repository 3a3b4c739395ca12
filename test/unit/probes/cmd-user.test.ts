// SPDX-License-Identifier: Apache-2.0
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import test from 'ava';

import { isFaultdError } from '../../../src/errors.js';
import { lookupUser, parsePasswdLine, resolveCmdUser } from '../../../src/probes/checks/cmd-user.js';

test('passwd lines parse into name, uid, gid and home', (t) => {
  t.deepEqual(parsePasswdLine('nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin'), { name: 'nobody', uid: 65534, gid: 65534, home: '/nonexistent' });
  t.deepEqual(parsePasswdLine('svc:x:998:997:::/bin/false'), { name: 'svc', uid: 998, gid: 997 });
  t.is(parsePasswdLine('broken:x:abc:1:::'), undefined);
  t.is(parsePasswdLine('#comment'), undefined);
});

test('the real user database has nobody and root', (t) => {
  const nobody = lookupUser('nobody');
  t.is(nobody?.name, 'nobody');
  t.true((nobody?.uid ?? 0) > 0);
  t.is(lookupUser('root')?.uid, 0);
  t.is(lookupUser('faultd-no-such-user-x'), undefined);
});

test('without getent, /etc/passwd (here a test file) is read', (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'faultd-passwd-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'passwd');
  writeFileSync(file, 'root:x:0:0:root:/root:/bin/sh\nprobe-only-in-file:x:4242:4343::/srv/probe:/bin/false\n');
  const database = { getent: path.join(dir, 'no-getent'), passwdFile: file };
  t.deepEqual(lookupUser('probe-only-in-file', database), { name: 'probe-only-in-file', uid: 4242, gid: 4343, home: '/srv/probe' });
  t.is(lookupUser('nobody', database), undefined, 'the system database was not read');
  // With getent present, its "not found" (exit 2) is the answer: the file is not consulted.
  t.is(lookupUser('probe-only-in-file', { getent: 'getent', passwdFile: file }), undefined);
});

test('a missing user is FAULTD_ERR_PROBE_USER naming probes.user', (t) => {
  const error = t.throws(() => resolveCmdUser({ user: 'ghost', allowRoot: false }, () => undefined));
  t.true(isFaultdError(error, 'FAULTD_ERR_PROBE_USER'));
  t.regex(error.message, /^probes\.user: no user named "ghost"/);
});

test('root is refused unless probes.allowRoot, and the error says how to allow it', (t) => {
  const root = { name: 'root', uid: 0, gid: 0, home: '/root' };
  const error = t.throws(() => resolveCmdUser({ user: 'root', allowRoot: false }, () => root));
  t.true(isFaultdError(error, 'FAULTD_ERR_PROBE_USER'));
  t.regex(error.message, /probes\.allowRoot: true/);
  t.deepEqual(resolveCmdUser({ user: 'root', allowRoot: true }, () => root), root);
  t.is(resolveCmdUser({ user: 'nobody', allowRoot: false }).name, 'nobody');
});
