// SPDX-License-Identifier: Apache-2.0
/**
 * The web console's files (built from web/ by scripts/build-console.mjs into dist/console/),
 * served by the hub at /ui/ on its one listener; `/` redirects there. Only the files found in
 * that folder when the hub first serves one are ever served (a fixed table of names: a path
 * with `..`, `%2e` or a slash of its own matches none of them). The HTML shell is revalidated on
 * every load (ETag); the scripts and styles have their content hash in their names and are
 * cached for a year. Every answer carries a strict Content-Security-Policy: the console runs
 * only its own script, never inline code.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';

import { packageRoot } from '../package-root.js';

export const CONSOLE_PREFIX = '/ui/';

/** No inline script or style, no other origin, no framing. */
export const CONSOLE_CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
};

interface Asset {
  readonly body: Buffer;
  readonly type: string;
  readonly etag: string;
  readonly cacheControl: string;
}

/** Where `npm run build` puts the console (dist/console/ of the package). */
export function consoleDir(): string {
  return path.join(packageRoot(), 'dist', 'console');
}

/** Every file under `dir`, keyed by its path relative to it with `/` separators. */
function readAssets(dir: string): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  const walk = (relative: string): void => {
    for (const entry of readdirSync(path.join(dir, relative), { withFileTypes: true })) {
      const name = relative ? `${relative}/${entry.name}` : entry.name;
      if (entry.isDirectory()) walk(name);
      if (!entry.isFile()) continue;
      const type = CONTENT_TYPES[path.extname(entry.name)];
      if (!type) continue;
      const body = readFileSync(path.join(dir, name));
      const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
      // index.html names the hashed files of this build: always revalidated.
      const cacheControl = name === 'index.html' ? 'no-cache' : 'public, max-age=31536000, immutable';
      assets.set(name, { body, type, etag, cacheControl });
    }
  };
  walk('');
  return assets;
}

/** True for the paths the console answers: `/`, `/ui` and everything under `/ui/`. */
export function isConsolePath(urlPath: string): boolean {
  return urlPath === '/' || urlPath === '/ui' || urlPath.startsWith(CONSOLE_PREFIX);
}

export type ConsoleHandler = (req: IncomingMessage, res: ServerResponse, urlPath: string) => void;

const SECURITY_HEADERS = {
  'content-security-policy': CONSOLE_CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

function sendText(res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store', ...headers }).end(text);
}

/** The console's request handler, serving the files of `dir` (read once, on the first request). */
export function consoleHandler(dir = consoleDir()): ConsoleHandler {
  let assets: Map<string, Asset> | undefined;
  return (req, res, urlPath) => {
    const method = req.method ?? 'GET';
    if (urlPath === '/' || urlPath === '/ui') {
      res.writeHead(302, { location: CONSOLE_PREFIX, 'content-length': 0 }).end();
      return;
    }
    if (method !== 'GET' && method !== 'HEAD') {
      sendText(res, 405, 'the console serves GET and HEAD only\n', { allow: 'GET, HEAD' });
      return;
    }
    if (!assets) {
      if (!existsSync(path.join(dir, 'index.html'))) {
        sendText(res, 503, `the web console is not built (no ${dir}/index.html): run npm run build\n`);
        return;
      }
      assets = readAssets(dir);
    }
    const name = urlPath === CONSOLE_PREFIX ? 'index.html' : urlPath.slice(CONSOLE_PREFIX.length);
    const asset = assets.get(name);
    if (!asset) {
      sendText(res, 404, `no such console file: ${urlPath}\n`);
      return;
    }
    const headers = { ...SECURITY_HEADERS, etag: asset.etag, 'cache-control': asset.cacheControl };
    if (req.headers['if-none-match']?.split(/\s*,\s*/).includes(asset.etag)) {
      res.writeHead(304, headers).end();
      return;
    }
    res.writeHead(200, { ...headers, 'content-type': asset.type, 'content-length': asset.body.length });
    res.end(method === 'HEAD' ? undefined : asset.body);
  };
}
