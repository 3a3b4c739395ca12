// SPDX-License-Identifier: Apache-2.0
/**
 * Terminal output of `faultd run`: log lines scroll above a block of live lines (one per fault)
 * that is redrawn in place on a TTY. Off a TTY nothing is redrawn: the live lines are printed
 * as plain lines every `plainEveryMs`.
 */
import type { Writable } from 'node:stream';

export class Terminal {
  readonly #out: Writable & { isTTY?: boolean; columns?: number };
  #liveLines: string[] = [];
  #drawn = 0;

  constructor(out: Writable & { isTTY?: boolean; columns?: number }) {
    this.#out = out;
  }

  get interactive(): boolean {
    return this.#out.isTTY === true;
  }

  /** Prints a line above the live block. */
  line(text: string): void {
    this.#clear();
    this.#out.write(`${text}\n`);
    this.#draw();
  }

  /** Replaces the live block. On a TTY it is redrawn in place; otherwise it is printed. */
  live(lines: readonly string[]): void {
    if (!this.interactive) {
      for (const l of lines) this.#out.write(`${l}\n`);
      return;
    }
    this.#clear();
    const width = Math.max(40, (this.#out.columns ?? 120) - 1);
    this.#liveLines = lines.map((l) => (l.length > width ? `${l.slice(0, width - 1)}…` : l));
    this.#draw();
  }

  /** Leaves the live block on screen and stops redrawing it. */
  freeze(): void {
    this.#drawn = 0;
    this.#liveLines = [];
  }

  #clear(): void {
    if (this.#drawn > 0) this.#out.write(`\x1b[${this.#drawn}A\x1b[0J`);
    this.#drawn = 0;
  }

  #draw(): void {
    if (!this.interactive || this.#liveLines.length === 0) return;
    this.#out.write(`${this.#liveLines.join('\n')}\n`);
    this.#drawn = this.#liveLines.length;
  }
}
