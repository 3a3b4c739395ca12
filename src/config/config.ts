// SPDX-License-Identifier: Apache-2.0
/**
 * The faultd configuration file (`/etc/faultd/config.yaml`, or `--config` / FAULTD_CONFIG):
 * what holds for every experiment on this host. The control plane's address (so that no
 * fault ever cuts it) and the safety exclusions. The agent's connection settings (hub, agent) live
 * here too. Unknown keys are refused, so a typo never silently drops a safety setting.
 */
import { readFileSync } from 'node:fs';

import { z } from 'zod';

import { NO_PROXY_VALUE, parseProxyUrl } from '../net/hub-proxy.js';
import { FaultdError, messageOf } from '../errors.js';
import { parseIpTargets } from '../net/addresses.js';
import { DEFAULT_SSH_PORTS } from '../net/network-safety.js';
import { formatDurationMs, parseDurationMs } from '../units.js';
import { parseYamlInput } from '../yaml-input.js';

export const DEFAULT_CONFIG_PATH = '/etc/faultd/config.yaml';
const MAX_CONFIG_BYTES = 256 * 1024;

const ipList = z.union([z.string(), z.array(z.string())]).transform((value, c) => {
  try {
    return parseIpTargets(value);
  } catch (error) {
    c.addIssue({ code: 'custom', message: messageOf(error) });
    return z.NEVER;
  }
});

/** A duration (`"30s"`, `"2m"`, or seconds as a number) in ms, within [min, max] ms. */
function duration(minMs: number, maxMs: number) {
  return z.union([z.string(), z.number()]).transform((value, c) => {
    const ms = parseDurationMs(value);
    if (ms === undefined || ms < minMs || ms > maxMs) {
      c.addIssue({ code: 'custom', input: value, message: `must be a duration in ${formatDurationMs(minMs)}–${formatDurationMs(maxMs)} (e.g. "30s")` });
      return z.NEVER;
    }
    return ms;
  });
}

