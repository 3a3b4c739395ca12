// SPDX-License-Identifier: Apache-2.0
/** Every fault kind faultd knows: an explicit map, no discovery magic, no switch. */
import { linuxCpuStress } from './linux-cpu-stress.js';
import { linuxMemoryStress } from './linux-memory-stress.js';
import { linuxNetworkRateLimit } from './linux-network-rate-limit.js';
import type { InjectorModule } from './types.js';

export type Registry = ReadonlyMap<string, InjectorModule>;

export const REGISTRY: Registry = new Map(
  [linuxCpuStress, linuxMemoryStress, linuxNetworkRateLimit].map((module) => [module.kind, module] as const),
);
