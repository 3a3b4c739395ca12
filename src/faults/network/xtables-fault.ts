// SPDX-License-Identifier: Apache-2.0
/**
 * The x_tables mechanism of the network faults, for iptables-legacy-only hosts (no nf_tables):
 * the same rules nft-fault.ts builds (exemptions first, then drops or the queue), translated into
 * faultd's own user chains `FAULTD-<16 hex>-<in|out|pre>`, one per hook and family, in the filter
 * table (mangle for the delayer's prerouting), each with a jump as the first rule of its built-in
 * chain. Each chain and its jump are one IPT_SO_SET_REPLACE (IP6T_SO_* for IPv6), read back and
 * compared. Revert removes the chain and its jump (every other entry byte for byte) and checks
 * the table no longer has it; it is idempotent, and the ledger intent names every chain before any
 * is added, so `faultd revert --remnants` removes what a killed faultd left.
 */
import { z } from 'zod';

import { messageOf } from '../../errors.js';
import { legacyTableLoaded } from '../../host/firewall.js';
import type { NftRuleSpec, XtablesChainSpec, XtablesRuleSpec } from '../../native/addon.js';
import { RevertError, type FaultContext, type Planned, type RevertOutcome } from '../types.js';
import type { NetworkFaultContext } from './context.js';
import { chainRules, describeRule, hooksOf, type Hook, type NftFaultRequest } from './nft-fault.js';
import { fnv1a32 } from './tc-handles.js';

/** Bound on rules per chain, as nf_tables' (the addon takes up to 1024). */
const MAX_RULES = 512;

const Family = z.union([z.literal(4), z.literal(6)]);
type Family = z.infer<typeof Family>;

export const XtablesRevertSchema = z.object({
  backend: z.literal('xtables'),
  bootId: z.string(),
  chains: z.array(z.object({ family: Family, table: z.string(), chain: z.string(), hook: z.enum(['prerouting', 'input', 'output']) })),
});
export type XtablesRevert = z.infer<typeof XtablesRevertSchema>;

const CHAIN_SUFFIX: Record<Hook, string> = { prerouting: 'pre', input: 'in', output: 'out' };

/**
 * `FAULTD-<16 hex>-<in|out|pre>` (at most 27 bytes, within iptables' 28 whatever the fault id's
 * length): 64 bits of hash, so two faults' chains do not meet by chance (an apply refused with
 * EEXIST would have its revert remove the other fault's chain).
 */
export function xtablesChainName(faultId: string, hook: Hook): string {
  const hex = (n: number) => n.toString(16).padStart(8, '0');
  return `FAULTD-${hex(fnv1a32(faultId))}${hex(fnv1a32(`${faultId}\0faultd`))}-${CHAIN_SUFFIX[hook]}`;
}

/** The families a rule applies to: its address's, its ipVersion's, its ICMP's, or both. */
function familiesOf(rule: NftRuleSpec): Family[] {
  if (rule.address) return [rule.address.includes(':') ? 6 : 4];
  if (rule.ipVersion === 4 || rule.ipVersion === 6) return [rule.ipVersion];
  if (rule.l4proto === 'icmp') return [4];
  if (rule.l4proto === 'icmpv6') return [6];
  return [4, 6];
}

/**
 * One nf_tables rule as x_tables rules (one per family it applies to). The interface is the
 * output interface on the output hook, the input interface on the others (as nft's iifname /
 * oifname). Throws for what x_tables cannot say here (a mark, a socket owner, a redirect): no
 * kind that runs on x_tables uses them.
 */
export function xtablesRules(rule: NftRuleSpec, hook: Hook): { family: Family; rule: XtablesRuleSpec }[] {
  if (rule.mark !== undefined || rule.skuid !== undefined || rule.verdict === 'redirect') {
    throw new Error(`the x_tables backend has no ${rule.verdict === 'redirect' ? 'redirect' : rule.mark !== undefined ? 'mark match' : 'socket owner match'}`);
  }
  const out: XtablesRuleSpec = {
    ...(rule.address ? { address: rule.address, prefixLen: rule.prefixLen ?? (rule.address.includes(':') ? 128 : 32), matchSourceAddress: rule.matchSourceAddress ?? false } : {}),
    ...(rule.l4proto ? { l4proto: rule.l4proto } : {}),
    ...(rule.port ? { port: rule.port, matchSourcePort: rule.matchSourcePort ?? false } : {}),
    ...(rule.ifname ? (hook === 'output' ? { outInterface: rule.ifname } : { inInterface: rule.ifname }) : {}),
    ...(rule.percent !== undefined && rule.percent < 100 ? { percent: rule.percent } : {}),
    verdict: rule.verdict,
    ...(rule.verdict === 'queue' ? { queueNum: rule.queueNum ?? 0 } : {}),
  };
  return familiesOf(rule).map((family) => ({ family, rule: out }));
}

export interface XtablesChainPlan extends XtablesChainSpec {
  readonly family: Family;
  readonly table: string;
  readonly hook: Hook;
  /** The nf_tables rules this chain says, for the plan's text. */
  readonly described: readonly string[];
}

/**
 * The chains of a request: for each hook and family, the translated rules. A family whose rules
 * would only exempt (accept) gets no chain: nothing of the fault applies to it, and its table is
 * left alone.
 */
