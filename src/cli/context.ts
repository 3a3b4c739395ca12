// SPDX-License-Identifier: Apache-2.0
/** What every command gets from the composition root, and how it builds host contexts. */
import type { Logger } from 'pino';

import type { Registry } from '../faults/registry.js';
import type { FaultContext, Limits, ValidationContext } from '../faults/types.js';
import { detectCgroupLayout } from '../host/cgroup.js';
import { readHostFacts, REAL_ROOTS } from '../host/facts.js';
import { kernelFeatureProbe, MISSING_FEATURES_ENV, parseMissingFeatures, withForcedMissing } from '../host/features.js';
import { Session } from '../engine/session.js';
import { Ledger } from '../ledger/ledger.js';
import { loadNative, stressorFile } from '../native/load.js';
import type { NativeAddon } from '../native/addon.js';
import type { FeatureProbe } from '../host/features.js';
import type { Owner } from '../ledger/record.js';
import { readNetworkContext } from '../faults/network/context.js';
import type { NetworkSafety } from '../net/network-safety.js';
import type { Config } from '../config/config.js';
import type { Experiment } from '../experiment/schema.js';
import { createCheck } from '../probes/checks/index.js';
import { resolveCmdUser } from '../probes/checks/cmd-user.js';
import type { CheckEnvironment, CheckSpec, ProbeCheck } from '../probes/types.js';
import type { Terminal } from './terminal.js';

export interface GlobalOptions {
  readonly stateDir: string;
  readonly logFormat: 'text' | 'json';
  readonly limits: Limits;
  /** From the configuration file: what no network fault may touch. */
  readonly safety: NetworkSafety;
  /** The configuration file as read (defaults for commands that do not read it). */
  readonly config: Config;
  readonly configPath: string;
  readonly version: string;
}

export interface CommandEnv {
  readonly options: GlobalOptions;
  readonly registry: Registry;
  readonly logger: Logger;
  readonly terminal: Terminal;
  /** Writes command output (tables, summaries) to stdout. */
  print(text: string): void;
}

/** Host facts, limits and the kernel feature probes (which load the addon only when one runs). */
export function validationContext(env: CommandEnv): ValidationContext {
  return {
    host: readHostFacts(REAL_ROOTS),
    limits: env.options.limits,
    features: withForcedMissing(kernelFeatureProbe({ stressorPath: stressorFile(), native: loadNative }), parseMissingFeatures(process.env[MISSING_FEATURES_ENV])),
    network: readNetworkContext(env.options.safety, REAL_ROOTS),
  };
}

/** The full context for commands that touch the host (loads the native addon). */
export function faultContext(env: CommandEnv): FaultContext {
  const validation = validationContext(env);
  return {
    ...validation,
    native: signallingAsProbed(loadNative(), validation.features),
    stressorPath: stressorFile(),
    cgroups: detectCgroupLayout(REAL_ROOTS.proc),
    logger: env.logger,
    procRoot: REAL_ROOTS.proc,
  };
}

/**
 * Where the probe reports no pidfds only because a test forced it (MISSING_FEATURES_ENV), the
 * faults signal as on such a kernel: through the addon's kill(2) path. On a real old kernel the
 * addon falls back by itself, so this changes nothing there.
 */
function signallingAsProbed(native: NativeAddon, features: FeatureProbe): NativeAddon {
  if (features.pidfd?.().supported !== false) return native;
  return { ...native, killProcess: (pid, startTime, signal) => native.killProcess(pid, startTime, signal, 'pid-start-checked') };
}

export function openLedger(env: CommandEnv): Ledger {
  return new Ledger(env.options.stateDir, loadNative());
}

/** This process as a ledger owner. */
export function selfOwner(ctx: FaultContext): Owner {
  return { pid: process.pid, startTime: ctx.native.processStartTime(process.pid) ?? 0 };
}

/**
 * Makes probe checks; command probes run as the configuration's `probes.user`, looked up at the
 * first command check (a missing user, or root without `probes.allowRoot`, is FAULTD_ERR_PROBE_USER).
 */
export function probeCheckFactory(config: Config): (spec: CheckSpec) => ProbeCheck {
  let cmdUser: CheckEnvironment['cmdUser'] | undefined;
  return (spec) => {
    if (spec.type === 'cmd') cmdUser ??= resolveCmdUser(config.probes);
    // Only command checks read the user; the others get a placeholder that nothing uses.
    return createCheck(spec, { cmdUser: cmdUser ?? NO_CMD_USER });
  };
}

const NO_CMD_USER: CheckEnvironment['cmdUser'] = { name: '-', uid: -1, gid: -1 };

/** Refuses, before anything starts, an experiment whose command probes cannot run as `probes.user`. */
export function assertProbeUser(experiment: Experiment, config: Config): void {
  if (experiment.probes.some((p) => p.check.type === 'cmd')) resolveCmdUser(config.probes);
}

/** A session on this host's ledger for a command that applies or reverts faults. */
export function openSession(env: CommandEnv, ctx: FaultContext, options: { onCrash?: () => void } = {}): Session {
  return new Session({ ledger: openLedger(env), registry: env.registry, ctx, owner: selfOwner(ctx), logger: env.logger, createCheck: probeCheckFactory(env.options.config), ...options });
}
