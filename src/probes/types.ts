// SPDX-License-Identifier: Apache-2.0
/**
 * Steady-state probes: the validated shapes the schema (schema.ts) produces and the checks
 * (checks/) and the scheduler (scheduler.ts) consume. Names follow Harness's resilience probes
 * (runProperties: probeTimeout, interval, attempt, probePollingInterval, initialDelay,
 * stopOnFailure); durations are in milliseconds here.
 */

/** When a probe runs (Harness semantics). */
export const PROBE_MODES = ['SOT', 'EOT', 'Edge', 'Continuous', 'OnChaos'] as const;
export type ProbeMode = (typeof PROBE_MODES)[number];

export interface RunProperties {
  /** One attempt's time limit. */
  readonly probeTimeoutMs: number;
  /** Wait between two attempts of one evaluation. */
  readonly intervalMs: number;
  /** Attempts per evaluation: it passes at the first attempt that passes. */
  readonly attempt: number;
  /** Continuous and OnChaos: wait between the end of one evaluation and the start of the next. */
  readonly probePollingIntervalMs: number;
  /** Wait before the first evaluation of the probe's window. */
  readonly initialDelayMs: number;
  /** A failed evaluation (after its attempts) aborts the experiment. */
  readonly stopOnFailure: boolean;
}

export const COMPARATORS = ['==', '!=', '<', '<=', '>', '>=', 'contains', 'matches', 'oneOf'] as const;
export type Comparator = (typeof COMPARATORS)[number];

/** How an observed value is read before it is compared. */
export type ValueType = 'int' | 'float' | 'string';

/**
 * One criterion: the observed value, read as `type`, compared with `value` by `criteria`
 * (Harness's comparator shape). `value` is a list for `oneOf`, a regular expression source for
 * `matches`; for int/float the numbers were checked by the schema.
 */
export interface Comparison {
  readonly type: ValueType;
  readonly criteria: Comparator;
  readonly value: string | number | readonly (string | number)[];
}

export interface HttpBodyCriterion extends Comparison {
  /** Compare the value at this JSON path (`$.a.b[0]`) of a JSON body instead of the whole body. */
  readonly jsonPath?: string;
}

export interface HttpCheckSpec {
  readonly type: 'http';
  readonly url: string;
  readonly method: 'GET' | 'POST';
  readonly headers: Readonly<Record<string, string>>;
  /** Request body (POST only). */
  readonly body?: string;
  /** Accept any certificate (https only). */
  readonly insecureSkipVerify: boolean;
  /** PEM file of the CA(s) that signed the server's certificate (https only). */
  readonly caFile?: string;
  readonly criteria: {
    /** On the status code: ==, != or oneOf. */
    readonly responseCode: Comparison;
    readonly body?: HttpBodyCriterion;
    /** The response (headers and body) must arrive within this many ms. */
    readonly maxResponseTimeMs?: number;
  };
}

export interface CmdCheckSpec {
  readonly type: 'cmd';
  /** argv (no shell), or with `shell: true` one string given to `/bin/sh -c`. */
  readonly command: readonly string[];
  readonly shell: boolean;
  readonly env: Readonly<Record<string, string>>;
  readonly cwd?: string;
  readonly criteria: {
    /** Default: exit code == 0. */
    readonly exitCode: Comparison;
    /** On stdout, trimmed of surrounding white space. */
    readonly stdout?: Comparison;
  };
}

export interface PrometheusCheckSpec {
  readonly type: 'prometheus';
  /** Prometheus server base URL, e.g. http://127.0.0.1:9090 (its /api/v1/query is called). */
  readonly endpoint: string;
  /** PromQL instant query; its result must be one scalar or a vector of one sample. */
  readonly query: string;
  readonly criteria: { readonly value: Comparison };
}

export type CheckSpec = HttpCheckSpec | CmdCheckSpec | PrometheusCheckSpec;

/** Where a probe was declared: the experiment, a step (by index) or a fault (by id). */
export type ProbeScope = { readonly level: 'experiment' } | { readonly level: 'step'; readonly step: number } | { readonly level: 'fault'; readonly step: number; readonly faultId: string };

export interface ProbeSpec {
  /** Unique in the experiment. */
  readonly name: string;
  readonly mode: ProbeMode;
  readonly runProperties: RunProperties;
  readonly check: CheckSpec;
  readonly scope: ProbeScope;
  /**
   * Faults of its step whose traffic covers the probe's target (validation's path check): the
   * probe is not evaluated while one of them is applied, unless `evaluateWhenCut`.
   */
  readonly cutBy: readonly string[];
  /** Evaluate even while a fault in `cutBy` is applied (a faultd extension). */
  readonly evaluateWhenCut: boolean;
}

/** One attempt's outcome, as a check reports it. */
export interface AttemptOutcome {
  readonly passed: boolean;
  /** What was observed, short and printable: `200`, `exit 0, stdout "3"`, `0.42`. */
  readonly observed: string;
  /** The criterion in words: `responseCode == 200`, `stdout (int) >= 3`. */
  readonly criterion: string;
  /** Why it could not observe (timeout, refused, bad JSON…); then passed is false. */
  readonly error?: string;
  /** How long the attempt took (ms, monotonic). */
  readonly latencyMs: number;
}

/** What checks get from the process: who runs commands. */
export interface CheckEnvironment {
  /** The unprivileged user commands run as (config `probes.user`). */
  readonly cmdUser: { readonly name: string; readonly uid: number; readonly gid: number; readonly home?: string };
}

/** A ready check: one attempt per call, bounded by `timeoutMs` and by `signal`. */
export interface ProbeCheck {
  attempt(timeoutMs: number, signal: AbortSignal): Promise<AttemptOutcome>;
  /** Releases what the check holds (HTTP connection pools). Idempotent. */
  close(): Promise<void>;
}
