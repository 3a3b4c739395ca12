// SPDX-License-Identifier: Apache-2.0
// Lint rules, including the module boundaries of shared/design (STYLE.md D2).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const boundary = (group, message) => ({ group, message });

export default tseslint.config(
  { ignores: ['dist/**', 'build/**', 'node_modules/**', 'bench/results/**'] },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked.map((config) => ({ ...config, files: ['**/*.ts'] })),
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-confusing-void-expression': ['error', { ignoreArrowShorthand: true }],
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true }],
      '@typescript-eslint/no-unnecessary-condition': 'off',
      'no-restricted-syntax': ['error', { selector: "CallExpression[callee.object.name='process'][callee.property.name='exit']", message: 'Only src/main.ts may exit the process.' }],
    },
  },
  {
    files: ['src/**/*.ts'],
    ignores: ['src/main.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [
        boundary(['**/main.js'], 'Nothing imports the composition root.'),
        boundary(['**/log.js'], 'Modules receive a Logger; only main.ts creates the root logger.'),
      ] }],
    },
  },
  {
    files: ['src/faults/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [
        boundary(['undici', '**/control-plane/**'], 'Faults never talk to the control plane.'),
        boundary(['**/main.js', '**/log.js'], 'Faults receive a Logger from the engine.'),
      ] }],
    },
  },
  {
    files: ['src/main.ts', 'bench/**/*.ts', 'test/**/*.ts', 'scripts/**/*.mjs', 'eslint.config.js', 'bin/**/*.js'],
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
