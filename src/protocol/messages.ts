// SPDX-License-Identifier: Apache-2.0
/**
 * The agent ↔ control-plane protocol (v1), as zod schemas both sides validate every body with.
 * docs/protocol.openapi.yaml describes the same calls for other control planes. Objects are not
 * strict: unknown fields are ignored (newer peers may add some), missing ones are a 400.
 */
import { z } from 'zod';

import { ACCESS_KEY_PREFIX, ACCESS_TOKEN_PREFIX, RUN_ID_PATTERN, SECRET_MAX_LENGTH, SECRET_MIN_BODY } from './constants.js';

export { ACCESS_KEY_PREFIX, ACCESS_TOKEN_PREFIX, API_PREFIX, MAX_TASK_WAIT_SECONDS } from './constants.js';

const secret = (prefix: string) => z.string().startsWith(prefix).min(prefix.length + SECRET_MIN_BODY).max(SECRET_MAX_LENGTH);

/**
 * Which agent instance is calling: a random id kept in its state directory, the host's
 * /etc/machine-id, and its host name. The hub binds an infrastructure to the first identity it
 * sees and refuses others with 409 CONFLICT until `faultd hub infra release` or a key rotation.
 * Optional: an agent that sends none (faultd before the binding) is accepted as before.
 */
export const AgentIdentity = z.object({
  id: z.string().regex(/^[A-Za-z0-9_-]{8,64}$/, { error: 'must be 8–64 of A-Z, a-z, 0-9, "_", "-"' }),
  machineId: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, { error: 'must be 1–64 of A-Z, a-z, 0-9, "_", "-"' }).optional(),
  hostname: z.string().min(1).max(255),
});
export type AgentIdentity = z.infer<typeof AgentIdentity>;

/** POST /v1/token: an infrastructure's access key for a short-lived access token. */
export const TokenRequest = z.object({
  infraId: z.string().min(1).max(64),
  accessKey: secret(ACCESS_KEY_PREFIX),
  agent: AgentIdentity.optional(),
});
export type TokenRequest = z.infer<typeof TokenRequest>;

export const TokenResponse = z.object({
  accessToken: secret(ACCESS_TOKEN_PREFIX),
  expiresAt: z.iso.datetime(),
  ttlSeconds: z.number().int().positive(),
  /**
   * Present while the hub rotates this infrastructure's key: the agent stores the new key
   * atomically, then confirms it (POST /v1/key/confirm). Until then the old key stays valid.
   */
  rotation: z.object({ rotationId: z.string().min(1), newAccessKey: secret(ACCESS_KEY_PREFIX) }).optional(),
});
export type TokenResponse = z.infer<typeof TokenResponse>;

/** POST /v1/key/confirm (bearer token): the agent has stored the rotated key. */
export const KeyConfirmRequest = z.object({ rotationId: z.string().min(1) });
export type KeyConfirmRequest = z.infer<typeof KeyConfirmRequest>;

/** POST /v1/heartbeat (bearer token). */
export const HeartbeatRequest = z.object({
  agentVersion: z.string().min(1).max(64),
  hostname: z.string().min(1).max(255),
  capabilities: z.array(z.string().max(64)).max(64),
  /** The run the agent is executing, if any. */
  runId: z.string().max(64).optional(),
  /** The same identity as in its token request (absent from agents before the binding). */
  agent: AgentIdentity.optional(),
});
export type HeartbeatRequest = z.infer<typeof HeartbeatRequest>;

export const HeartbeatResponse = z.object({
  serverTime: z.iso.datetime(),
  /** Runs the hub wants aborted (a run the agent is executing, or queued for it). */
  abort: z.array(z.string()),
});
export type HeartbeatResponse = z.infer<typeof HeartbeatResponse>;

/** Every error body: a stable code and a message for people. */
export const ErrorResponse = z.object({
  error: z.object({ code: z.string(), message: z.string() }),
});
export type ErrorResponse = z.infer<typeof ErrorResponse>;

/** Error codes of the protocol (HTTP status in brackets). */
export const PROTOCOL_ERRORS = {
  BAD_REQUEST: 400,
  UNAUTHORIZED: 401,
  NOT_FOUND: 404,
  CONFLICT: 409,
  PAYLOAD_TOO_LARGE: 413,
} as const;
export type ProtocolErrorCode = keyof typeof PROTOCOL_ERRORS;

/** GET /v1/tasks/next?waitSeconds=0..30 (bearer): the next experiment to run, or 204 after the wait. */
export const TaskResponse = z.object({
  task: z.object({
    /** Also a file name and a URL segment on the agent: letters, digits, "_" and "-" only. */
    runId: z.string().regex(RUN_ID_PATTERN, { error: 'must be 1–64 of A-Z, a-z, 0-9, "_", "-"' }),
    /** A faultd/v1 experiment; the agent validates it against its own host before anything runs. */
    experiment: z.unknown(),
    queuedAt: z.iso.datetime(),
  }),
});
export type TaskResponse = z.infer<typeof TaskResponse>;

/**
 * GET /v1/runs/{runId}/abort?waitSeconds=0..30 (bearer): held while the run may go on; answered
 * 200 the moment the hub wants it aborted (or has closed it), 204 when the wait ends. The agent
 * keeps one open while a run executes, so an abort reaches it at once; heartbeats carry aborts
 * too, for control planes without this call (they answer 404).
 */
