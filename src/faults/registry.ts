// SPDX-License-Identifier: Apache-2.0
/** Every fault kind faultd knows: an explicit map, no discovery magic, no switch. */
import { linuxApiBlock } from './linux-api-block.js';
import { linuxApiLatency } from './linux-api-latency.js';
import { linuxApiModifyBody } from './linux-api-modify-body.js';
import { linuxApiModifyHeader } from './linux-api-modify-header.js';
import { linuxApiStatusCode } from './linux-api-status-code.js';
import { linuxCgroupLimit } from './linux-cgroup-limit.js';
import { linuxCpuStress } from './linux-cpu-stress.js';
import { linuxDiskFill } from './linux-disk-fill.js';
import { linuxDnsError } from './linux-dns-error.js';
import { linuxDnsSpoof } from './linux-dns-spoof.js';
import { linuxFsFill } from './linux-fs-fill.js';
import { linuxProcessKill } from './linux-process-kill.js';
import { linuxProcessStop } from './linux-process-stop.js';
import { linuxDiskIoStress } from './linux-disk-io-stress.js';
import { linuxMemoryStress } from './linux-memory-stress.js';
import { linuxNetworkCorruption } from './linux-network-corruption.js';
import { linuxNetworkDuplication } from './linux-network-duplication.js';
import { linuxNetworkLatency } from './linux-network-latency.js';
import { linuxNetworkLoss } from './linux-network-loss.js';
import { linuxNetworkPartition } from './linux-network-partition.js';
import { linuxNetworkRateLimit } from './linux-network-rate-limit.js';
import { linuxNetworkReorder } from './linux-network-reorder.js';
import { linuxPidExhaustion } from './linux-pid-exhaustion.js';
import { linuxServiceRestart } from './linux-service-restart.js';
import { linuxTimeChaos } from './linux-time-chaos.js';
import type { InjectorModule } from './types.js';

export type Registry = ReadonlyMap<string, InjectorModule>;

export const REGISTRY: Registry = new Map(
  [
    linuxCpuStress,
    linuxMemoryStress,
    linuxNetworkLatency,
    linuxNetworkLoss,
    linuxNetworkCorruption,
    linuxNetworkDuplication,
    linuxNetworkReorder,
    linuxNetworkRateLimit,
    linuxNetworkPartition,
    linuxDnsError,
    linuxDnsSpoof,
    linuxApiBlock,
    linuxApiLatency,
    linuxApiStatusCode,
    linuxApiModifyBody,
    linuxApiModifyHeader,
    linuxDiskFill,
    linuxFsFill,
    linuxProcessKill,
    linuxProcessStop,
    linuxCgroupLimit,
    linuxDiskIoStress,
    linuxPidExhaustion,
    linuxServiceRestart,
    linuxTimeChaos,
  ].map((module) => [module.kind, module] as const),
);
