// SPDX-License-Identifier: Apache-2.0
// Every error code's exit code is the one docs/errors.md tables, and every code is tabled there.
import { readFileSync } from 'node:fs';
import path from 'node:path';

import test from 'ava';

import { EXIT, EXIT_CODE_OF_ERROR, exitCodeForError } from '../../../src/cli/exit-codes.js';
import { ERROR_CODES, FaultdError } from '../../../src/errors.js';
import { REPO_ROOT } from '../../helpers/cli.js';

function documentedExitCodes(): Record<string, number> {
  const text = readFileSync(path.join(REPO_ROOT, 'docs', 'errors.md'), 'utf8');
  return Object.fromEntries([...text.matchAll(/^\| `(FAULTD_ERR_[A-Z_]+)` \|.*\| (\d) \|$/gm)].map((m) => [m[1] ?? '', Number(m[2])]));
}

test('docs/errors.md tables every error code with the exit code the CLI uses', (t) => {
  const documented = documentedExitCodes();
  t.deepEqual(Object.keys(documented).sort(), Object.keys(ERROR_CODES).sort());
  t.deepEqual(documented, { ...EXIT_CODE_OF_ERROR });
});

test('an error ends the command with its code\'s exit code; anything else is 1', (t) => {
  t.is(exitCodeForError(new FaultdError('FAULTD_ERR_AGENT_CONFIG', 'x')), EXIT.INVALID_INPUT);
  t.is(exitCodeForError(new FaultdError('FAULTD_ERR_INPUT_SYNTAX', 'x')), EXIT.INVALID_INPUT);
  t.is(exitCodeForError(new FaultdError('FAULTD_ERR_AGENT_UNREACHABLE', 'x')), EXIT.FAILURE);
  t.is(exitCodeForError(new Error('x')), EXIT.FAILURE);
  t.is(exitCodeForError('x'), EXIT.FAILURE);
});