export const AbortResponse = z.object({
  abort: z.literal(true),
  /** Why, for the run's log (e.g. "aborted from the hub"). */
  reason: z.string().max(4000),
});
export type AbortResponse = z.infer<typeof AbortResponse>;

/**
 * POST /v1/runs/{runId}/status (bearer): phase changes of the run and its faults, numbered and
 * resent until acknowledged, like log lines. A hub stores each `seq` once and answers 200 with
 * StatusResponse; events without `seq` (agents before 2026-12) are stored as they come, and
 * the answer to a request that has none is 204.
 */
export const StatusEvent = z.object({
  /** The event's number in its run (1, 2, …); absent from agents before 2026-12. */
  seq: z.number().int().positive().optional(),
  /**
   * How many sequence numbers this event stands for, from `seq` on (default 1): a note in
   * place of events the agent had to drop (or the hub refused), so the acknowledgement moves on.
   */
  span: z.number().int().min(1).max(10_000_000).optional(),
  at: z.iso.datetime(),
  /** Absent for the run itself. */
  faultId: z.string().max(200).optional(),
  phase: z.string().min(1).max(64),
  detail: z.string().max(2000).optional(),
});
export type StatusEvent = z.infer<typeof StatusEvent>;
export const StatusRequest = z.object({ events: z.array(StatusEvent).min(1).max(500) });
export type StatusRequest = z.infer<typeof StatusRequest>;
/** Every numbered event with seq ≤ ackedThrough is stored (duplicates are ignored). */
export const StatusResponse = z.object({ ackedThrough: z.number().int().nonnegative() });
export type StatusResponse = z.infer<typeof StatusResponse>;

/** POST /v1/runs/{runId}/logs (bearer): numbered log lines, resent until acknowledged. */
export const LogEntry = z.object({
  seq: z.number().int().positive(),
  at: z.iso.datetime(),
  level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal']),
  message: z.string().max(8000),
  fields: z.record(z.string(), z.unknown()).optional(),
  /**
   * How many sequence numbers this entry stands for, from `seq` on (default 1): a note in
   * place of lines the agent had to drop, so the acknowledgement can move past them.
   */
  span: z.number().int().min(1).max(10_000_000).optional(),
});
export type LogEntry = z.infer<typeof LogEntry>;
export const LogsRequest = z.object({ entries: z.array(LogEntry).min(1).max(1000) });
export type LogsRequest = z.infer<typeof LogsRequest>;
/** Every entry with seq ≤ ackedThrough is stored (duplicates are ignored). */
export const LogsResponse = z.object({ ackedThrough: z.number().int().nonnegative() });
export type LogsResponse = z.infer<typeof LogsResponse>;

/** One probe's outcome in a result: how many evaluations passed, the last and first failing one. */
export const ProbeOutcomeSchema = z.object({
  name: z.string().max(63),
  type: z.string().max(32),
  mode: z.string().max(32),
  /** `experiment`, `step N` or `fault <id>`. */
  scope: z.string().max(260),
  evaluations: z.number().int().nonnegative(),
  passed: z.number().int().nonnegative(),
  successPercent: z.number().min(0).max(100).optional(),
  last: z.string().max(2000).optional(),
  firstFailure: z.string().max(2000).optional(),
  stoppedExperiment: z.boolean(),
  /** Evaluations not made while a fault of its step cut its target. */
  skippedWhileCut: z.number().int().nonnegative().optional(),
});
export type ProbeOutcomeMessage = z.infer<typeof ProbeOutcomeSchema>;

/** POST /v1/runs/{runId}/result (bearer): how the run ended, each fault and its revert. */
export const RUN_VERDICTS = ['completed', 'failed', 'aborted', 'revert-failed', 'rejected', 'interrupted'] as const;
export const ResultRequest = z.object({
  verdict: z.enum(RUN_VERDICTS),
  reason: z.string().max(4000).optional(),
  faults: z
    .array(
      z.object({
        faultId: z.string().max(200),
        kind: z.string().max(100),
        status: z.string().max(64),
        revert: z.string().max(4000).optional(),
        error: z.string().max(4000).optional(),
        /** With probes: the fault's weight and its probe success % (absent when no evaluation applied). */
        weight: z.number().int().min(1).max(10).optional(),
        probeSuccessPercent: z.number().min(0).max(100).optional(),
      }),
    )
    // Every fault of the largest experiment (100 steps of 32); the body limit is the tighter bound.
    .max(3200),
  /**
   * Σ(fault weight × fault probe success %) / Σ weights, 0–100; absent when the experiment had no
   * probes or no evaluation applied to a fault (agents before 2026-12 never send it).
   */
  resilienceScore: z.number().min(0).max(100).optional(),
  /** Each probe's outcome (agents before 2026-12 never send it). */
  probes: z.array(ProbeOutcomeSchema).max(64).optional(),
  /** The stopOnFailure probe that aborted the run. */
  stoppedBy: z.object({ probe: z.string().max(63), detail: z.string().max(2000) }).optional(),
});
export type ResultRequest = z.infer<typeof ResultRequest>;