export const ConfigSchema = z.strictObject({
  hub: z
    .strictObject({
      /** The control plane; its addresses are excluded from every network fault. */
      url: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL such as https://hub.example.com:8443' }),
      /** The agent's identity and credentials (`faultd agent`). */
      infraId: z.string().min(1).max(64).optional(),
      /** File holding the access key; must be mode 0600 (the agent rewrites it on key rotation). */
      accessKeyFile: z.string().min(1).optional(),
      /** CA certificate(s) that signed the hub's certificate (default: the system's). */
      caFile: z.string().min(1).optional(),
      /** SHA-256 fingerprint of the hub's certificate, e.g. `AB:CD:…` (hex, colons optional). */
      pinSha256: z
        .string()
        .regex(/^([0-9A-Fa-f]{2}:?){31}[0-9A-Fa-f]{2}$/, 'must be 32 hex bytes, colons optional')
        .optional(),
      clientCertFile: z.string().min(1).optional(),
      clientKeyFile: z.string().min(1).optional(),
      /** Allows an `http://` url: the access key and tokens cross the network unencrypted (tests only). */
      insecure: z.boolean({ error: 'must be true or false' }).default(false),
      /**
       * An HTTP forward proxy for the agent's connection to the hub (`http://host:port`; a CONNECT
       * tunnel, TLS to the hub end to end), or `none` for a direct connection whatever HTTPS_PROXY
       * says. Unset: the environment's proxy (net/hub-proxy.ts).
       */
      proxy: z
        .string({ error: 'must be an http:// URL such as http://proxy.example.com:3128, or none' })
        .superRefine((value, c) => {
          if (value === NO_PROXY_VALUE) return;
          const parsed = parseProxyUrl(value);
          if ('problem' in parsed) c.addIssue({ code: 'custom', message: parsed.problem });
        })
        .optional(),
      /** Bound on connecting to the hub (through the proxy, if any) and on each wait for its answer (default 10 s). */
      requestTimeout: duration(1_000, 120_000).optional(),
    })
    .refine((hub) => (hub.clientCertFile === undefined) === (hub.clientKeyFile === undefined), {
      message: 'clientCertFile and clientKeyFile go together',
      path: ['clientKeyFile'],
    })
    .superRefine((hub, c) => {
      if (!hub.url.startsWith('http:')) return;
      if (!hub.insecure) {
        c.addIssue({ code: 'custom', path: ['url'], message: 'is plain http://: the agent\'s access key and tokens would cross the network unencrypted. Use https://, or set hub.insecure: true (tests only)' });
      }
      const tls = (['caFile', 'pinSha256', 'clientCertFile', 'clientKeyFile'] as const).filter((key) => hub[key] !== undefined);
      if (tls.length) c.addIssue({ code: 'custom', path: [tls[0] ?? 'url'], message: `${tls.join(', ')} ${tls.length > 1 ? 'are TLS settings' : 'is a TLS setting'}, but hub.url is plain http:// (it would be ignored): use https://, or drop them` });
    })
    .optional(),
  /** `faultd agent` timing. */
  agent: z
    .strictObject({
      /** Heartbeat period while idle. */
      heartbeatInterval: duration(1_000, 300_000).default(10_000),
      /** Heartbeat period while a run executes: bounds how late an abort arrives from a hub without the abort call. */
      runningHeartbeatInterval: duration(500, 60_000).default(2_000),
      /**
       * Hold the abort call (GET /v1/runs/{id}/abort) open while a run executes, so an abort
       * arrives at once; false leaves aborts to the heartbeat (a control plane without the call
       * needs nothing: it answers 404 and the agent stops asking).
       */
      abortCall: z.boolean().default(true),
      /** How long one task poll waits at the hub. */
      pollWait: duration(0, 30_000).default(25_000),
      /** With no successful exchange with the hub for this long, a running experiment is aborted and reverted. */
      disconnectTimeout: duration(5_000, 3_600_000).default(60_000),
    })
    .default({ heartbeatInterval: 10_000, runningHeartbeatInterval: 2_000, abortCall: true, pollWait: 25_000, disconnectTimeout: 60_000 }),
  safety: z
    .strictObject({
      /** Addresses/CIDRs no network fault may touch (e.g. a bastion, a monitoring system). */
      excludeIPs: ipList.default([]),
      /** This host's SSH ports, kept reachable by the network faults' `whitelistSSH`. */
      sshPorts: z.array(z.number().int().min(1).max(65535)).min(1).max(16).default([...DEFAULT_SSH_PORTS]),
    })
    .default({ excludeIPs: [], sshPorts: [...DEFAULT_SSH_PORTS] }),
  /** Steady-state probes of experiments (`probes` in faultd/v1). */
  probes: z
    .strictObject({
      /** The user `cmd` probes run as (their supplementary groups are dropped). */
      user: z.string().regex(/^[a-z_][a-z0-9_.-]{0,31}\$?$/i, 'must be a user name such as nobody').default('nobody'),
      /** Lets `probes.user` be root (uid 0): a command probe then runs with every privilege faultd has. */
      allowRoot: z.boolean({ error: 'must be true or false' }).default(false),
    })
    .default({ user: 'nobody', allowRoot: false }),
});
export type Config = z.infer<typeof ConfigSchema>;

export const DEFAULT_CONFIG: Config = ConfigSchema.parse({});

/**
 * Reads the configuration. A missing file at the default path means the defaults; a missing
 * file that was asked for explicitly is an error.
 */
export function loadConfig(path: string, explicit: boolean): Config {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if (!explicit && (error as { code?: string }).code === 'ENOENT') return DEFAULT_CONFIG;
    throw new FaultdError('FAULTD_ERR_CONFIG', `cannot read ${path}: ${messageOf(error)}`, { cause: error });
  }
  if (text.length > MAX_CONFIG_BYTES) throw new FaultdError('FAULTD_ERR_CONFIG', `${path} is larger than ${MAX_CONFIG_BYTES} bytes`);
  const result = ConfigSchema.safeParse(parseYamlInput(text, path, 'FAULTD_ERR_CONFIG') ?? {});
  if (!result.success) {
    const lines = result.error.issues.map((issue) => `  ${issue.path.join('.') || '(top level)'}: ${issue.message}`);
    throw new FaultdError('FAULTD_ERR_CONFIG', `${path} is not a valid faultd configuration:\n${lines.join('\n')}`);
  }
  return result.data;
}

