// SPDX-License-Identifier: Apache-2.0
/** Test doubles: a fake native addon, a silent logger, recording feature probes, and a scriptable injector. */
import { tmpdir } from 'node:os';
import path from 'node:path';

import type { ExecutionContext } from 'ava';
import { pino } from 'pino';
import { z } from 'zod';

import { Runner } from '../../src/engine/runner.js';
import { Ledger } from '../../src/ledger/ledger.js';
import type { Owner } from '../../src/ledger/record.js';
import type { FeatureProbe, FeatureSupport } from '../../src/host/features.js';
import { filesystemLockDir } from '../../src/faults/filesystem.js';
import { defineInjector, RevertError, type ActiveFault, type FaultContext, type InjectorModule } from '../../src/faults/types.js';
import type { NativeAddon } from '../../src/native/addon.js';
import { workspace } from './cli.js';
import { FAKE_VALIDATION } from './host.js';

/**
 * An addon whose process and lock members answer harmlessly and whose other members throw. The
 * network members have a recording fake with kernel state of their own: FakeNetlink.surface
 * (fake-netlink.ts), which network-fault.ts puts into a context.
 */
export const FAKE_NATIVE: NativeAddon = {
  abiVersion: 1,
  init: () => undefined,
  processStartTime: () => 1,
  killProcess: () => 'absent',
  signalPath: () => 'pidfd',
  memlockLimit: () => ({ soft: null, hard: null }),
  tryLock: () => true,
  pageSize: () => 4096,
  sdNotify: () => notFaked('sdNotify'),
  dieWithParent: () => notFaked('dieWithParent'),
  fallocate: () => notFaked('fallocate'),
  clockRead: () => notFaked('clockRead'),
  clockStep: () => notFaked('clockStep'),
  ntpState: () => notFaked('ntpState'),
  netemOptions: () => notFaked('netemOptions'),
  tbfOptions: () => notFaked('tbfOptions'),
  qdiscList: () => notFaked('qdiscList'),
  htbQdiscOptions: () => notFaked('htbQdiscOptions'),
  htbClassOptions: () => notFaked('htbClassOptions'),
  u32Options: () => notFaked('u32Options'),
  u32RedirectOptions: () => notFaked('u32RedirectOptions'),
  linkIndex: () => notFaked('linkIndex'),
  linkAdd: () => notFaked('linkAdd'),
  linkDelete: () => notFaked('linkDelete'),
  classReplace: () => notFaked('classReplace'),
  filterAdd: () => notFaked('filterAdd'),
  classList: () => notFaked('classList'),
  filterList: () => notFaked('filterList'),
  qdiscReplace: () => notFaked('qdiscReplace'),
  qdiscDelete: () => notFaked('qdiscDelete'),
  nftAddChain: () => notFaked('nftAddChain'),
  nftDeleteChain: () => notFaked('nftDeleteChain'),
  nftListChains: () => notFaked('nftListChains'),
  xtablesAddChain: () => notFaked('xtablesAddChain'),
  xtablesDeleteChain: () => notFaked('xtablesDeleteChain'),
  xtablesListChains: () => notFaked('xtablesListChains'),
  conntrackDeleteFlows: () => notFaked('conntrackDeleteFlows'),
  systemdProbe: () => notFaked('systemdProbe'),
  systemdUnitState: () => notFaked('systemdUnitState'),
  systemdUnitPlanFacts: () => notFaked('systemdUnitPlanFacts'),
  systemdUnitAction: () => notFaked('systemdUnitAction'),
};

function notFaked(name: string): never {
  throw new Error(`${name} is not faked`);
}

export const SILENT = pino({ level: 'silent' });

export const FAKE_CONTEXT: FaultContext = {
  ...FAKE_VALIDATION,
  native: FAKE_NATIVE,
  stressorPath: '/nonexistent/faultd-stressor',
  cgroups: { mode: 'none', mounts: new Map(), ownPaths: new Map() },
  logger: SILENT,
  procRoot: '/nonexistent',
  // Not the host's /run/faultd/locks: unit tests lock among themselves only.
  lockDir: filesystemLockDir(path.join(tmpdir(), 'faultd-unit-locks')),
};

