// SPDX-License-Identifier: Apache-2.0
/**
 * Kernel feature probes that no file under /proc or /sys answers, such as "is there a netem
 * qdisc?" (no loadable modules here, built-in elsewhere). The probe runs in the faultd-stressor
 * helper inside a throwaway network namespace, so it never touches the host's interfaces; each
 * answer is cached for the life of the probe object. The stressor's path and the addon are
 * given by the composition root (src/cli/context.ts): this module loads nothing itself.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { getSystemErrorName } from 'node:util';

import { z } from 'zod';

import type { NativeAddon } from '../native/addon.js';

export interface FeatureSupport {
  readonly supported: boolean;
  /** Why not, in the kernel's words (e.g. `RTM_NEWQDISC ENOENT: Specified qdisc kind is unknown`). */
  readonly reason: string;
}

export interface FeatureProbe {
  qdisc(kind: string): FeatureSupport;
  /** nf_tables through nfnetlink (absent on iptables-legacy-only kernels). */
  nftables(): FeatureSupport;
  /** What the NFQUEUE delayer needs: an nf_tables rule with the xt NFQUEUE target and a bound queue. */
  nfqueue(): FeatureSupport;
  /** What the DNS interceptor's redirect needs: an nf_tables nat chain (output hook) with `redirect to :PORT`. */
  natRedirect(): FeatureSupport;
  /**
   * Whether this build's HTTP interceptor terminates TLS (its usage offers `--tls-cert`), which
   * HTTPS interception needs; absent (older fakes): not supported.
   */
  httpTls?(): FeatureSupport;
  /**
   * Whether signals go through pidfds (pidfd_open + pidfd_send_signal, Linux 5.3+). Unsupported:
   * the addon signals by pid between two start-time checks (the weaker guarantee, see README).
   * Absent (older fakes): not asked.
   */
  pidfd?(): FeatureSupport;
  /**
   * What ingress faults need besides their qdisc: an IFB device (ifb) and an ingress qdisc
   * (sch_ingress). Absent (older fakes): not asked.
   */
  ifb?(): FeatureSupport;
  /**
   * The x_tables (iptables-legacy) backend for where nf_tables is missing: a faultd chain in the
   * filter table of ip_tables and ip6_tables, with the statistic match. Absent (older fakes): no.
   */
  xtables?(): FeatureSupport;
  /** The NFQUEUE delayer through x_tables: a mangle prerouting NFQUEUE rule in both families and a bound queue. */
  xtablesNfqueue?(): FeatureSupport;
}

/** What a stressor probe run printed, or why it could not run. */
export interface ProbeRun {
  readonly stdout: string;
  readonly stderr: string;
  readonly error?: Error;
}

/** What the probes use; nothing is loaded or run before a probe is asked. */
export interface ProbeSources {
  /** Absolute path of the faultd-stressor executable. */
  readonly stressorPath: string;
  /** The addon, asked for only when the nf_tables or the pidfd probe runs. */
  readonly native: () => Pick<NativeAddon, 'nftListChains'> & Partial<Pick<NativeAddon, 'signalPath'>>;
  /** Runs `<stressorPath> <args>` to completion (default: spawnSync with a 5 s timeout). */
  readonly run?: (file: string, args: readonly string[]) => ProbeRun;
}

function spawnProbe(file: string, args: readonly string[]): ProbeRun {
  const result = spawnSync(file, args, { encoding: 'utf8', timeout: 5000 });
  return { stdout: result.stdout ?? '', stderr: result.stderr ?? '', ...(result.error ? { error: result.error } : {}) };
}

const ProbeOutput = z.object({
  supported: z.boolean(),
  probe: z.string().optional(),
  errno: z.number().optional(),
  message: z.string().optional(),
  detail: z.string().optional(),
});

function errnoName(errno: number): string {
  try {
    return getSystemErrorName(-Math.abs(errno));
  } catch {
    return `E${errno}`;
  }
}

/**
 * Runs `faultd-stressor <args>` and reads its verdict. Only `isMissing` (the kernel saying the
 * feature does not exist) means unsupported: any other failure, such as no CAP_SYS_ADMIN for
 * the throwaway namespace, leaves the question open, so the feature is assumed present and a
 * kernel without it fails at apply with the same words.
 */
