// SPDX-License-Identifier: Apache-2.0
/**
 * What bin/faultd.js runs: `faultd agent` as the small idle agent process (idle-main.ts), which
 * starts the full faultd as its workers; everything else (and each worker) is the CLI (main.ts).
 */
import { setFlagsFromString } from 'node:v8';

import { ONE_PROCESS_ENV, workerRole } from './agent/worker-protocol.js';
import { isPlainAgentCommand } from './command-verb.js';

/**
 * The idle loop beats every 10 s: nothing in it gets hot enough to pay for V8's optimizing
 * compilers, whose code (about 4 MiB of the node binary) then stays out of memory. Set in this
 * process only; workers are new processes with V8's defaults.
 */
const IDLE_V8_FLAGS = ['--no-opt', '--no-maglev', '--no-sparkplug'];

const idle = isPlainAgentCommand(process.argv.slice(2)) && workerRole() === undefined && process.env[ONE_PROCESS_ENV] !== '1';
if (idle) for (const flag of IDLE_V8_FLAGS) setFlagsFromString(flag);
await (idle ? import('./idle-main.js') : import('./main.js'));
