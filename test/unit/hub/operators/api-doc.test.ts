// SPDX-License-Identifier: Apache-2.0
// docs/operator-api.md lists every route of the one route table with its role, and no other.
import { readFileSync } from 'node:fs';
import path from 'node:path';

import test from 'ava';

import { OPERATOR_ROUTES } from '../../../../src/hub/operators/routes.js';
import { REPO_ROOT } from '../../../helpers/cli.js';

test('docs/operator-api.md tables every route with its minimum role', (t) => {
  const doc = readFileSync(path.join(REPO_ROOT, 'docs', 'operator-api.md'), 'utf8');
  const documented = [...doc.matchAll(/^\| (GET|POST|PUT|DELETE) \| (\/api\/v1\/\S*) \| (\w+) \|/gm)].map((m) => `${m[1]} ${m[2]} ${m[3]}`);
  t.deepEqual([...documented].sort(), OPERATOR_ROUTES.map((r) => `${r.method} ${r.path} ${r.role}`).sort());
});
