// SPDX-License-Identifier: Apache-2.0
/**
 * The module boundaries in eslint.config.js name real folders, and each zone's rule is what
 * eslint applies to a file of that folder: a zone over a folder that was renamed or never
 * existed would enforce nothing and pass silently.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

import test from 'ava';
import { ESLint, Linter } from 'eslint';

import { REPO_ROOT } from '../helpers/cli.js';

interface Zone {
  readonly folder: string;
  readonly imports: readonly string[];
}

const { ZONES } = (await import(pathToFileURL(path.join(REPO_ROOT, 'eslint.config.js')).href)) as { ZONES: readonly Zone[] };

const isFolder = (relative: string): boolean => existsSync(path.join(REPO_ROOT, relative)) && statSync(path.join(REPO_ROOT, relative)).isDirectory();

test('every zone is a folder with TypeScript in it, and every folder a zone forbids exists', (t) => {
  t.true(ZONES.length >= 5);
  for (const zone of ZONES) {
    t.true(isFolder(zone.folder), `zone ${zone.folder} is not a folder`);
    t.true(readdirSync(path.join(REPO_ROOT, zone.folder), { recursive: true }).some((f) => String(f).endsWith('.ts')), `zone ${zone.folder} has no .ts file`);
    for (const entry of zone.imports.filter((i) => i.replace(/^!/, '').startsWith('src/'))) {
      const target = entry.replace(/^!/, '');
      const exists = target.endsWith('.js') ? existsSync(path.join(REPO_ROOT, target.replace(/\.js$/, '.ts'))) : isFolder(target);
      t.true(exists, `zone ${zone.folder} names ${entry}, which does not exist`);
    }
  }
});

test('eslint applies each zone to its folder: a forbidden import is reported, an allowed one is not', async (t) => {
  const eslint = new ESLint({ cwd: REPO_ROOT });
  const linter = new Linter();
  for (const zone of ZONES) {
    const file = readdirSync(path.join(REPO_ROOT, zone.folder)).find((f) => f.endsWith('.ts'));
    if (!file) continue;
    const config = (await eslint.calculateConfigForFile(path.join(zone.folder, file))) as { rules?: Record<string, Linter.RuleEntry> };
    const rule = config.rules?.['no-restricted-imports'];
    t.truthy(rule, `${zone.folder} has no import rule`);
    if (!rule) continue;
    const lint = (specifier: string) => linter.verify(`import '${specifier}';\n`, { rules: { 'no-restricted-imports': rule } }).length;
    for (const entry of zone.imports) {
      const name = entry.replace(/^!/, '');
      const specifier = name.startsWith('src/') ? `../${name.slice('src/'.length)}${name.endsWith('.js') ? '' : '/x.js'}` : name;
      t.is(lint(specifier) > 0, !entry.startsWith('!'), `${zone.folder}: import '${specifier}'`);
    }
    t.is(lint('../errors.js'), 0, `${zone.folder} may import errors.js`);
    t.true(lint('../main.js') > 0, `${zone.folder} may not import main.js`);
  }
});
