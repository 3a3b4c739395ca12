// SPDX-License-Identifier: Apache-2.0
/**
 * Builds the registry module of one HTTP fault kind from what is its own (its action tunables,
 * what a matching request gets, its cross-field checks): the shared tunables, validation, plan,
 * revert, exclusive targets and support are the same for all five (http-fault.ts).
 */
import type { z } from 'zod';

import { paramsObject, type Param } from '../params.js';
import { defineInjector, type InjectorModule } from '../types.js';
import { httpExclusiveTargets, HttpRevertSchema, httpSupport, planHttpFault, revertHttpFault, type HttpAction } from './http-fault.js';
import { HTTP_ALIASES, redirectedPorts, refineHttpParams, sharedHttpParams, type HttpTargeting } from './http-params.js';

type Values<A> = { readonly [K in keyof A]: A[K] extends Param<infer T> ? T : never };

export interface HttpFaultDefinition<A extends Record<string, Param<unknown>>> {
  readonly kind: string;
  readonly summary: string;
  /** Harness upper-case spellings of the action tunables. */
  readonly aliases: Readonly<Record<string, string>>;
  readonly actionParams: () => A;
  readonly action: (p: HttpTargeting & Values<A>) => HttpAction;
  /** Checks across the action tunables; `issue` names the field. */
  readonly refine?: (p: HttpTargeting & Values<A>, issue: (path: string, message: string) => void) => void;
}

export function defineHttpFault<A extends Record<string, Param<unknown>>>(def: HttpFaultDefinition<A>): InjectorModule {
  type P = HttpTargeting & Values<A>;
  return defineInjector({
    kind: def.kind,
    summary: def.summary,
    paramAliases: { ...HTTP_ALIASES, ...def.aliases },
    paramsSchema: (ctx) =>
      // paramsObject's output is exactly Values of the shared and action params, which P spells out.
      (paramsObject({ ...sharedHttpParams(ctx), ...def.actionParams() }) as unknown as z.ZodType<P>).superRefine((p, c) => {
        const issue = (path: string, message: string): void => c.addIssue({ code: 'custom', path: path ? [path] : [], message });
        refineHttpParams(def.kind, p, ctx, issue);
        def.refine?.(p, issue);
      }),
    paramDocs: (ctx) => Object.values({ ...sharedHttpParams(ctx), ...def.actionParams() }).map((p) => p.doc),
    exclusiveTargets: (p: P) => httpExclusiveTargets(p),
    trafficReach: (p: P) => ({ via: 'http', ports: redirectedPorts(p) }),
    revertSchema: HttpRevertSchema,
    plan: (faultId, p: P, ctx) => planHttpFault(faultId, p, def.action(p), ctx),
    revert: (record, ctx) => revertHttpFault(record, ctx),
    support: (ctx) => httpSupport(ctx),
  });
}
