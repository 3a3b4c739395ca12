// SPDX-License-Identifier: Apache-2.0
/** The checks by type: `createCheck` makes the one a probe's spec names. */
import type { CheckEnvironment, CmdCheckSpec, CheckSpec, HttpCheckSpec, ProbeCheck, PrometheusCheckSpec } from '../types.js';
import { createCmdCheck } from './cmd.js';
import { createHttpCheck } from './http.js';
import { createPrometheusCheck } from './prometheus.js';

interface SpecOfType {
  http: HttpCheckSpec;
  cmd: CmdCheckSpec;
  prometheus: PrometheusCheckSpec;
}

type Factories = { readonly [K in keyof SpecOfType]: (spec: SpecOfType[K], env: CheckEnvironment) => ProbeCheck };

const FACTORIES: Factories = {
  http: (spec) => createHttpCheck(spec),
  cmd: (spec, env) => createCmdCheck(spec, env),
  prometheus: (spec) => createPrometheusCheck(spec),
};

function createOfType<K extends keyof SpecOfType>(type: K, spec: SpecOfType[K], env: CheckEnvironment): ProbeCheck {
  return FACTORIES[type](spec, env);
}

/**
 * A ready check for `spec`. Throws FAULTD_ERR_INPUT_INVALID for what only making it can find
 * (an http caFile that cannot be read, a malformed JSON path).
 */
export function createCheck(spec: CheckSpec, env: CheckEnvironment): ProbeCheck {
  return createOfType(spec.type, spec, env);
}
