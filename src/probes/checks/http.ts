// SPDX-License-Identifier: Apache-2.0
/**
 * The http check: one request per attempt through the check's own keep-alive Agent, judged on
 * the status code, optionally the body (the whole text, or the scalar at a JSON path) and the
 * time from sending the request to the last byte of the body.
 */
import { readFileSync } from 'node:fs';

import { FaultdError } from '../../errors.js';
import { compare, describeComparison } from '../compare.js';
import { parseJsonPath, readJsonPath, scalarText, type JsonPathSegment } from '../json-path.js';
import type { AttemptOutcome, HttpCheckSpec, ProbeCheck } from '../types.js';
import { describeError } from './deadline.js';
import { agentCheck, boundedRequest, createCheckAgent } from './http-client.js';

/** Sent unless the probe sets its own (servers' logs can tell probes from users). */
export const USER_AGENT = 'faultd-probe';

/** What one attempt got: the status, the body when a body criterion needs it, the time. */
export interface HttpObservation {
  readonly statusCode: number;
  readonly body?: Buffer;
  readonly latencyMs: number;
}

type Criteria = HttpCheckSpec['criteria'];

/** The criteria in words: `responseCode (int) == 200, body $.status (string) == "up", responseTime <= 500 ms`. */
export function describeHttpCriteria(criteria: Criteria): string {
  const parts = [describeComparison('responseCode', criteria.responseCode)];
  if (criteria.body) parts.push(describeComparison(criteria.body.jsonPath === undefined ? 'body' : `body ${criteria.body.jsonPath}`, criteria.body));
  if (criteria.maxResponseTimeMs !== undefined) parts.push(`responseTime <= ${criteria.maxResponseTimeMs} ms`);
  return parts.join(', ');
}

function excerpt(text: string): string {
  const oneLine = text.length > 60 ? `${text.slice(0, 60)}…` : text;
  return JSON.stringify(oneLine);
}

/** Judges an observation against the criteria; `jsonPath` is the body criterion's parsed path. */
export function judgeHttpObservation(criteria: Criteria, jsonPath: readonly JsonPathSegment[] | undefined, observation: HttpObservation): AttemptOutcome {
  const criterion = describeHttpCriteria(criteria);
  const observed: string[] = [String(observation.statusCode)];
  const errors: string[] = [];
  const code = compare(observation.statusCode, criteria.responseCode);
  let passed = code.passed;
  if (code.error !== undefined) errors.push(`responseCode: ${code.error}`);
  const bodyCriterion = criteria.body;
  if (bodyCriterion) {
    const text = (observation.body ?? Buffer.alloc(0)).toString('utf8');
    let subject: string | undefined;
    if (jsonPath === undefined) {
      subject = text;
      observed.push(`body ${excerpt(text)}`);
    } else {
      const pathText = bodyCriterion.jsonPath ?? '$';
      let document: unknown;
      try {
        document = JSON.parse(text);
        const found = readJsonPath(document, jsonPath);
        if (!found.found) errors.push(`${pathText} not found in the body`);
        else {
          subject = scalarText(found.value);
          if (subject === undefined) errors.push(`${pathText} is ${Array.isArray(found.value) ? 'an array' : 'an object'}, not a scalar`);
          else observed.push(`${pathText} ${excerpt(subject)}`);
        }
      } catch (error) {
        errors.push(`body is not JSON (${describeError(error)}): ${excerpt(text)}`);
      }
    }
    if (subject === undefined) passed = false;
    else {
      const body = compare(subject, bodyCriterion);
      passed &&= body.passed;
      if (body.error !== undefined) errors.push(`body: ${body.error}`);
    }
  }
  if (criteria.maxResponseTimeMs !== undefined) {
    observed.push(`${Math.round(observation.latencyMs)} ms`);
    if (observation.latencyMs > criteria.maxResponseTimeMs) passed = false;
  }
  const outcome = { passed: passed && errors.length === 0, observed: observed.join(', '), criterion, latencyMs: observation.latencyMs };
  return errors.length === 0 ? outcome : { ...outcome, error: errors.join('; ') };
}

/** The CA file's PEM, read once when the check is made. */
function readCaFile(file: string): string {
  let pem: string;
  try {
    pem = readFileSync(file, 'utf8');
  } catch (error) {
    throw new FaultdError('FAULTD_ERR_INPUT_INVALID', `http probe caFile ${file}: cannot be read (${describeError(error)})`);
  }
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) throw new FaultdError('FAULTD_ERR_INPUT_INVALID', `http probe caFile ${file}: no PEM certificate in it`);
  return pem;
}

/**
 * A ready http check. Throws FAULTD_ERR_INPUT_INVALID when `caFile` cannot be read or the body
 * criterion's JSON path is malformed (the schema checks the rest).
 */
export function createHttpCheck(spec: HttpCheckSpec): ProbeCheck {
  const bodyCriterion = spec.criteria.body;
  let jsonPath: readonly JsonPathSegment[] | undefined;
  if (bodyCriterion?.jsonPath !== undefined) {
    const parsed = parseJsonPath(bodyCriterion.jsonPath);
    if (!parsed.ok) throw new FaultdError('FAULTD_ERR_INPUT_INVALID', `http probe criteria.body.jsonPath: ${parsed.error}`);
    jsonPath = parsed.segments;
  }
  const ca = spec.caFile === undefined ? undefined : readCaFile(spec.caFile);
  const agent = createCheckAgent({ rejectUnauthorized: !spec.insecureSkipVerify, ...(ca === undefined ? {} : { ca }) });
  const criterion = describeHttpCriteria(spec.criteria);
  const hasUserAgent = Object.keys(spec.headers).some((name) => name.toLowerCase() === 'user-agent');
  const request = {
    method: spec.method,
    headers: hasUserAgent ? spec.headers : { 'user-agent': USER_AGENT, ...spec.headers },
    ...(spec.method === 'POST' && spec.body !== undefined ? { body: spec.body } : {}),
    keepBody: bodyCriterion !== undefined,
  };
  return agentCheck(agent, criterion, async (timeoutMs, deadline) => judgeHttpObservation(spec.criteria, jsonPath, await boundedRequest(agent, spec.url, request, timeoutMs, deadline)));
}
