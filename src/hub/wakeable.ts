// SPDX-License-Identifier: Apache-2.0
/**
 * A sleep that something else can cut short: `sleep(ms)` ends after `ms` or at the first
 * `wake()` while it runs, whichever comes first. A wake while nothing sleeps is not kept: the
 * caller notes what changed itself (long-polls and event streams check again after every sleep).
 */
export class Wakeable {
  #wake: (() => void) | undefined;

  sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.#wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      this.#wake = done;
    });
  }

  wake(): void {
    this.#wake?.();
  }
}
