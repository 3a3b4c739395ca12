// SPDX-License-Identifier: Apache-2.0
/**
 * Reads the YAML (or JSON) of an input file — an experiment, the configuration — into plain
 * values, with every failure a FaultdError that names the file and says what is wrong: a syntax
 * error with its line, column and the offending lines under a caret, duplicate keys, and
 * documents whose aliases expand without bound (an "alias bomb"). Numbers YAML cannot hold as
 * finite values (`.nan`, `.inf`, `1e400`) are kept as the text that was written, so validation
 * can quote it and say what range the field takes; faultd takes no non-finite number anywhere.
 */
import { isScalar, parseDocument, visit } from 'yaml';

import { FaultdError, messageOf, type FaultdErrorCode } from './errors.js';

/** Alias expansions allowed while building values (the yaml package's measure; its default). */
const MAX_ALIAS_COUNT = 100;
/** Characters of an offending line shown around the column. */
const FRAME_WIDTH = 100;

/** One line of the frame, cut to FRAME_WIDTH around `col` (1-based), control characters shown as `?`. */
function frameLine(line: string, col: number): { text: string; caretAt: number } {
  const start = line.length > FRAME_WIDTH ? Math.max(0, Math.min(col - 1 - FRAME_WIDTH / 2, line.length - FRAME_WIDTH)) : 0;
  const cut = line.slice(start, start + FRAME_WIDTH);
  // eslint-disable-next-line no-control-regex -- control characters are what this replaces
  const text = `${start > 0 ? '…' : ''}${cut.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g, '?')}${start + FRAME_WIDTH < line.length ? '…' : ''}`;
  return { text, caretAt: col - 1 - start + (start > 0 ? 1 : 0) };
}

/**
 * The lines around a position, numbered, with a caret under the column: the line before (for
 * an error found at the start of a line, the cause is often at the end of the previous one)
 * and the line itself.
 */
export function codeFrame(text: string, line: number, col: number): string {
  const lines = text.split(/\r?\n/);
  const width = String(line).length;
  const out: string[] = [];
  const before = line > 1 ? lines[line - 2] : undefined;
  if (before !== undefined) out.push(`  ${String(line - 1).padStart(width)} | ${frameLine(before, 1).text}`);
  const offending = frameLine(lines[line - 1] ?? '', col);
  out.push(`  ${String(line).padStart(width)} | ${offending.text}`);
  out.push(`  ${' '.repeat(width)} | ${' '.repeat(Math.max(0, offending.caretAt))}^`);
  return out.join('\n');
}

/** The yaml package's message without its own position suffix and code frame. */
function plainMessage(message: string): string {
  return (message.split('\n')[0] ?? 'syntax error').replace(/ at line \d+, column \d+:?$/, '') || 'syntax error';
}

/**
 * Parses `text` read from `file`; throws a FaultdError with `code` naming the file (and line and
 * column, with the offending lines) when it is not one well-formed YAML document.
 */
export function parseYamlInput(text: string, file: string, code: FaultdErrorCode): unknown {
  const document = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  const first = document.errors[0];
  if (first) {
    const position = first.linePos?.[0];
    if (!position) throw new FaultdError(code, `${file}: ${plainMessage(first.message)}`);
    const more = document.errors.length > 1 ? `\n  (and ${document.errors.length - 1} more YAML error${document.errors.length > 2 ? 's' : ''} after this one)` : '';
    throw new FaultdError(code, `${file}:${position.line}:${position.col}: ${plainMessage(first.message)}\n${codeFrame(text, position.line, position.col)}${more}`);
  }
  visit(document, {
    Scalar(_key, node) {
      if (isScalar(node) && typeof node.value === 'number' && !Number.isFinite(node.value)) node.value = node.source ?? String(node.value);
    },
  });
  try {
    return document.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (error) {
    if (/alias count/i.test(messageOf(error))) {
      throw new FaultdError(
        code,
        `${file}: its YAML aliases (*name) expand into too many copies of their anchors (&name), more than faultd reads (as an "alias bomb" does). Write the values out, or use fewer aliases`,
        { cause: error },
      );
    }
    throw new FaultdError(code, `${file}: ${messageOf(error)}`, { cause: error });
  }
}
