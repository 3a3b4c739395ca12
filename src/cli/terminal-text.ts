// SPDX-License-Identifier: Apache-2.0
/**
 * Text from elsewhere (an agent's host name, version, capabilities, log lines, results) made
 * safe to print on a terminal: characters a terminal would act on instead of showing are
 * replaced by visible escapes, so a remote peer can neither drive the operator's terminal
 * (ESC sequences: colours, cursor moves, titles, OSC 52 clipboard writes), nor forge output
 * lines (CR, LF), nor make text read in another order than it is stored (bidi overrides).
 */

/** Escapes with a short name; the other unsafe characters get `\xHH` or `\uHHHH`. */
const NAMED: ReadonlyMap<number, string> = new Map([
  [0x09, '\\t'],
  [0x0a, '\\n'],
  [0x0d, '\\r'],
]);

/**
 * C0 controls (incl. ESC, TAB, CR, LF), DEL, C1 controls (incl. the 8-bit CSI), the bidi marks
 * (U+061C ALM, U+200E LRM, U+200F RLM), embeddings and overrides (U+202A–U+202E), isolates
 * (U+2066–U+2069), and the Unicode line and paragraph separators (U+2028, U+2029).
 */
function isUnsafe(code: number): boolean {
  return (
    code <= 0x1f ||
    (code >= 0x7f && code <= 0x9f) ||
    code === 0x061c ||
    code === 0x200e ||
    code === 0x200f ||
    (code >= 0x2028 && code <= 0x202e) ||
    (code >= 0x2066 && code <= 0x2069)
  );
}

function escapeOf(code: number): string {
  const named = NAMED.get(code);
  if (named !== undefined) return named;
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
}

/**
 * `text` with every character a terminal would interpret replaced by a visible escape (`\x1b`,
 * `\n`, `\x9b`, `\u202e`, …); everything else, other languages' scripts and emoji included, is
 * left as it is. Backslashes are left alone too: the output is for reading, not for parsing
 * back (use `--json` for that).
 */
export function escapeTerminalText(text: string): string {
  let out = '';
  let from = 0;
  for (let i = 0; i < text.length; i += 1) {
    const code = text.charCodeAt(i);
    if (!isUnsafe(code)) continue;
    out += text.slice(from, i) + escapeOf(code);
    from = i + 1;
  }
  return from === 0 ? text : out + text.slice(from);
}