function probeWithStressor(
  sources: ProbeSources,
  args: readonly string[],
  isMissing: (probe: string | undefined, errno: number | undefined) => boolean,
): FeatureSupport {
  try {
    const result = (sources.run ?? spawnProbe)(sources.stressorPath, args);
    if ((result.error as { code?: string } | undefined)?.code === 'ENOENT') {
      throw new Error(`stressor executable ${sources.stressorPath} is missing: run \`npm run build\``);
    }
    if (result.error) throw result.error;
    const parsed = ProbeOutput.safeParse(JSON.parse(result.stdout.trim().split('\n').pop() ?? '{}'));
    if (!parsed.success) throw new Error(`unexpected probe output: ${result.stdout}${result.stderr}`);
    const p = parsed.data;
    // Node's system-error shape: `RTM_NEWQDISC ENOENT: Specified qdisc kind is unknown`.
    const code = p.errno === undefined ? '' : ` ${errnoName(p.errno)}`;
    const detail = p.detail || p.message;
    const reason = `${p.probe ?? 'probe'}${code}${detail ? `: ${detail}` : ''}`;
    if (p.supported) return { supported: true, reason: '' };
    return isMissing(p.probe, p.errno) ? { supported: false, reason } : { supported: true, reason: `not probed (${reason}); assumed present` };
  } catch (error) {
    return { supported: false, reason: `the probe could not run: ${error instanceof Error ? error.message : String(error)}` };
  }
}

const ENOENT = 2;
const EOPNOTSUPP = 95;
const EPROTONOSUPPORT = 93;

/** Probes through the stressor binary and the addon of `sources`; results are cached per kind. */
export function kernelFeatureProbe(sources: ProbeSources): FeatureProbe {
  const cache = new Map<string, FeatureSupport>();
  const cached = (key: string, probe: () => FeatureSupport): FeatureSupport => {
    const known = cache.get(key) ?? probe();
    cache.set(key, known);
    return known;
  };
  return {
    qdisc: (kind) =>
      cached(`qdisc:${kind}`, () => probeWithStressor(sources, ['probe-qdisc', kind], (probe, errno) => probe === 'RTM_NEWQDISC' && (errno === ENOENT || errno === EOPNOTSUPP))),
    // NFT_MSG_NEWRULE ENOENT: no nft_compat or no xt_NFQUEUE; NFQNL_MSG_CONFIG: no nfnetlink_queue.
    nfqueue: () =>
      cached('nfqueue', () =>
        withNftables(sources, cached, () =>
          probeWithStressor(sources, ['probe-nfqueue'], (probe, errno) =>
            (probe === 'NFT_MSG_NEWRULE' || probe === 'NFQNL_MSG_CONFIG' || probe === 'sendmsg') && (errno === ENOENT || errno === EOPNOTSUPP || errno === EPROTONOSUPPORT),
          ),
        ),
      ),
    nftables: () => cached('nf_tables', () => probeNftables(sources)),
    pidfd: () => cached('pidfd', () => probePidfd(sources)),
    // NFT_MSG_NEWCHAIN ENOENT/EOPNOTSUPP: no nat chain type (nf_nat, nft_chain_nat); NEWRULE: no nft_redir.
    httpTls: () => cached('http-tls', () => probeHttpTls(sources)),
    natRedirect: () =>
      cached('nat-redirect', () =>
        withNftables(sources, cached, () =>
          probeWithStressor(sources, ['probe-nat-redirect'], (probe, errno) =>
            (probe === 'NFT_MSG_NEWRULE' || probe === 'NFT_MSG_NEWCHAIN' || probe === 'sendmsg') && (errno === ENOENT || errno === EOPNOTSUPP || errno === EPROTONOSUPPORT),
          ),
        ),
      ),
    // getsockopt ENOPROTOOPT: no ip_tables/ip6_tables; ENOENT: no such table, or (setsockopt) no
    // statistic or NFQUEUE extension; sendmsg: no nfnetlink_queue.
    xtables: () => cached('xtables', () => probeWithStressor(sources, ['probe-xtables'], isXtablesMissing)),
    xtablesNfqueue: () => cached('xtables-nfqueue', () => probeWithStressor(sources, ['probe-xtables', 'nfqueue'], isXtablesMissing)),
    // RTM_NEWLINK EOPNOTSUPP: "Unknown device type" (no ifb); RTM_NEWQDISC ENOENT: no sch_ingress.
    ifb: () =>
      cached('ifb', () =>
        probeWithStressor(sources, ['probe-ifb'], (probe, errno) => (probe === 'RTM_NEWLINK' || probe === 'RTM_NEWQDISC') && (errno === ENOENT || errno === EOPNOTSUPP)),
      ),
  };
}

