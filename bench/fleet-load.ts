// SPDX-License-Identifier: Apache-2.0
/**
 * A simulated fleet for the hub bench. Each simulated agent has its own connection pool (one TLS
 * connection, as a real agent has), exchanges its key for a token, heartbeats every 10 s
 * (on a random phase of its own, as the agent does) and holds a 25 s task long-poll, as `faultd agent` does at its default intervals;
 * a task it receives is answered at once with a result, so its infrastructure's queue moves on.
 * Agent i talks to replica i mod R, as a round-robin TCP balancer spreads them.
 */
import { performance } from 'node:perf_hooks';

import { Agent, request } from 'undici';

import { firstBeatAt, nextBeatAt } from '../src/agent/beat-schedule.js';

export interface SimulatedInfra {
  readonly id: string;
  readonly name: string;
  readonly accessKey: string;
}

const POLL_WAIT_S = 25;
const TOKEN_ATTEMPTS = 5;
export const HEARTBEAT_MS = 10_000;
const HEARTBEAT_BODY = JSON.stringify({ agentVersion: '0.1.0', hostname: 'bench', capabilities: ['linux-cpu-stress'] });
const RESULT_BODY = JSON.stringify({ verdict: 'completed', faults: [] });

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Simulated {
  readonly infra: SimulatedInfra;
  readonly url: string;
  readonly dispatcher: Agent;
  token: string;
}

export class SimulatedFleet {
  readonly #agents: Simulated[];
  readonly #running: Promise<void>[] = [];
  /** Resolvers of `taskReceived`, by infrastructure id. */
  readonly #waiting = new Map<string, (at: number) => void>();
  #stopped = false;
  /** Heartbeat round trips (ms) since the last `takeHeartbeats`. */
  #heartbeats: number[] = [];
  /** With `trace` on: every heartbeat as [sent at (performance.now(), ms), round trip (ms)], for BENCH_FLEET_TRACE. */
  readonly heartbeatTrace: [number, number][] = [];
  /** With `trace` on: when each task poll was answered (performance.now(), ms), and its status. */
  readonly pollTrace: [number, number][] = [];
  trace = false;
  /** Calls that failed (status ≥ 400 or a connection error), by call. */
  readonly errors = { token: 0, heartbeat: 0, poll: 0, result: 0 };
  /** The heartbeat interval; the loops pick a new value up after their current sleep. */
  heartbeatMs = HEARTBEAT_MS;

  constructor(replicas: readonly string[], ca: string, infras: readonly SimulatedInfra[]) {
    this.#agents = infras.map((infra, i) => ({ infra, url: replicas[i % replicas.length] ?? '', dispatcher: new Agent({ connect: { ca }, connections: 2 }), token: '' }));
  }

  get size(): number {
    return this.#agents.length;
  }

  infra(i: number): SimulatedInfra {
    const agent = this.#agents[i];
    if (!agent) throw new Error(`no simulated agent ${i}`);
    return agent.infra;
  }

