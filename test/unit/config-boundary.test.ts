// SPDX-License-Identifier: Apache-2.0
// The configuration depends on nothing of the faults (no src/config ↔ src/faults cycle): what
// both need (address and port parsing, the safety settings) lives in src/net.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

import test from 'ava';

import { REPO_ROOT } from '../helpers/cli.js';

/** Relative import specifiers of a TypeScript file (static `from '…'` and dynamic `import('…')`). */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/(?:\bfrom\s+|\bimport\s*\(\s*|\bimport\s+)['"]([^'"]+)['"]/g)].map((m) => m[1] ?? '');
}

function tsFilesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts'))
    .map((entry) => path.join(entry.parentPath, entry.name));
}

function importedFilesUnder(dir: string): { file: string; target: string }[] {
  return tsFilesUnder(dir).flatMap((file) =>
    importsOf(file)
      .filter((spec) => spec.startsWith('.'))
      .map((spec) => ({ file: path.relative(REPO_ROOT, file), target: path.relative(REPO_ROOT, path.resolve(path.dirname(file), spec)) })),
  );
}

test('src/config imports nothing from src/faults', (t) => {
  const imports = importedFilesUnder(path.join(REPO_ROOT, 'src', 'config'));
  t.true(imports.length > 0, 'the scan found the configuration imports');
  t.deepEqual(imports.filter((i) => i.target.startsWith(`src${path.sep}faults`)), []);
});

test('src/net, shared by both, imports neither src/config nor src/faults', (t) => {
  const imports = importedFilesUnder(path.join(REPO_ROOT, 'src', 'net'));
  t.deepEqual(imports.filter((i) => /^src[/\\](config|faults)([/\\]|$)/.test(i.target)), []);
});

test('the scan sees an import of src/faults where there is one', (t) => {
  const imports = importedFilesUnder(path.join(REPO_ROOT, 'src', 'experiment'));
  t.true(imports.some((i) => i.target.startsWith(`src${path.sep}faults`)));
});
