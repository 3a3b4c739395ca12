// SPDX-License-Identifier: Apache-2.0
/**
 * The netem-based faults (latency, loss, corruption, duplication, reorder) differ only in their
 * own tunables and in how those become netem parameters; everything else (interfaces, root
 * qdisc snapshot/restore, the kernel check) is here. A kernel without sch_netem is refused at
 * validation with the kernel's own words, so `validate`, `run` and `doctor` agree.
 */
import { z } from 'zod';

import type { NetemSpec } from '../../native/addon.js';
import { paramsObject, type Param } from '../params.js';
import { defineInjector, type InjectorModule, type ParamDoc, type ValidationContext } from '../types.js';
import { COMMON_NETWORK_ALIASES, commonNetworkParams, networkReach, refineControlPlane, scopeOf, withScopeNotes, type CommonNetworkValues } from './common-params.js';
import { planRootQdisc, qdiscSupport, refineIngress, revertRootQdisc, RootQdiscRevertSchema, rootQdiscTargets, type RootQdiscRevert } from './root-qdisc-fault.js';

type ParamsOf<T extends Record<string, Param<unknown>>> = { [K in keyof T]: z.output<T[K]['schema']> };

/** What every network fault has besides its own tunables (see common-params.ts). */
interface CommonParams extends CommonNetworkValues {
  readonly networkInterfaces: string[];
}

export interface NetemFaultConfig<T extends Record<string, Param<unknown>>> {
  readonly kind: string;
  readonly summary: string;
  /** Verb for the interface tunable's help ("delayed", "dropped"…). */
  readonly verb: string;
  readonly aliases: Readonly<Record<string, string>>;
  params(ctx: ValidationContext): T;
  /** Extra checks across this fault's own tunables. */
  refine?(params: ParamsOf<T>, issue: (path: string, message: string) => void): void;
  netem(params: ParamsOf<T>): NetemSpec;
  describe(params: ParamsOf<T>): string;
  /** Said when netem is missing, e.g. that a fallback is in progress. */
  readonly withoutNetem: string;
}

export function defineNetemFault<T extends Record<string, Param<unknown>>>(config: NetemFaultConfig<T>): InjectorModule {
  const allParams = (ctx: ValidationContext) => ({ ...commonNetworkParams(ctx, config.verb), ...config.params(ctx) });
  return defineInjector<CommonParams & ParamsOf<T>, RootQdiscRevert>({
    kind: config.kind,
    summary: config.summary,
    paramAliases: { ...COMMON_NETWORK_ALIASES, ...config.aliases },
    paramsSchema(ctx) {
      const schema = paramsObject(allParams(ctx)).superRefine((v, c) => {
        const netem = ctx.features.qdisc('netem');
        if (!netem.supported) {
          c.addIssue({ code: 'custom', path: [], message: `${config.kind} needs the netem qdisc (sch_netem), which this kernel lacks (${netem.reason}). ${config.withoutNetem}` });
        }
        config.refine?.(v as ParamsOf<T>, (path, message) => c.addIssue({ code: 'custom', path: [path], message }));
        // The object's output has the common tunables (see the cast below).
        refineControlPlane(v as unknown as CommonParams, ctx, (path, message) => c.addIssue({ code: 'custom', path: [path], message }));
        refineIngress((v as unknown as CommonParams).direction, ctx, (path, message) => c.addIssue({ code: 'custom', path: [path], message }));
      });
      // The object's output is exactly the common tunables plus T's; TS cannot see through the
      // mapped generic, so it is stated here once.
      return schema as unknown as z.ZodType<CommonParams & ParamsOf<T>>;
    },
    paramDocs: (ctx): readonly ParamDoc[] => Object.values(allParams(ctx)).map((p) => p.doc),
    exclusiveTargets: (p) => rootQdiscTargets(p.networkInterfaces, p.direction),
    trafficReach: (p) => networkReach(p),
    revertSchema: RootQdiscRevertSchema,
    async plan(faultId, p, ctx) {
      const own: ParamsOf<T> = p;
      const scope = await scopeOf(p, ctx);
      const planned = planRootQdisc(
        {
          faultId,
          interfaces: p.networkInterfaces,
          direction: p.direction,
          kind: 'netem',
          options: () => ctx.native.netemOptions(config.netem(own)),
          describe: config.describe(own),
          target: `${p.networkInterfaces.join(',')} ${p.direction}: ${config.describe(own)}`,
          steer: scope.steer,
        },
        ctx,
      );
      return withScopeNotes(planned, scope);
    },
    revert: (record, ctx) => revertRootQdisc(record, ctx),
    support: (ctx) => qdiscSupport(ctx, 'netem', ctx.features.qdisc('netem')),
  });
}
