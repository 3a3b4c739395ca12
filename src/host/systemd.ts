// SPDX-License-Identifier: Apache-2.0
/**
 * Talking to systemd when faultd runs as a `Type=notify` service: READY=1 once remnants are
 * reverted, STATUS= lines as the agent's state changes, WATCHDOG=1 from the event loop (a stuck
 * loop misses it and systemd restarts the service, which reverts first), STOPPING=1 on the way
 * out. Outside systemd ($NOTIFY_SOCKET unset) every call does nothing. A failed send is logged
 * once and never stops the daemon.
 */
import { spawnSync } from 'node:child_process';

import { messageOf } from '../errors.js';
import type { LogSink } from '../log-sink.js';
import type { NativeAddon } from '../native/addon.js';

type Env = Readonly<Record<string, string | undefined>>;

export class ServiceNotifier {
  readonly #native: Pick<NativeAddon, 'sdNotify'>;
  readonly #socket: string | undefined;
  readonly #watchdogMs: number | undefined;
  readonly #logger: LogSink;
  #warned = false;

  constructor(native: Pick<NativeAddon, 'sdNotify'>, logger: LogSink, env: Env = process.env, pid = process.pid) {
    this.#native = native;
    this.#logger = logger;
    this.#socket = env['NOTIFY_SOCKET'] || undefined;
    this.#watchdogMs = watchdogInterval(env, pid);
  }

  /** True under systemd with Type=notify. */
  get enabled(): boolean {
    return this.#socket !== undefined;
  }

  /** The watchdog period systemd asked for ($WATCHDOG_USEC, for this pid), if any. */
  get watchdogMs(): number | undefined {
    return this.#watchdogMs;
  }

  ready(status: string): void {
    this.#send(`READY=1\nSTATUS=${oneLine(status)}`);
  }

  status(status: string): void {
    this.#send(`STATUS=${oneLine(status)}`);
  }

  stopping(status: string): void {
    this.#send(`STOPPING=1\nSTATUS=${oneLine(status)}`);
  }

  /**
   * Pings the watchdog at half its period from the event loop, until the returned function is
   * called, skipping a ping while `healthy()` says no (a worker whose event loop is stuck).
   * Does nothing when systemd set no watchdog.
   */
  startWatchdog(healthy: () => boolean = () => true): () => void {
    if (this.#watchdogMs === undefined || !this.enabled) return () => undefined;
    this.#send('WATCHDOG=1');
    const timer = setInterval(() => {
      if (healthy()) this.#send('WATCHDOG=1');
    }, Math.max(50, Math.floor(this.#watchdogMs / 2)));
    return () => clearInterval(timer);
  }

  #send(state: string): void {
    if (!this.#socket) return;
    try {
      this.#native.sdNotify(this.#socket, state);
    } catch (error) {
      if (this.#warned) return;
      this.#warned = true;
      this.#logger.warn({ err: messageOf(error), socket: this.#socket }, 'cannot notify systemd (NOTIFY_SOCKET); carrying on without it');
    }
  }
}

/**
 * True while systemd takes the host down (reboot, poweroff): `systemctl is-system-running`
 * says `stopping`. Asked when the service gets SIGTERM, so that a run cut short by a reboot is
 * reported as such rather than as an operator's stop.
 */
export function hostShuttingDown(): boolean {
  const result = spawnSync('systemctl', ['is-system-running'], { encoding: 'utf8', timeout: 2000 });
  return result.stdout?.trim() === 'stopping';
}

/** $WATCHDOG_USEC in ms when it is meant for `pid` ($WATCHDOG_PID absent or equal). */
function watchdogInterval(env: Env, pid: number): number | undefined {
  const usec = Number(env['WATCHDOG_USEC']);
  if (!Number.isSafeInteger(usec) || usec <= 0) return undefined;
  const forPid = env['WATCHDOG_PID'];
  if (forPid !== undefined && forPid !== '' && Number(forPid) !== pid) return undefined;
  return usec / 1000;
}

function oneLine(text: string): string {
  return text.replace(/[\r\n]+/g, ' ').slice(0, 400);
}