/** Feature probes that answer from `missing` (`qdisc:netem`, `nftables`, `nfqueue`) and record every question in `calls`. */
export function recordingFeatureProbe(missing: ReadonlySet<string> = new Set()): { features: FeatureProbe; calls: string[] } {
  const calls: string[] = [];
  const answer = (key: string): FeatureSupport => {
    calls.push(key);
    return missing.has(key) ? { supported: false, reason: `fake: no ${key}` } : { supported: true, reason: '' };
  };
  return { calls, features: { qdisc: (kind) => answer(`qdisc:${kind}`), nftables: () => answer('nftables'), nfqueue: () => answer('nfqueue'), natRedirect: () => answer('natRedirect') } };
}

export interface FakeBehaviour {
  applyFails?: boolean;
  revertFails?: boolean;
  /** The fault ends on its own after this many ms. */
  endsAfterMs?: number;
  /** What its plan claims (Planned.claims). */
  claims?: string[];
  /** Its exclusive targets (known before planning). */
  exclusive?: string[];
}

/** Events the fake injector saw, in order (`apply:<id>`, `revert:<id>`). */
export type EventLog = string[];

/** An injector of kind `fake` whose behaviour comes from `params`. */
export function fakeInjector(events: EventLog): InjectorModule {
  const Params = z.object({ applyFails: z.boolean().optional(), revertFails: z.boolean().optional(), endsAfterMs: z.number().optional(), claims: z.array(z.string()).optional(), exclusive: z.array(z.string()).optional() });
  return defineInjector({
    kind: 'fake',
    summary: 'test double',
    paramsSchema: () => Params,
    paramDocs: () => [],
    exclusiveTargets: (params: FakeBehaviour) => params.exclusive ?? [],
    revertSchema: z.object({ id: z.string() }),
    plan(faultId, params: FakeBehaviour) {
      return {
        target: 'nothing',
        ...(params.claims ? { claims: params.claims } : {}),
        changes: ['nothing'],
        revertSteps: ['nothing'],
        revert: { id: faultId },
        async apply(recordApplied, signal): Promise<ActiveFault> {
          events.push(`apply:${faultId}`);
          await recordApplied({ id: faultId });
          if (params.applyFails) throw new Error('apply broke');
          if (signal.aborted) throw new Error('aborted while starting');
          const ended = params.endsAfterMs === undefined ? new Promise<string>(() => undefined) : new Promise<string>((r) => setTimeout(() => r('died'), params.endsAfterMs));
          return { measure: () => 'ok', ended };
        },
      };
    },
    revert(record) {
      events.push(`revert:${record.id}`);
      if (record.id.includes('revertfails')) return Promise.reject(new RevertError('cannot', 'a thing', 'rm thing'));
      return Promise.resolve({ outcome: 'reverted', detail: 'done' });
    },
    support: () => ({ supported: true, notes: [] }),
  });
}

/**
 * A runner of fake faults on a real ledger in a temporary state dir (removed, and the ledger
 * closed, at teardown); `events` records each apply and revert.
 */
export async function fakeRunner(t: ExecutionContext, owner: Owner = { pid: 1, startTime: 1 }): Promise<{ ledger: Ledger; events: EventLog; registry: Map<string, InjectorModule>; runner: Runner }> {
  const ws = workspace();
  t.teardown(() => ws.remove());
  const ledger = new Ledger(ws.stateDir, FAKE_NATIVE);
  await ledger.open();
  t.teardown(() => ledger.close());
  const events: EventLog = [];
  const registry = new Map([['fake', fakeInjector(events)]]);
  const runner = new Runner({ registry, ledger, ctx: FAKE_CONTEXT, runId: 'r1', owner, logger: SILENT });
  return { ledger, events, registry, runner };
}
