// SPDX-License-Identifier: Apache-2.0
/** `faultd doctor`: for every fault kind, whether this host supports it and why not. */
import { release } from 'node:os';

import { CAP, hasCapability } from '../host/facts.js';
import { signalPathNote } from '../host/features.js';
import { readFirewallFacts } from '../host/firewall.js';
import { formatBytes } from '../units.js';
import { faultContext, type CommandEnv } from './context.js';
import { EXIT, type ExitCode } from './exit-codes.js';

export function doctorCommand(flags: { json: boolean }, env: CommandEnv): ExitCode {
  const ctx = faultContext(env);
  const memlock = ctx.native.memlockLimit();
  const host = {
    kernel: release(),
    root: ctx.host.isRoot,
    capabilities: Object.fromEntries(Object.entries(CAP).map(([name, bit]) => [`CAP_${name}`, hasCapability(ctx.host, bit)])),
    cgroups: ctx.cgroups.mode,
    onlineCpus: ctx.host.onlineCpus.length,
    memAvailable: formatBytes(ctx.host.memAvailableBytes),
    memlockLimit: memlock.soft === null ? 'unlimited' : formatBytes(memlock.soft),
    firewall: readFirewallFacts(ctx.procRoot, ctx.features.nftables(), ctx.features.nftables().supported ? undefined : ctx.features.xtables?.()),
    signals: ctx.features.pidfd?.().supported === false ? 'pid-start-checked' : 'pidfd',
    safety: {
      controlPlane: ctx.network.safety.controlPlane.map((e) => e.target.address),
      excludeIPs: ctx.network.safety.configured.map((e) => `${e.target.address}/${e.target.prefixLen}`),
      sshPorts: ctx.network.safety.sshPorts,
    },
  };
  const faults = [...env.registry.values()].map((m) => ({ kind: m.kind, ...m.support(ctx) }));
  if (flags.json) {
    env.print(JSON.stringify({ host, faults }, null, 2));
    return EXIT.OK;
  }
  const caps = Object.entries(host.capabilities).filter(([, has]) => has).map(([name]) => name);
  const out = [
    `Host: kernel ${host.kernel}, ${host.root ? 'root' : 'not root'}, cgroups ${host.cgroups}, ${host.onlineCpus} CPUs, MemAvailable ${host.memAvailable}, RLIMIT_MEMLOCK ${host.memlockLimit}`,
    `Capabilities: ${caps.join(' ') || 'none of the ones faults use'}`,
    `Firewall: ${host.firewall.summary}`,
    `Signals: ${signalPathNote(ctx.features.pidfd?.())}`,
    `Kept out of network faults: control plane ${host.safety.controlPlane.join(', ') || '(none configured)'}; safety.excludeIPs ${host.safety.excludeIPs.join(', ') || '(none)'}; SSH ports ${host.safety.sshPorts.join(', ')}`,
    '',
  ];
  for (const f of faults) {
    out.push(`${f.supported ? 'OK ' : 'NO '} ${f.kind}`, ...f.notes.map((n) => `     ${n}`));
  }
  env.print(out.join('\n'));
  return EXIT.OK;
}
