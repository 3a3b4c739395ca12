// SPDX-License-Identifier: Apache-2.0
/** What the ledger keeps of a process fault's target: enough to find the same process again. */
import { z } from 'zod';

import type { ProcessInfo } from './targets.js';

export const ProcessRecord = z.object({ pid: z.number().int().positive(), startTime: z.number().int().nonnegative(), comm: z.string(), cmdline: z.string() });
export type ProcessRecord = z.infer<typeof ProcessRecord>;

export const recordOf = ({ pid, startTime, comm, cmdline }: ProcessInfo): ProcessRecord => ({ pid, startTime, comm, cmdline });
