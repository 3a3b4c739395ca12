// SPDX-License-Identifier: Apache-2.0
/**
 * The ledger's record types: one JSON line per event, validated with zod on replay.
 * A fault's life is `intent` (its revert record, written before anything changes) → `applied`
 * (the revert record completed with what apply created, e.g. the stressor pid) → `reverted` or
 * `revert-failed` (with the leftover state and the manual fix). The revert record itself is
 * owned by the fault kind and validated by its module when it is reverted.
 */
import { z } from 'zod';

export const LEDGER_VERSION = 1;

/** The process that owns a fault while it runs (a `faultd run` or the agent). */
export const OwnerSchema = z.object({ pid: z.number().int().positive(), startTime: z.number().int().nonnegative() });
export type Owner = z.infer<typeof OwnerSchema>;

const common = {
  v: z.literal(LEDGER_VERSION),
  ts: z.iso.datetime(),
  faultId: z.string().min(1),
};

export const IntentRecordSchema = z.object({
  ...common,
  event: z.literal('intent'),
  runId: z.string().min(1),
  kind: z.string().min(1),
  target: z.string(),
  bootId: z.string(),
  owner: OwnerSchema,
  revert: z.record(z.string(), z.unknown()),
});

export const AppliedRecordSchema = z.object({
  ...common,
  event: z.literal('applied'),
  revert: z.record(z.string(), z.unknown()),
});

export const RevertedRecordSchema = z.object({
  ...common,
  event: z.literal('reverted'),
  /** `already-absent`: nothing was left to revert (e.g. the process had died with its parent). */
  outcome: z.enum(['reverted', 'already-absent']),
  detail: z.string().optional(),
});

export const RevertFailedRecordSchema = z.object({
  ...common,
  event: z.literal('revert-failed'),
  error: z.object({ code: z.string(), message: z.string() }),
  leftover: z.string(),
  manualFix: z.string(),
});

export const LedgerRecordSchema = z.discriminatedUnion('event', [
  IntentRecordSchema,
  AppliedRecordSchema,
  RevertedRecordSchema,
  RevertFailedRecordSchema,
]);

export type IntentRecord = z.infer<typeof IntentRecordSchema>;
export type LedgerRecord = z.infer<typeof LedgerRecordSchema>;
/** A record as callers write it; the ledger adds `v` and `ts`. */
export type NewLedgerRecord = LedgerRecord extends infer R ? (R extends LedgerRecord ? Omit<R, 'v' | 'ts'> : never) : never;

/** Where a fault stands after replay. */
export type FaultState = 'intent' | 'applied' | 'reverted' | 'revert-failed';

export interface FaultEntry {
  readonly faultId: string;
  readonly intent: IntentRecord;
  /** The newest revert record (from `applied` if present, else from `intent`). */
  readonly revert: Record<string, unknown>;
  readonly state: FaultState;
  readonly lastRecord: LedgerRecord;
}
