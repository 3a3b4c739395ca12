// SPDX-License-Identifier: Apache-2.0
/**
 * Counts events per key (a remote address, an operator name) in a fixed window and says how
 * long a key must wait once it has used its allowance. Memory is bounded: at most `maxKeys`
 * keys are tracked; when full, the one whose window started first is forgotten.
 */
export interface RateLimitOptions {
  /** Events allowed per key and window. */
  readonly limit: number;
  readonly windowMs: number;
  readonly maxKeys: number;
  readonly now: () => number;
}

interface Window {
  readonly startedAt: number;
  count: number;
}

export class RateLimiter {
  readonly #options: RateLimitOptions;
  /** Insertion order = window start order: a key starting a new window is re-inserted. */
  readonly #windows = new Map<string, Window>();

  constructor(options: RateLimitOptions) {
    this.#options = options;
  }

  #current(key: string): Window | undefined {
    const window = this.#windows.get(key);
    if (window && this.#options.now() - window.startedAt >= this.#options.windowMs) {
      this.#windows.delete(key);
      return undefined;
    }
    return window;
  }

  /** Milliseconds `key` must wait before its next event is allowed; 0 when allowed now. */
  retryAfterMs(key: string): number {
    const window = this.#current(key);
    if (!window || window.count < this.#options.limit) return 0;
    return Math.max(1, window.startedAt + this.#options.windowMs - this.#options.now());
  }

  record(key: string): void {
    const window = this.#current(key);
    if (window) {
      window.count += 1;
      return;
    }
    while (this.#windows.size >= this.#options.maxKeys) {
      const oldest = this.#windows.keys().next();
      if (oldest.done) break;
      this.#windows.delete(oldest.value);
    }
    this.#windows.set(key, { startedAt: this.#options.now(), count: 1 });
  }

  /** Forgets `key` (a successful login clears its name's failures). */
  clear(key: string): void {
    this.#windows.delete(key);
  }

  /** How many keys are tracked (tests check the bound). */
  get size(): number {
    return this.#windows.size;
  }
}
