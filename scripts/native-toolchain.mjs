// SPDX-License-Identifier: Apache-2.0
// What build-native.mjs and prebuild.mjs both need: the Node headers on this machine and node-gyp.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(import.meta.url);

/** Directory with include/node/node_api.h, or exits with how to get it. No step downloads headers. */
export function nodeHeadersDir(tool) {
  const candidates = [process.env.npm_config_nodedir, path.resolve(path.dirname(process.execPath), '..'), '/usr', '/usr/local'].filter(Boolean);
  const nodedir = candidates.find((dir) => existsSync(path.join(dir, 'include', 'node', 'node_api.h')));
  if (nodedir) return nodedir;
  console.error(
    `${tool}: no Node headers found (looked for include/node/node_api.h under ${candidates.join(', ')}).\n` +
      'Install them: on Debian/Ubuntu `apt-get install libnode-dev` or use a Node build that ships headers, or set npm_config_nodedir.',
  );
  process.exit(1);
}

/** node-gyp's entry script: the devDependency, else npm's own (npm_config_node_gyp); exits if neither. */
export function nodeGypScript(tool) {
  try {
    return require.resolve('node-gyp/bin/node-gyp.js');
  } catch {
    if (process.env.npm_config_node_gyp) return process.env.npm_config_node_gyp;
  }
  console.error(`${tool}: node-gyp is not installed: run npm ci (it is a devDependency)`);
  process.exit(1);
}
