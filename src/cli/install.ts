// SPDX-License-Identifier: Apache-2.0
/**
 * `faultd install` / `faultd uninstall`: set up (and take down) the agent as a systemd service.
 * install writes `<config-dir>/config.yaml`, the access key (0600, atomically), copies of the CA
 * and client certificate, and `<unit-dir>/faultd.service` (the shipped unit with this faultd's
 * absolute paths), records what it wrote in `<config-dir>/.faultd-install.json`, then reloads
 * systemd, enables the unit and (re)starts it, which returns once the agent reported READY=1.
 * uninstall stops and disables the unit (ExecStopPost reverts), reverts remnants itself, and
 * deletes exactly what the manifest lists. Both are idempotent: a second run changes nothing.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import { stringify } from 'yaml';
import { z } from 'zod';

import { readAccessKey, writeAccessKey } from '../agent/key-file.js';
import { ConfigSchema } from '../config/config.js';
import { failedRemnants } from '../engine/session.js';
import { LEDGER_FILE } from '../ledger/ledger.js';
import { FaultdError, messageOf } from '../errors.js';
import { faultContext, openSession, type CommandEnv } from './context.js';
import { EXIT, type ExitCode } from './exit-codes.js';
import { packageRoot } from '../package-root.js';

export const UNIT_NAME = 'faultd.service';
const MANIFEST = '.faultd-install.json';
/** The command and config path the shipped unit names; install puts the real ones there. */
const UNIT_COMMAND = '/usr/local/bin/faultd';
const UNIT_CONFIG = '/etc/faultd/config.yaml';

export interface InstallPaths {
  readonly configDir: string;
  readonly unitDir: string;
  /** false: write the files only (an image build, or tests); no systemctl. */
  readonly systemctl: boolean;
}

export interface InstallFlags extends InstallPaths {
  readonly hubUrl: string;
  readonly infraId: string;
  readonly accessKeyFile: string;
  readonly caFile?: string;
  readonly pinSha256?: string;
  readonly clientCertFile?: string;
  readonly clientKeyFile?: string;
  /** An HTTP forward proxy to the hub (`http://host:port`, or `none`): hub.proxy. */
  readonly httpProxy?: string;
  /** Replace files install did not write, and an access key that differs (a rotated one). */
  readonly force: boolean;
}

const Manifest = z.object({ files: z.array(z.string()), unit: z.string() });

function readInput(file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    throw new FaultdError('FAULTD_ERR_AGENT_CONFIG', `--${what}: cannot read ${file}: ${messageOf(error)}`, { cause: error });
  }
}

function readManifest(configDir: string): z.infer<typeof Manifest> | undefined {
  try {
    return Manifest.parse(JSON.parse(readFileSync(path.join(configDir, MANIFEST), 'utf8')));
  } catch {
    return undefined;
  }
}