export function xtablesChains(r: NftFaultRequest): XtablesChainPlan[] {
  const chains: XtablesChainPlan[] = [];
  for (const hook of hooksOf(r)) {
    const source = chainRules(r, hook);
    for (const family of [4, 6] as const) {
      const picked = source.flatMap((rule) => xtablesRules(rule, hook).filter((x) => x.family === family).map((x) => ({ nft: rule, xt: x.rule })));
      if (!picked.some((p) => p.xt.verdict !== 'accept')) continue;
      if (picked.length > MAX_RULES) throw new Error(`the targets expand to ${picked.length} rules, more than ${MAX_RULES}`);
      chains.push({
        family,
        table: hook === 'prerouting' ? 'mangle' : 'filter',
        chain: xtablesChainName(r.faultId, hook),
        hook,
        hooks: [hook],
        rules: picked.map((p) => p.xt),
        described: picked.map((p) => describeRule(p.nft)),
      });
    }
  }
  return chains;
}

const TOOL: Record<Family, string> = { 4: 'iptables-legacy', 6: 'ip6tables-legacy' };

function where(c: { family: Family; table: string; chain: string }): string {
  return `${TOOL[c.family]} -t ${c.table} chain ${c.chain}`;
}

export function planXtablesFault(r: NftFaultRequest, ctx: NetworkFaultContext, target: string): Planned<XtablesRevert> {
  const chains = xtablesChains(r);
  const revert: XtablesRevert = { backend: 'xtables', bootId: ctx.host.bootId, chains: chains.map(({ family, table, chain, hook }) => ({ family, table, chain, hook })) };
  return {
    target,
    changes: chains.flatMap((c) => [
      `x_tables (nf_tables is missing): add ${where(c)} with ${c.rules.length} rule(s) and \`-I ${c.hook.toUpperCase()} -j ${c.chain}\`, one IP${c.family === 6 ? '6' : ''}T_SO_SET_REPLACE:`,
      ...c.described.map((d) => `  ${d}`),
    ]),
    revertSteps: chains.map((c) => `remove ${where(c)} and its jump (one replacement; every other entry stays byte for byte)`),
    revert,
    async apply(recordApplied) {
      // The intent (every chain's name) is in the ledger: a failure half way is undone by the revert.
      for (const c of chains) ctx.native.xtablesAddChain({ family: c.family, table: c.table, chain: c.chain, hooks: c.hooks, rules: c.rules });
      await recordApplied(revert);
      return { measure: () => `${chains.reduce((n, c) => n + c.rules.length, 0)} x_tables rule(s) active`, ended: new Promise<string>(() => undefined) };
    },
  };
}

/** What a revert reads: the context, and /proc to skip tables that were never brought up. */
export type XtablesRevertContext = NetworkFaultContext & Partial<Pick<FaultContext, 'procRoot'>>;

export function revertXtablesFault(record: XtablesRevert, ctx: XtablesRevertContext): Promise<RevertOutcome> {
  return Promise.resolve().then(() => removeChains(record, ctx));
}

/** The kernel has no such table (ENOENT) or no x_tables of that family (ENOPROTOOPT): so no chain in it. */
function noTable(error: unknown): boolean {
  const code = (error as { code?: string }).code;
  return code === 'ENOENT' || code === 'ENOPROTOOPT';
}

function removeChains(record: XtablesRevert, ctx: XtablesRevertContext): RevertOutcome {
  const rebooted = record.bootId !== ctx.host.bootId;
  let removed = 0;
  const refusals: string[] = [];
  // A table this namespace never brought up holds no chain; asking the kernel for it would bring
  // it up (an apply that failed before its IPv6 chain, say), so it is not asked.
  const chains = record.chains.filter((c) => (ctx.procRoot === undefined ? undefined : legacyTableLoaded(ctx.procRoot, c.family, c.table)) !== false);
  for (const c of chains) {
    try {
      if (ctx.native.xtablesDeleteChain(c.table, c.chain, c.family)) removed += 1;
    } catch (error) {
      if (!noTable(error)) refusals.push(`${where(c)}: ${messageOf(error)}`);
    }
  }
  // Verified: each table read again has none of the chains (and so no jump to them; the
  // replacement itself was read back and compared entry by entry by the addon).
  const left = chains.filter((c) => {
    try {
      return ctx.native.xtablesListChains(c.table, c.family).includes(c.chain);
    } catch (error) {
      if (noTable(error)) return false;
      refusals.push(`${where(c)}: ${messageOf(error)}`);
      return true;
    }
  });
  if (left.length > 0) {
    throw new RevertError(
      `x_tables chains are still there after removal: ${left.map(where).join(', ')}${refusals.length ? ` (${refusals.join('; ')})` : ''}`,
      left.map(where).join(', '),
      left.map((c) => `${TOOL[c.family]} -t ${c.table} -D ${c.hook.toUpperCase()} -j ${c.chain}; ${TOOL[c.family]} -t ${c.table} -F ${c.chain}; ${TOOL[c.family]} -t ${c.table} -X ${c.chain}`).join(' && '),
    );
  }
  if (removed === 0) return { outcome: 'already-absent', detail: rebooted ? 'checked after a reboot: no faultd chain was left' : 'no faultd x_tables chain was left' };
  return { outcome: 'reverted', detail: `removed x_tables chain(s) ${record.chains.map(where).join(', ')} and their jumps` };
}