const ENOPROTOOPT = 92;
const EAFNOSUPPORT = 97;

function isXtablesMissing(probe: string | undefined, errno: number | undefined): boolean {
  const missing = [ENOENT, ENOPROTOOPT, EOPNOTSUPP, EPROTONOSUPPORT, EAFNOSUPPORT];
  return (probe === 'getsockopt' || probe === 'setsockopt' || probe === 'socket' || probe === 'sendmsg' || probe === 'NFQNL_MSG_CONFIG') && errno !== undefined && missing.includes(errno);
}

/**
 * A feature built on nf_tables is missing where nf_tables is (an iptables-legacy-only kernel),
 * whatever error its own probe would stop at; only then is that probe run.
 */
function withNftables(sources: ProbeSources, cached: (key: string, probe: () => FeatureSupport) => FeatureSupport, probe: () => FeatureSupport): FeatureSupport {
  const nft = cached('nf_tables', () => probeNftables(sources));
  return nft.supported ? probe() : { supported: false, reason: `needs nf_tables: ${nft.reason}` };
}

/** The stressor's `http` usage (printed for missing arguments) names `--tls-cert` once TLS termination is built in. */
function probeHttpTls(sources: ProbeSources): FeatureSupport {
  const result = (sources.run ?? spawnProbe)(sources.stressorPath, ['http']);
  if (result.error) return { supported: false, reason: `the probe could not run: ${result.error.message}` };
  const usage = `${result.stdout}${result.stderr}`;
  if (!usage.includes('usage: faultd-stressor http')) return { supported: false, reason: 'this faultd-stressor has no http mode' };
  return usage.includes('--tls-cert') ? { supported: true, reason: '' } : { supported: false, reason: 'this faultd-stressor\'s HTTP interceptor does not terminate TLS (no --tls-cert)' };
}

function probeNftables(sources: ProbeSources): FeatureSupport {
  try {
    sources.native().nftListChains('faultd'); // read-only: lists chains of a table that may not exist
    return { supported: true, reason: '' };
  } catch (error) {
    const code = (error as { code?: string }).code;
    const message = error instanceof Error ? error.message : String(error);
    // EOPNOTSUPP/EPROTONOSUPPORT: no nf_tables subsystem. Anything else (EPERM without
    // CAP_NET_ADMIN) says nothing about the kernel.
    if (code === 'EOPNOTSUPP' || code === 'EPROTONOSUPPORT' || code === 'ENOTSUP') {
      const legacy = existsSync('/proc/net/ip_tables_names') ? '; iptables-legacy is loaded: this looks like an iptables-legacy-only host' : '';
      return { supported: false, reason: `${message}${legacy}` };
    }
    return { supported: true, reason: `not probed (${message}); assumed present` };
  }
}

/** The addon tries pidfd_open(2) on its own pid: ENOSYS (before Linux 5.3) or EPERM (a seccomp filter older than it) mean no pidfds. */
function probePidfd(sources: ProbeSources): FeatureSupport {
  try {
    const path = sources.native().signalPath?.();
    if (path === undefined) return { supported: true, reason: 'not probed (this addon has no signalPath); assumed present' };
    if (path === 'pidfd') return { supported: true, reason: '' };
    return { supported: false, reason: 'pidfd_open ENOSYS or EPERM (kernel before 5.3, or a seccomp filter that predates it)' };
  } catch (error) {
    return { supported: false, reason: `the probe could not run: ${error instanceof Error ? error.message : String(error)}` };
  }
}

