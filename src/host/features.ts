// SPDX-License-Identifier: Apache-2.0
/**
 * Kernel feature probes that no file under /proc or /sys answers, such as "is there a netem
 * qdisc?" (no loadable modules here, built-in elsewhere). The probe runs in the faultd-stressor
 * helper inside a throwaway network namespace, so it never touches the host's interfaces; each
 * answer is cached for the life of the process.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { getSystemErrorName } from 'node:util';

import { z } from 'zod';

import { loadNative, stressorPath } from '../native/load.js';

export interface FeatureSupport {
  readonly supported: boolean;
  /** Why not, in the kernel's words (e.g. `RTM_NEWQDISC ENOENT: Specified qdisc kind is unknown`). */
  readonly reason: string;
}

export interface FeatureProbe {
  qdisc(kind: string): FeatureSupport;
  /** nf_tables through nfnetlink (absent on iptables-legacy-only kernels). */
  nftables(): FeatureSupport;
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

/** Probes through the stressor binary; results are cached per kind. */
export function kernelFeatureProbe(): FeatureProbe {
  const cache = new Map<string, FeatureSupport>();
  return {
    qdisc(kind) {
      const cached = cache.get(kind);
      if (cached) return cached;
      let support: FeatureSupport;
      try {
        const result = spawnSync(stressorPath(), ['probe-qdisc', kind], { encoding: 'utf8', timeout: 5000 });
        const parsed = ProbeOutput.safeParse(JSON.parse(result.stdout.trim().split('\n').pop() ?? '{}'));
        if (!parsed.success) throw new Error(`unexpected probe output: ${result.stdout}${result.stderr}`);
        const p = parsed.data;
        // Node's system-error shape: `RTM_NEWQDISC ENOENT: Specified qdisc kind is unknown`.
        const code = p.errno === undefined ? '' : ` ${errnoName(p.errno)}`;
        const detail = p.detail || p.message;
        const reason = `${p.probe ?? 'probe'}${code}${detail ? `: ${detail}` : ''}`;
        // Only the kernel saying it has no such qdisc means missing. Anything else (no
        // CAP_SYS_ADMIN for the throwaway namespace, say) leaves the question open: assume
        // present, and a kernel without it fails at apply with the same words.
        const missing = !p.supported && p.probe === 'RTM_NEWQDISC' && (p.errno === 2 || p.errno === 95);
        support = p.supported || !missing ? { supported: true, reason: p.supported ? '' : `not probed (${reason}); assumed present` } : { supported: false, reason };
      } catch (error) {
        support = { supported: false, reason: `the probe could not run: ${error instanceof Error ? error.message : String(error)}` };
      }
      cache.set(kind, support);
      return support;
    },
    nftables() {
      const cached = cache.get('nf_tables');
      if (cached) return cached;
      let support: FeatureSupport = { supported: true, reason: '' };
      try {
        loadNative().nftListChains('faultd'); // read-only: lists chains of a table that may not exist
      } catch (error) {
        const code = (error as { code?: string }).code;
        const message = error instanceof Error ? error.message : String(error);
        // EOPNOTSUPP/EPROTONOSUPPORT: no nf_tables subsystem. Anything else (EPERM without
        // CAP_NET_ADMIN) says nothing about the kernel.
        if (code === 'EOPNOTSUPP' || code === 'EPROTONOSUPPORT' || code === 'ENOTSUP') {
          const legacy = existsSync('/proc/net/ip_tables_names') ? '; iptables-legacy is loaded: this looks like an iptables-legacy-only host' : '';
          support = { supported: false, reason: `${message}${legacy}` };
        } else {
          support = { supported: true, reason: `not probed (${message}); assumed present` };
        }
      }
      cache.set('nf_tables', support);
      return support;
    },
  };
}
