#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
// Builds the addon, the stressor and the C++ tests with node-gyp against the Node headers
// installed on this machine. No step downloads headers: if they are missing, say how to get them.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(import.meta.url);
const candidates = [
  process.env.npm_config_nodedir,
  path.resolve(path.dirname(process.execPath), '..'),
  '/usr',
  '/usr/local',
].filter(Boolean);
const nodedir = candidates.find((dir) => existsSync(path.join(dir, 'include', 'node', 'node_api.h')));
if (!nodedir) {
  console.error(
    'build-native: no Node headers found (looked for include/node/node_api.h under ' +
      candidates.join(', ') +
      ').\nInstall them: on Debian/Ubuntu `apt-get install libnode-dev` or use a Node build that ships headers, ' +
      'or set npm_config_nodedir.',
  );
  process.exit(1);
}
const gyp = require.resolve('node-gyp/bin/node-gyp.js');
const jobs = String(Math.max(1, Math.min(4, (await import('node:os')).availableParallelism())));
const result = spawnSync(process.execPath, [gyp, 'rebuild', `--nodedir=${nodedir}`, '--jobs', jobs], {
  stdio: 'inherit',
});
process.exit(result.status ?? 1);