  /**
   * The token storm: every agent exchanges its key at once, retrying a failed call after 1–2 s
   * (as the agent backs off), at most TOKEN_ATTEMPTS times, and starts its heartbeat and task
   * loops once it has its token. Returns the time until the last agent had its token (ms);
   * failed attempts are counted in `errors.token`.
   */
  async exchangeTokens(): Promise<number> {
    const started = performance.now();
    await Promise.all(
      this.#agents.map(async (agent) => {
        for (let attempt = 1; attempt <= TOKEN_ATTEMPTS; attempt += 1) {
          const answer = await this.#post(agent, '/v1/token', JSON.stringify({ infraId: agent.infra.id, accessKey: agent.infra.accessKey }), false).catch(() => undefined);
          const token = answer?.status === 200 ? (JSON.parse(answer.text) as { accessToken?: string }).accessToken : undefined;
          if (token) {
            agent.token = token;
            // As a real agent does: it starts polling and heartbeating once it has its token.
            this.#running.push(this.#heartbeatLoop(agent), this.#pollLoop(agent));
            return;
          }
          this.errors.token += 1;
          await sleep(1000 + Math.random() * 1000);
        }
      }),
    );
    return performance.now() - started;
  }

  /** The heartbeat round trips since the last call. */
  takeHeartbeats(): number[] {
    const taken = this.#heartbeats;
    this.#heartbeats = [];
    return taken;
  }

  /** Resolves with `performance.now()` when the agent of `infraId` has received a task. */
  taskReceived(infraId: string): Promise<number> {
    return new Promise((resolve) => this.#waiting.set(infraId, resolve));
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await Promise.all(this.#agents.map((agent) => agent.dispatcher.destroy()));
    await Promise.allSettled(this.#running);
  }

  /** As the agent's heartbeat schedules its beats (src/agent/beat-schedule.ts): at once, then on a random phase of its own. */
  async #heartbeatLoop(agent: Simulated): Promise<void> {
    let due = 0;
    while (!this.#stopped) {
      const started = performance.now();
      const answer = await this.#post(agent, '/v1/heartbeat', HEARTBEAT_BODY).catch(() => undefined);
      if (answer?.status === 200) {
        const took = performance.now() - started;
        this.#heartbeats.push(took);
        if (this.trace) this.heartbeatTrace.push([started, took]);
      }
      else if (!this.#stopped) this.errors.heartbeat += 1;
      const now = performance.now();
      due = due === 0 ? firstBeatAt(now, this.heartbeatMs) : nextBeatAt(due, this.heartbeatMs, now);
      await sleep(due - now);
    }
  }

  async #pollLoop(agent: Simulated): Promise<void> {
    while (!this.#stopped) {
      const answer = await request(`${agent.url}/v1/tasks/next?waitSeconds=${POLL_WAIT_S}`, {
        method: 'GET', dispatcher: agent.dispatcher, headers: { authorization: `Bearer ${agent.token}` }, headersTimeout: (POLL_WAIT_S + 30) * 1000,
      }).then(async (r) => ({ status: r.statusCode, text: await r.body.text() }), () => undefined);
      if (this.#stopped) return;
      if (this.trace) this.pollTrace.push([performance.now(), answer?.status ?? 0]);
      if (!answer || answer.status >= 400) {
        this.errors.poll += 1;
        await sleep(1000);
        continue;
      }
      if (answer.status !== 200) continue;
      const received = performance.now();
      this.#waiting.get(agent.infra.id)?.(received);
      this.#waiting.delete(agent.infra.id);
      const { task } = JSON.parse(answer.text) as { task: { runId: string } };
      const result = await this.#post(agent, `/v1/runs/${task.runId}/result`, RESULT_BODY).catch(() => undefined);
      if (result?.status !== 204) this.errors.result += 1;
    }
  }

  async #post(agent: Simulated, route: string, body: string, withToken = true): Promise<{ status: number; text: string }> {
    const r = await request(`${agent.url}${route}`, {
      method: 'POST', dispatcher: agent.dispatcher, body, headers: { 'content-type': 'application/json', ...(withToken ? { authorization: `Bearer ${agent.token}` } : {}) },
    });
    return { status: r.statusCode, text: await r.body.text() };
  }
}

/** An operator queueing runs through the operator API of one replica, with an API token. */
export class RunQueuer {
  readonly #dispatcher: Agent;
  readonly #url: string;
  readonly #token: string;
  readonly errors: string[] = [];

  constructor(url: string, ca: string, token: string) {
    this.#url = url;
    this.#token = token;
    this.#dispatcher = new Agent({ connect: { ca }, connections: 32 });
  }

  /** Queues `experiment` (its text) on infrastructure `infra`; false when the hub refused it. */
  async queue(infra: string, experiment: string): Promise<boolean> {
    const r = await request(`${this.#url}/api/v1/runs`, {
      method: 'POST', dispatcher: this.#dispatcher, body: JSON.stringify({ infra, experiment }), headers: { 'content-type': 'application/json', authorization: `Bearer ${this.#token}` },
    });
    const text = await r.body.text();
    if (r.statusCode === 201) return true;
    if (this.errors.length < 5) this.errors.push(`${r.statusCode} ${text.slice(0, 200)}`);
    return false;
  }

  close(): Promise<void> {
    return this.#dispatcher.close();
  }
}
