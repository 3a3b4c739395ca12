// SPDX-License-Identifier: Apache-2.0
/**
 * Runs a network fault kind through its registry module against the recording netlink fake
 * (fake-netlink.ts): validate → plan → apply → revert, with the revert record passed through
 * JSON as the ledger stores it. Each phase's calls are taken from the fake's log, so tests can
 * assert the exact sequence of each.
 */
import type { ExecutionContext } from 'ava';

import { REGISTRY } from '../../src/faults/registry.js';
import type { FaultContext, InjectorModule, Planned, RevertOutcome } from '../../src/faults/types.js';
import type { FeatureProbe } from '../../src/host/features.js';
import type { NftChainSpec } from '../../src/native/addon.js';
import { FAKE_CONTEXT } from './fake.js';
import { FakeNetlink } from './fake-netlink.js';

export const FAULT_ID = 'r1-s1-f1-net';

/** A fault context whose netlink calls go to `kernel`; `missing` names kernel features to report absent. */
export function netlinkContext(kernel: FakeNetlink, options: { missing?: readonly ('netem' | 'nftables' | 'nfqueue' | 'natRedirect' | 'xtables' | 'xtablesNfqueue')[]; bootId?: string } = {}): FaultContext {
  const missing = new Set(options.missing ?? []);
  const absent = { supported: false, reason: 'ENOENT (not in this fake kernel)' };
  const present = { supported: true, reason: '' };
  const features: FeatureProbe = {
    qdisc: (kind) => (missing.has(kind as 'netem') ? absent : present),
    nftables: () => (missing.has('nftables') ? absent : present),
    nfqueue: () => (missing.has('nfqueue') ? absent : present),
    natRedirect: () => (missing.has('natRedirect') ? absent : present),
    xtables: () => (missing.has('xtables') ? absent : present),
    xtablesNfqueue: () => (missing.has('xtablesNfqueue') ? absent : present),
  };
  return {
    ...FAKE_CONTEXT,
    host: { ...FAKE_CONTEXT.host, ...(options.bootId ? { bootId: options.bootId } : {}) },
    features,
    native: { ...FAKE_CONTEXT.native, ...kernel.surface },
  };
}

export function moduleOf(kind: string): InjectorModule {
  const module = REGISTRY.get(kind);
  if (!module) throw new Error(`no fault kind ${kind}`);
  return module;
}

/** The params as validation gives them to plan (mechanism chosen, defaults filled in). */
export function validParams(kind: string, raw: Record<string, unknown>, ctx: FaultContext): unknown {
  const result = moduleOf(kind).validateParams(raw, ctx);
  if (!result.ok) throw new Error(result.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('\n'));
  return result.params;
}

export interface AppliedFault {
  readonly planned: Planned<Record<string, unknown>>;
  /** The revert record `apply` recorded, as the ledger gives it back (through JSON). */
  readonly record: Record<string, unknown>;
  /** Calls of each phase, one line per call. */
  readonly planCalls: readonly string[];
  readonly applyCalls: readonly string[];
}

/** Plans and applies `kind` with `raw` params; the fake's log is cleared after. */
export async function applyFault(kernel: FakeNetlink, kind: string, raw: Record<string, unknown>, ctx: FaultContext, faultId = FAULT_ID): Promise<AppliedFault> {
  const params = validParams(kind, raw, ctx);
  kernel.clearLog();
  const planned = await moduleOf(kind).plan(faultId, params, ctx);
  const planCalls = kernel.log();
  kernel.clearLog();
  let recorded: Record<string, unknown> | undefined;
  await planned.apply((revert) => {
    recorded = JSON.parse(JSON.stringify(revert)) as Record<string, unknown>;
    return Promise.resolve();
  }, new AbortController().signal);
  const applyCalls = kernel.log();
  kernel.clearLog();
  if (!recorded) throw new Error('apply did not record its revert');
  return { planned, record: recorded, planCalls, applyCalls };
}

/** Reverts a record; returns the outcome and the calls the revert made (the log is cleared after). */
export async function revertFault(kernel: FakeNetlink, kind: string, record: Record<string, unknown>, ctx: FaultContext): Promise<{ outcome: RevertOutcome; calls: readonly string[] }> {
  kernel.clearLog();
  const outcome = await moduleOf(kind).revert(record, ctx);
  const calls = kernel.log();
  kernel.clearLog();
  return { outcome, calls };
}

/** A revert that must fail: its RevertError (with leftover and manual fix) and its calls. */
export async function failedRevert(t: ExecutionContext, kernel: FakeNetlink, kind: string, record: Record<string, unknown>, ctx: FaultContext) {
  kernel.clearLog();
  const error = await t.throwsAsync(moduleOf(kind).revert(record, ctx), { name: 'RevertError' });
  const calls = kernel.log();
  kernel.clearLog();
  return { error: error as (Error & { leftover: string; manualFix: string }) | undefined, calls };
}

/**
 * Plans and applies `kind` as the runner does, for faults that start a process (the DNS and HTTP
 * interceptors, the NFQUEUE delayer): the records apply writes (through JSON), each phase's
 * calls, the nf_tables chains added, the running fault; the started process is SIGKILLed at the
 * test's teardown if the test left it running.
 */
export async function applyWithProcess(t: ExecutionContext, kernel: FakeNetlink, kind: string, raw: Record<string, unknown>, ctx: FaultContext) {
  const params = validParams(kind, raw, ctx);
  kernel.clearLog();
  const planned = await moduleOf(kind).plan(FAULT_ID, params, ctx);
  const planCalls = kernel.log();
  const records: Record<string, unknown>[] = [];
  // Registered before apply: a process started by an apply that then throws is killed too.
  t.teardown(() => {
    const pid = Object.values(records[0] ?? {}).map((v) => (v as { pid?: unknown } | null)?.pid).find((p): p is number => typeof p === 'number');
    try {
      if (pid) process.kill(pid, 'SIGKILL');
    } catch {
      // already gone, as it should be
    }
  });
  const active = await planned.apply((r) => {
    records.push(JSON.parse(JSON.stringify(r)) as Record<string, unknown>);
    return Promise.resolve();
  }, new AbortController().signal);
  const applyCalls = kernel.log();
  const chains = kernel.calls.filter((c) => c.method === 'nftAddChain').map((c) => c.args[0] as NftChainSpec);
  kernel.clearLog();
  return { planned, planCalls, applyCalls, chains, records, record: records[0] ?? {}, active };
}
