// SPDX-License-Identifier: Apache-2.0
/**
 * netem's delay distribution tables are data that iproute2 ships (`normal.dist`, `pareto.dist`,
 * `paretonormal.dist`); faultd reads the same files so its messages match `tc`'s byte for byte.
 * Their directory differs by distribution and architecture.
 */
import { existsSync } from 'node:fs';

const CANDIDATE_DIRS = [
  '/usr/lib/x86_64-linux-gnu/tc',
  '/usr/lib/aarch64-linux-gnu/tc',
  '/usr/lib/tc',
  '/usr/lib64/tc',
  '/usr/share/tc',
];

/** The directory holding `<name>.dist` (TC_LIB_DIR first, as iproute2 does), if any. */
export function findDistributionDir(name: string): string | undefined {
  const dirs = [process.env['TC_LIB_DIR'], ...CANDIDATE_DIRS].filter((d): d is string => Boolean(d));
  return dirs.find((dir) => existsSync(`${dir}/${name}.dist`));
}
