// SPDX-License-Identifier: Apache-2.0
/**
 * What the faults of one step change. The faults of a step run at once, so two of them must
 * never change the same thing. Exclusive targets are known before planning (and checked by the
 * experiment schema); claims are known once a fault is planned (Planned.claims, e.g. the units a
 * service restart also takes down). The first fault to plan keeps what it claims; a later one
 * that claims it too is refused before anything of it changes.
 */
import type { FaultSpec } from '../experiment/schema.js';
import type { Registry } from '../faults/registry.js';

export class StepClaims {
  /** target → the fault that changes it */
  readonly #owners = new Map<string, string>();

  constructor(faults: readonly FaultSpec[], registry: Registry) {
    for (const spec of faults) {
      for (const target of registry.get(spec.kind)?.exclusiveTargets(spec.params) ?? []) this.#owners.set(target, spec.id);
    }
  }

  /**
   * Records what `faultId` changes, or returns why not (the first target another fault of the
   * step already changes) and records nothing. Synchronous: two plans that settle together
   * cannot both pass.
   */
  claim(faultId: string, claims: readonly string[]): string | undefined {
    for (const target of claims) {
      const owner = this.#owners.get(target);
      if (owner !== undefined && owner !== faultId) return `fault "${owner}" of the same step already changes ${target}; put them in separate steps`;
    }
    for (const target of claims) this.#owners.set(target, faultId);
    return undefined;
  }
}
