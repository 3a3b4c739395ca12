// SPDX-License-Identifier: Apache-2.0
/**
 * Who `cmd` probes run as: the configured `probes.user` (default `nobody`), looked up with
 * `getent passwd` (NSS: local files, LDAP, systemd's dynamic users…) or, without getent, in
 * /etc/passwd. Root only when the configuration says so.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

import type { Config } from '../../config/config.js';
import { FaultdError } from '../../errors.js';
import type { CheckEnvironment } from '../types.js';

type CmdUser = CheckEnvironment['cmdUser'];

/** One passwd line (`name:x:uid:gid:gecos:home:shell`) as a user, if it is one. */
export function parsePasswdLine(line: string): CmdUser | undefined {
  const fields = line.split(':');
  if (fields.length < 7) return undefined;
  const [name = '', , uidText = '', gidText = '', , home = ''] = fields;
  if (!/^\d+$/.test(uidText) || !/^\d+$/.test(gidText)) return undefined;
  return { name, uid: Number(uidText), gid: Number(gidText), ...(home === '' ? {} : { home }) };
}

/** Where users are looked up (tests point them elsewhere). */
export interface UserDatabase {
  readonly getent: string;
  readonly passwdFile: string;
}

const SYSTEM_USERS: UserDatabase = { getent: 'getent', passwdFile: '/etc/passwd' };

/** The passwd entry of `name`, or undefined when there is none. */
export function lookupUser(name: string, database: UserDatabase = SYSTEM_USERS): CmdUser | undefined {
  try {
    const line = execFileSync(database.getent, ['passwd', name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 5000 });
    return parsePasswdLine(line.trim());
  } catch (error) {
    // getent exits 2 for "no such key": the user does not exist. Any other failure (no getent, a
    // database it cannot enumerate): read the file.
    if ((error as { status?: unknown }).status === 2) return undefined;
  }
  for (const line of readFileSync(database.passwdFile, 'utf8').split('\n')) {
    const user = parsePasswdLine(line);
    if (user?.name === name) return user;
  }
  return undefined;
}

/** The user `cmd` probes run as; FAULTD_ERR_PROBE_USER when it does not exist or is root without allowRoot. */
export function resolveCmdUser(probes: Config['probes'], lookup: (name: string) => CmdUser | undefined = lookupUser): CmdUser {
  const user = lookup(probes.user);
  if (!user) {
    throw new FaultdError('FAULTD_ERR_PROBE_USER', `probes.user: no user named "${probes.user}" on this host (cmd probes run as it); create it, or set probes.user in the configuration to an existing unprivileged user`);
  }
  if (user.uid === 0 && !probes.allowRoot) {
    throw new FaultdError('FAULTD_ERR_PROBE_USER', `probes.user: "${probes.user}" is root (uid 0), so cmd probes would run with every privilege faultd has; set probes.user to an unprivileged user, or set probes.allowRoot: true in the configuration to allow it`);
  }
  return user;
}
