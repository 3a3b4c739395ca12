// SPDX-License-Identifier: Apache-2.0
/**
 * Reads an operator's password, never from argv: from a file (its first line), else from the
 * terminal without echo (asked twice), else from the first line of standard input.
 */
import { readFile } from 'node:fs/promises';

import { FaultdError, messageOf } from '../errors.js';

async function firstLineOfStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    chunks.push(buffer);
    if (size > 4096 || buffer.includes(0x0a)) break;
  }
  return (Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0] ?? '');
}

/** One line typed without echo; Ctrl-C or Ctrl-D cancels. */
function hiddenLine(prompt: string): Promise<string> {
  const stdin = process.stdin;
  process.stderr.write(prompt);
  return new Promise((resolve, reject) => {
    let line = '';
    const finish = (error?: Error): void => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write('\n');
      if (error) reject(error);
      else resolve(line);
    };
    const onData = (data: Buffer): void => {
      for (const ch of data.toString('utf8')) {
        if (ch === '\r' || ch === '\n') {
          finish();
          return;
        }
        if (ch === '\u0003' || ch === '\u0004') {
          finish(new FaultdError('FAULTD_ERR_HUB_INPUT', 'no password entered; nothing changed'));
          return;
        }
        if (ch === '\u007f' || ch === '\b') line = line.slice(0, -1);
        else line += ch;
      }
    };
    stdin.setRawMode(true);
    stdin.resume();
    stdin.on('data', onData);
  });
}

export async function readPassword(passwordFile: string | undefined, forWhom: string): Promise<string> {
  if (passwordFile !== undefined) {
    try {
      return (await readFile(passwordFile, 'utf8')).split(/\r?\n/)[0] ?? '';
    } catch (error) {
      throw new FaultdError('FAULTD_ERR_HUB_INPUT', `cannot read the password file ${passwordFile}: ${messageOf(error)}`, { cause: error });
    }
  }
  if (!process.stdin.isTTY) return firstLineOfStdin();
  const first = await hiddenLine(`Password for ${forWhom}: `);
  const again = await hiddenLine('Again: ');
  if (first !== again) throw new FaultdError('FAULTD_ERR_HUB_INPUT', 'the two passwords differ; nothing changed');
  return first;
}
