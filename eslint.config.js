// SPDX-License-Identifier: Apache-2.0
// Lint rules, including the module boundaries of shared/design (STYLE.md D2).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * Module boundaries (shared/design/ARCHITECTURE.md §3): which folders a folder may not import.
 * Every folder named here must exist (test/unit/lint-zones.test.ts), so a rename cannot turn a
 * zone into one that matches nothing. `imports` are folders under src/ (matched as a path
 * segment of the import specifier), package names, or `!`-prefixed exceptions.
 */
export const ZONES = [
  {
    folder: 'src/agent',
    imports: ['src/faults', 'src/native', 'src/ledger', 'src/hub', 'src/cli', 'src/engine', '!src/engine/session.js', 'better-sqlite3'],
    message: 'The agent does hub traffic only: it reaches the host through the engine\'s Session API (engine/session.ts).',
  },
  {
    folder: 'src/faults',
    imports: ['src/agent', 'src/hub', 'src/cli', 'src/engine', 'undici', 'better-sqlite3'],
    message: 'Faults never talk to the control plane or the engine; they get what they need through their context.',
  },
  {
    folder: 'src/engine',
    imports: ['src/agent', 'src/hub', 'src/cli', 'undici', 'better-sqlite3'],
    message: 'The engine runs faults; it knows nothing of the hub, the agent or the command line.',
  },
  {
    folder: 'src/hub',
    imports: ['src/faults', 'src/native', 'src/ledger', 'src/engine', 'src/agent', 'src/cli'],
    message: 'The hub is the control plane: it never touches this host\'s faults.',
  },
  {
    folder: 'src/ledger',
    imports: ['src/faults', 'src/engine', 'src/agent', 'src/hub', 'src/cli'],
    message: 'The ledger only stores records.',
  },
];

/** Imports no module under src/ may make, whatever its zone (main.ts excepted). */
const EVERYWHERE = [
  { group: ['**/main.js'], message: 'Nothing imports the composition root.' },
  { group: ['**/log.js'], message: 'Modules receive a Logger; only main.ts creates the root logger.' },
];

/** An import specifier pattern for a zone entry: `src/x` matches any `…/x/…` import. */
const pattern = (entry) => {
  const negated = entry.startsWith('!');
  const name = negated ? entry.slice(1) : entry;
  const glob = name.startsWith('src/') ? `**/${name.slice('src/'.length)}${name.endsWith('.js') ? '' : '/**'}` : name;
  return negated ? `!${glob}` : glob;
};

const zoneConfigs = ZONES.map((zone) => ({
  files: [`${zone.folder}/**/*.ts`],
  rules: { 'no-restricted-imports': ['error', { patterns: [...EVERYWHERE, { group: zone.imports.map(pattern), message: zone.message }] }] },
}));

export default tseslint.config(
  { ignores: ['dist/**', 'build/**', 'node_modules/**', 'bench/results/**', '.cache/**', 'prebuilds/**'] },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked.map((config) => ({ ...config, files: ['**/*.ts', 'web/**/*.tsx'] })),
  {
    files: ['**/*.ts', 'web/**/*.tsx'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-confusing-void-expression': ['error', { ignoreArrowShorthand: true }],
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true }],
      '@typescript-eslint/no-unnecessary-condition': 'off',
      'no-restricted-syntax': ['error', { selector: "CallExpression[callee.object.name='process'][callee.property.name='exit']", message: 'Only src/main.ts and src/idle-main.ts (the agent\'s idle process) may exit the process.' }],
    },
  },
  {
    files: ['src/**/*.ts'],
    ignores: ['src/main.ts', 'src/entry.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: EVERYWHERE }] },
  },
  ...zoneConfigs,
  {
    files: ['src/main.ts', 'src/idle-main.ts', 'bench/**/*.ts', 'test/**/*.ts', 'scripts/**/*.mjs', 'eslint.config.js', 'bin/**/*.js'],
    rules: { 'no-restricted-syntax': 'off' },
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-floating-promises': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } },
  },
);
