// SPDX-License-Identifier: Apache-2.0
/**
 * Which agent instance this is, for the hub's one-machine-per-infrastructure binding: a random
 * id made once and kept in `<stateDir>/agent-id` (written durably, so a crash cannot leave half
 * an id), the host's /etc/machine-id (absent where there is none), and the host name. A copy of
 * the access key on another machine (or a second state directory) is another identity.
 */
import { randomBytes } from 'node:crypto';
import { linkSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { hostname as osHostname } from 'node:os';
import path from 'node:path';

import { FaultdError, messageOf } from '../errors.js';
import { replaceFileDurably, syncDirectory } from '../host/durable-file.js';
import { AgentIdentity } from '../protocol/messages.js';

/** Where systemd keeps the host's machine id. */
export const MACHINE_ID_FILE = '/etc/machine-id';

/** The file in the state directory that holds the agent id. */
export const AGENT_ID_FILE = 'agent-id';

const AGENT_ID = /^[A-Za-z0-9_-]{8,64}$/;
const MACHINE_ID = /^[A-Za-z0-9_-]{1,64}$/;

export interface AgentIdentityOptions {
  /** The agent's state directory (created 0700 if missing). */
  readonly stateDir: string;
  /** Default /etc/machine-id; tests give a temp file. */
  readonly machineIdFile?: string;
  /** Default os.hostname(). */
  readonly hostname?: string;
}

function readIfPresent(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/**
 * Writes `made` as the agent id unless another process made one first (two first starts at
 * once), and returns the id that is on disk: written to a temp file and fsync'd, then linked into
 * place, which fails if the file exists.
 */
function createExclusively(file: string, made: string): string {
  const temp = `${file}.${process.pid}.tmp`;
  replaceFileDurably(temp, `${made}\n`, 0o600);
  try {
    linkSync(temp, file);
    syncDirectory(path.dirname(file));
    return made;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    return readFileSync(file, 'utf8').trim();
  } finally {
    rmSync(temp, { force: true });
  }
}

/** The agent id in `stateDir`, made (random, 32 hex digits) and stored on first use. */
function agentId(stateDir: string): string {
  const file = path.join(stateDir, AGENT_ID_FILE);
  try {
    const stored = readIfPresent(file)?.trim();
    if (stored !== undefined) {
      if (!AGENT_ID.test(stored)) throw new FaultdError('FAULTD_ERR_AGENT_CONFIG', `${file} must hold an agent id of 8–64 of A-Z, a-z, 0-9, "_", "-"; delete it to make a new one (then run faultd hub infra release on the hub)`);
      return stored;
    }
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    return createExclusively(file, randomBytes(16).toString('hex'));
  } catch (error) {
    if (error instanceof FaultdError) throw error;
    throw new FaultdError('FAULTD_ERR_STATE_DIR', `cannot read or create the agent id ${file}: ${messageOf(error)}`, { cause: error });
  }
}

/** The host's machine id, or undefined when the file is missing, unreadable or not an id. */
function machineId(file: string): string | undefined {
  try {
    const id = readIfPresent(file)?.trim();
    return id !== undefined && MACHINE_ID.test(id) ? id : undefined;
  } catch {
    return undefined;
  }
}

/** This agent instance's identity (see the module comment). */
export function loadAgentIdentity(options: AgentIdentityOptions): AgentIdentity {
  const machine = machineId(options.machineIdFile ?? MACHINE_ID_FILE);
  const name = (options.hostname ?? osHostname()).slice(0, 255) || 'unknown';
  return AgentIdentity.parse({ id: agentId(options.stateDir), ...(machine === undefined ? {} : { machineId: machine }), hostname: name });
}