/** A path as one word of an Exec line (quoted when it has spaces; % doubled for systemd). */
function execWord(word: string): string {
  const escaped = word.replaceAll('%', '%%');
  return /[\s"'\\]/.test(escaped) ? `"${escaped.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"` : escaped;
}

/** The unit with this faultd's node, entry point and config file in place of the shipped ones. */
export function renderUnit(template: string, command: readonly string[], configFile: string): string {
  return template.replaceAll(UNIT_CONFIG, execWord(configFile)).replaceAll(UNIT_COMMAND, command.map(execWord).join(' '));
}

type Outcome = 'created' | 'updated' | 'unchanged';

/** Writes `text` unless the file already holds it. */
function writeIfChanged(file: string, text: string, mode: number): Outcome {
  const before = existsSync(file) ? readFileSync(file, 'utf8') : undefined;
  if (before === text) return 'unchanged';
  writeFileSync(file, text, { mode });
  return before === undefined ? 'created' : 'updated';
}

interface Planned {
  readonly file: string;
  readonly text: string;
  readonly mode: number;
  /** The access key: compared without its line end, written atomically. */
  readonly key?: boolean;
}

/** Whether `file` already holds `text`. */
function holds(file: string, text: string, isKey: boolean): boolean {
  const before = readFileSync(file, 'utf8');
  return isKey ? before.trim() === text.trim() : before === text;
}

/**
 * The agent rotates its key in place: a key install wrote earlier that differs now is the
 * rotated, current one and is kept unless --force.
 */
function installKey(file: string, key: string, owned: boolean, force: boolean, env: CommandEnv): Outcome {
  const before = existsSync(file) ? readFileSync(file, 'utf8').trim() : undefined;
  if (before === key) return 'unchanged';
  if (before !== undefined && owned && !force) {
    env.print(`kept      ${file} (it differs from --access-key-file: the agent may have rotated it; --force replaces it)`);
    return 'unchanged';
  }
  writeAccessKey(file, key);
  return before === undefined ? 'created' : 'updated';
}

function systemctl(args: readonly string[], allowFailure = false): string {
  const result = spawnSync('systemctl', args, { encoding: 'utf8' });
  if (result.error) throw new FaultdError('FAULTD_ERR_INSTALL', `systemctl ${args.join(' ')}: ${messageOf(result.error)} (is this host running systemd? --no-systemctl writes the files only)`);
  if (result.status !== 0 && !allowFailure) {
    throw new FaultdError('FAULTD_ERR_INSTALL', `systemctl ${args.join(' ')} failed (exit ${result.status ?? '?'}): ${(result.stderr || result.stdout).trim()}; see journalctl -u ${UNIT_NAME}`);
  }
  return result.stdout.trim();
}

export function installCommand(given: InstallFlags, env: CommandEnv): ExitCode {
  const flags = { ...given, configDir: path.resolve(given.configDir), unitDir: path.resolve(given.unitDir) };
  // Everything is read and checked before anything is written.
  const key = readAccessKey(flags.accessKeyFile);
  const ca = flags.caFile === undefined ? undefined : readInput(flags.caFile, 'ca-file');
  if ((flags.clientCertFile === undefined) !== (flags.clientKeyFile === undefined)) {
    throw new FaultdError('FAULTD_ERR_AGENT_CONFIG', '--client-cert-file and --client-key-file go together');
  }
  const clientCert = flags.clientCertFile === undefined ? undefined : readInput(flags.clientCertFile, 'client-cert-file');
  const clientKey = flags.clientKeyFile === undefined ? undefined : readInput(flags.clientKeyFile, 'client-key-file');
  const files = {
    config: path.join(flags.configDir, 'config.yaml'),
    key: path.join(flags.configDir, 'access-key'),
    ca: path.join(flags.configDir, 'ca.pem'),
    clientCert: path.join(flags.configDir, 'client.pem'),
    clientKey: path.join(flags.configDir, 'client.key'),
  };
  const hub = {
    url: flags.hubUrl,
    infraId: flags.infraId,
    accessKeyFile: files.key,
    ...(ca === undefined ? {} : { caFile: files.ca }),
    ...(flags.pinSha256 === undefined ? {} : { pinSha256: flags.pinSha256 }),
    ...(clientCert === undefined ? {} : { clientCertFile: files.clientCert, clientKeyFile: files.clientKey }),
    ...(flags.httpProxy === undefined ? {} : { proxy: flags.httpProxy }),
  };
  const checked = ConfigSchema.safeParse({ hub });
  if (!checked.success) {
    const problems = checked.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new FaultdError('FAULTD_ERR_AGENT_CONFIG', `the agent configuration would be invalid: ${problems}`);
  }
  const manifest = readManifest(flags.configDir);
  const template = readInput(path.join(packageRoot(), 'systemd', UNIT_NAME), 'unit template');
  const command = [process.execPath, path.join(packageRoot(), 'bin', 'faultd.js')];
  const unitFile = path.join(flags.unitDir, UNIT_NAME);
  const configText = `# Written by faultd install; see README, "Running as a service".\n${stringify({ hub })}`;
  const planned: Planned[] = [
    { file: files.key, text: `${key}\n`, mode: 0o600, key: true },
    ...(ca === undefined ? [] : [{ file: files.ca, text: ca, mode: 0o644 }]),
    ...(clientCert === undefined || clientKey === undefined ? [] : [{ file: files.clientCert, text: clientCert, mode: 0o644 }, { file: files.clientKey, text: clientKey, mode: 0o600 }]),
    { file: files.config, text: configText, mode: 0o644 },
    { file: unitFile, text: renderUnit(template, command, files.config), mode: 0o644 },
  ];
  // A file install did not write is never replaced without --force, and never becomes its own.
  const owned = new Set(manifest?.files ?? []);
  const foreign = planned.filter((p) => existsSync(p.file) && !owned.has(p.file) && !holds(p.file, p.text, p.key === true));
  if (foreign.length > 0 && !flags.force) {
    throw new FaultdError('FAULTD_ERR_INSTALL', `${foreign.map((p) => p.file).join(', ')} ${foreign.length === 1 ? 'exists' : 'exist'} with other contents and ${foreign.length === 1 ? 'was' : 'were'} not written by faultd install; move ${foreign.length === 1 ? 'it' : 'them'} away, or pass --force to replace ${foreign.length === 1 ? 'it' : 'them'}`);
  }

  mkdirSync(flags.configDir, { recursive: true, mode: 0o700 });
  mkdirSync(flags.unitDir, { recursive: true });
  const written: [string, Outcome][] = [];
  for (const p of planned) {
    const outcome = p.key === true ? installKey(p.file, key, owned.has(p.file), flags.force, env) : writeIfChanged(p.file, p.text, p.mode);
    written.push([p.file, outcome]);
    // Created or replaced (--force) by install: its own. Found as it would be: left unowned.
    if (outcome !== 'unchanged') owned.add(p.file);
  }
  writeFileSync(path.join(flags.configDir, MANIFEST), `${JSON.stringify({ files: [...owned], unit: unitFile }, null, 2)}\n`, { mode: 0o600 });
  for (const [file, outcome] of written) env.print(`${outcome.padEnd(9)} ${file}${outcome === 'unchanged' && !owned.has(file) ? ' (already there; not faultd install\'s, so uninstall leaves it)' : ''}`);

  const changed = written.some(([, outcome]) => outcome !== 'unchanged');
  if (!flags.systemctl) {
    env.print('Files written; systemctl not run (--no-systemctl). To start: systemctl daemon-reload && systemctl enable --now faultd');
    return EXIT.OK;
  }
  systemctl(['daemon-reload']);
  systemctl(['enable', UNIT_NAME]);
  // Type=notify: start/restart returns once the agent reverted remnants and sent READY=1.
  systemctl([changed ? 'restart' : 'start', UNIT_NAME]);
  env.print(`${UNIT_NAME} is ${systemctl(['is-active', UNIT_NAME], true)}${changed ? ' (restarted with the new settings)' : ''}; logs: journalctl -u faultd`);
  return EXIT.OK;
}

/**
 * Reverts what the stopped agent may have left. Faults of a live faultd (an operator's
 * `faultd run`) are left to it. A state dir without a ledger is not created just to find that
 * nothing is there. Returns how many reverts failed.
 */
async function revertAfterStop(env: CommandEnv): Promise<number> {
  if (!existsSync(path.join(env.options.stateDir, LEDGER_FILE))) {
    env.print('no remnants to revert (no ledger)');
    return 0;
  }
  const session = openSession(env, faultContext(env));
  try {
    const reports = await session.open();
    const failed = failedRemnants(reports).length;
    const skipped = reports.filter((r) => 'skipped' in r.result).length;
    env.print(reports.length === 0 ? 'no remnants to revert' : `${reports.length - skipped} remnant(s) reverted, ${failed} failed (see faultd status)${skipped ? `; ${skipped} left to the live faultd that runs them` : ''}`);
    return failed;
  } finally {
    await session.close();
  }
}

export async function uninstallCommand(given: InstallPaths, env: CommandEnv): Promise<ExitCode> {
  const flags = { ...given, configDir: path.resolve(given.configDir), unitDir: path.resolve(given.unitDir) };
  const manifest = readManifest(flags.configDir);
  const unitFile = manifest?.unit ?? path.join(flags.unitDir, UNIT_NAME);
  if (flags.systemctl && existsSync(unitFile)) {
    // Stopping runs the agent's own abort-and-revert, then ExecStopPost's revert --remnants. A
    // unit still running after that leaves everything in place: the agent may hold faults. (A
    // unit systemd does not know, e.g. one written with --no-systemctl elsewhere, is no reason to stop.)
    systemctl(['disable', '--now', UNIT_NAME], true);
    const state = systemctl(['is-active', UNIT_NAME], true);
    if (['active', 'activating', 'deactivating', 'reloading'].includes(state)) {
      throw new FaultdError('FAULTD_ERR_INSTALL', `${UNIT_NAME} is still ${state} after systemctl disable --now; nothing was removed (see journalctl -u ${UNIT_NAME})`);
    }
    env.print(`stopped and disabled ${UNIT_NAME}`);
  }
  const failed = await revertAfterStop(env);
  const files = [...(manifest?.files ?? []), path.join(flags.configDir, MANIFEST)];
  let removed = 0;
  for (const file of files) {
    if (!existsSync(file)) continue;
    rmSync(file, { force: true });
    removed += 1;
    env.print(`removed   ${file}`);
  }
  if (existsSync(flags.configDir) && readdirSync(flags.configDir).length === 0) rmdirSync(flags.configDir);
  if (flags.systemctl && removed > 0) systemctl(['daemon-reload'], true);
  if (!manifest) env.print(`nothing installed by faultd install under ${flags.configDir}`);
  env.print(`The state directory ${env.options.stateDir} (ledger, run journals) is kept; delete it by hand if you want it gone.`);
  return failed > 0 ? EXIT.REVERT_FAILED : EXIT.OK;
}