/** The doctor line and process-fault note for a pidfd verdict. */
export function signalPathNote(pidfd: FeatureSupport | undefined): string {
  if (!pidfd || pidfd.supported) return 'signals through pidfds (pidfd_open + pidfd_send_signal) opened after checking the start time: race-free';
  return `no pidfds here (${pidfd.reason}): signals by pid with the start time checked immediately before and after kill(2); a pid reused within those microseconds could be hit (see README, "Kernels without pidfd")`;
}

/**
 * Tests only: `FAULTD_TEST_MISSING_FEATURES=pidfd,ifb,nftables,…` makes the probes report those
 * features missing on a kernel that has them, so each fallback and refusal runs here as it would
 * on an older kernel. `qdisc:<kind>` for a qdisc kind; nftables takes nfqueue and natRedirect
 * with it (both are built on it), xtables takes xtablesNfqueue. `nftables` alone is an
 * iptables-legacy-only host (the x_tables backend is used); `nftables,xtables` has no packet filter.
 */
export const MISSING_FEATURES_ENV = 'FAULTD_TEST_MISSING_FEATURES';

const FORCIBLE = ['pidfd', 'ifb', 'nftables', 'nfqueue', 'natRedirect', 'httpTls', 'xtables', 'xtablesNfqueue'] as const;

/** The names of `spec` (comma separated); an unknown name throws, naming the known ones. */
export function parseMissingFeatures(spec: string | undefined): ReadonlySet<string> {
  const names = (spec ?? '').split(',').map((n) => n.trim()).filter(Boolean);
  for (const name of names) {
    if (!(FORCIBLE as readonly string[]).includes(name) && !/^qdisc:[a-z_]+$/.test(name)) {
      throw new Error(`${MISSING_FEATURES_ENV}: unknown feature "${name}" (one of ${FORCIBLE.join(', ')}, qdisc:<kind>)`);
    }
  }
  return new Set(names);
}

/** `probe` with the features of `missing` reported absent (see MISSING_FEATURES_ENV). */
export function withForcedMissing(probe: FeatureProbe, missing: ReadonlySet<string>): FeatureProbe {
  if (!missing.size) return probe;
  const forced = (name: string): FeatureSupport => ({ supported: false, reason: `forced missing by ${MISSING_FEATURES_ENV}=${name} (tests)` });
  const nft = (answer: () => FeatureSupport): FeatureSupport => (missing.has('nftables') ? { supported: false, reason: `needs nf_tables: ${forced('nftables').reason}` } : answer());
  const pick = (name: string, answer: (() => FeatureSupport) | undefined): (() => FeatureSupport) | undefined =>
    missing.has(name) ? () => forced(name) : answer;
  const pidfd = pick('pidfd', probe.pidfd?.bind(probe));
  const ifb = pick('ifb', probe.ifb?.bind(probe));
  const httpTls = pick('httpTls', probe.httpTls?.bind(probe));
  const xtables = pick('xtables', probe.xtables?.bind(probe));
  const xtablesNfqueue = missing.has('xtables') ? () => ({ supported: false, reason: `needs x_tables: ${forced('xtables').reason}` }) : pick('xtablesNfqueue', probe.xtablesNfqueue?.bind(probe));
  return {
    qdisc: (kind) => (missing.has(`qdisc:${kind}`) ? forced(`qdisc:${kind}`) : probe.qdisc(kind)),
    nftables: () => (missing.has('nftables') ? forced('nftables') : probe.nftables()),
    nfqueue: () => nft(() => (missing.has('nfqueue') ? forced('nfqueue') : probe.nfqueue())),
    natRedirect: () => nft(() => (missing.has('natRedirect') ? forced('natRedirect') : probe.natRedirect())),
    ...(pidfd ? { pidfd } : {}),
    ...(ifb ? { ifb } : {}),
    ...(httpTls ? { httpTls } : {}),
    ...(xtables ? { xtables } : {}),
    ...(xtablesNfqueue ? { xtablesNfqueue } : {}),
  };
}
