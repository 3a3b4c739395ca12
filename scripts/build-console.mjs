// SPDX-License-Identifier: Apache-2.0
/**
 * Builds the web console (web/) into dist/console/, the files the hub serves at /ui/:
 * index.html and assets/main-<hash>.{js,css} (Preact, Chart.js and the console's own code in one
 * bundle, no CDN). The HTML shell is web/index.html with the hashed names filled in; it holds no
 * inline script or style (the hub's Content-Security-Policy forbids them).
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { build } from 'esbuild';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const OUT = path.join(REPO, 'dist', 'console');

rmSync(OUT, { recursive: true, force: true });
mkdirSync(OUT, { recursive: true });
const result = await build({
  absWorkingDir: REPO,
  entryPoints: ['web/src/main.tsx'],
  bundle: true,
  minify: true,
  sourcemap: 'linked',
  format: 'esm',
  target: ['es2022', 'chrome100', 'firefox100', 'safari15'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  outdir: path.join(OUT, 'assets'),
  entryNames: '[name]-[hash]',
  metafile: true,
  logLevel: 'warning',
});
const outputs = Object.keys(result.metafile.outputs).map((file) => path.relative(OUT, path.resolve(REPO, file)).split(path.sep).join('/'));
const js = outputs.find((file) => file.endsWith('.js'));
const css = outputs.find((file) => file.endsWith('.css'));
if (!js || !css) throw new Error(`the console build made no script or no stylesheet: ${outputs.join(', ')}`);
const html = readFileSync(path.join(REPO, 'web', 'index.html'), 'utf8').replace('%APP_JS%', js).replace('%APP_CSS%', css);
writeFileSync(path.join(OUT, 'index.html'), html);
const sizes = outputs.filter((f) => !f.endsWith('.map')).map((f) => `${f} ${(result.metafile.outputs[path.relative(REPO, path.join(OUT, f))]?.bytes ?? 0) / 1024 | 0} KiB`);
console.log(`console built in ${path.relative(REPO, OUT)}/: ${sizes.join(', ')}`);
