// SPDX-License-Identifier: Apache-2.0
import test from 'ava';

import { escapeTerminalText } from '../../../src/cli/terminal-text.js';

test('C0 controls, ESC, DEL and C1 controls become visible escapes', (t) => {
  t.is(escapeTerminalText('\u001b[31mred\u001b[0m'), '\\x1b[31mred\\x1b[0m');
  t.is(escapeTerminalText('a\nb\rc\td'), 'a\\nb\\rc\\td', 'no forged lines, no overwriting');
  t.is(escapeTerminalText('\u0000\u0007\u0008\u001f'), '\\x00\\x07\\x08\\x1f');
  t.is(escapeTerminalText('\u007f'), '\\x7f');
  t.is(escapeTerminalText('\u0080\u0085\u009b2J\u009d0;title\u009c\u009f'), '\\x80\\x85\\x9b2J\\x9d0;title\\x9c\\x9f', '8-bit CSI, OSC and ST');
  t.is(escapeTerminalText('\u001b]52;c;aGk=\u0007'), '\\x1b]52;c;aGk=\\x07', 'no clipboard write (OSC 52)');
});

test('bidi marks, embeddings, overrides and isolates become visible escapes', (t) => {
  // "evil.exe" shown as "exe.live" would hide the extension.
  t.is(escapeTerminalText('file\u202Eexe.live'), 'file\\u202eexe.live');
  for (const code of [0x061c, 0x200e, 0x200f, 0x202a, 0x202b, 0x202c, 0x202d, 0x202e, 0x2066, 0x2067, 0x2068, 0x2069, 0x2028, 0x2029]) {
    t.is(escapeTerminalText(`x${String.fromCharCode(code)}y`), `x\\u${code.toString(16).padStart(4, '0')}y`, code.toString(16));
  }
});

test('everything else is left as it is: printable ASCII, other scripts, emoji, backslashes', (t) => {
  const plain = 'edge-1.example 0.1.0 linux-cpu-stress: 50% {"a":1} C:\\path ä ß 東京 עברית العربية 🙂 \u00a0\u00ff\u0100 \u200d\u2060';
  t.is(escapeTerminalText(plain), plain);
  t.is(escapeTerminalText(''), '');
  const ascii = Array.from({ length: 0x7e - 0x20 + 1 }, (_, i) => String.fromCharCode(0x20 + i)).join('');
  t.is(escapeTerminalText(ascii), ascii);
});
