// SPDX-License-Identifier: Apache-2.0
/**
 * How deeply a JSON text nests arrays and objects, found by one scan of the text before it is
 * parsed. A peer's body nested thousands of levels deep parses fine but overflows the stack of
 * whatever walks it recursively afterwards (JSON.stringify, schema checks); bodies deeper than
 * the protocol's bound are refused instead.
 */

/** The deepest nesting a protocol body may have (the deepest schema nests 4; log fields get the rest). */
export const MAX_JSON_DEPTH = 64;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPENERS = new Set([0x5b, 0x7b]); // [ {
const CLOSERS = new Set([0x5d, 0x7d]); // ] }

/**
 * The nesting depth of `text` (0 for a scalar), counting only brackets outside strings; the
 * scan stops as soon as it passes `limit`, returning `limit + 1`. Malformed JSON gets some
 * number: JSON.parse refuses it afterwards.
 */
export function jsonNestingDepth(text: string, limit = MAX_JSON_DEPTH): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i += 1) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === BACKSLASH) i += 1;
      else if (c === QUOTE) inString = false;
    } else if (c === QUOTE) {
      inString = true;
    } else if (OPENERS.has(c)) {
      depth += 1;
      if (depth > deepest) {
        deepest = depth;
        if (deepest > limit) return limit + 1;
      }
    } else if (CLOSERS.has(c)) {
      depth -= 1;
    }
  }
  return deepest;
}
