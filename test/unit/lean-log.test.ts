// SPDX-License-Identifier: Apache-2.0
// The idle agent's small logger writes the lines pino writes.
import test from 'ava';
import { pino } from 'pino';

import { createLeanLogger } from '../../src/lean-log.js';
import { REDACT_PATHS, renderTextLine } from '../../src/log-format.js';
import type { LogSink } from '../../src/log-sink.js';

const TIME = 1_796_304_244_255;

function both(level: 'debug' | 'info' = 'info'): { pinoLines: string[]; leanLines: string[]; loggers: LogSink[] } {
  const pinoLines: string[] = [];
  const leanLines: string[] = [];
  const viaPino = pino({ level, base: { pid: 4242 }, redact: { paths: REDACT_PATHS, censor: '[redacted]' }, timestamp: () => `,"time":${TIME}` }, { write: (line: string) => pinoLines.push(line) });
  const lean = createLeanLogger({ format: 'json', level, pid: 4242, now: () => TIME, write: (line) => leanLines.push(line) });
  return { pinoLines, leanLines, loggers: [viaPino, lean] };
}

test('the same JSON lines as pino: fields, order, levels, redaction of secrets', (t) => {
  const { pinoLines, leanLines, loggers } = both();
  for (const log of loggers) {
    log.info('agent started');
    log.info({ hub: 'https://hub:8443', infraId: 'inf_1', count: 2 }, 'agent started');
    log.warn({ err: 'the hub is unreachable', attempt: 3 }, 'task poll failed; backing off');
    log.error({ accessToken: 'fdt_secret', nested: { accessKey: 'fdk_secret', keep: 1 }, headers: { authorization: 'Bearer x' } }, 'refused');
    log.debug({ hidden: true }, 'below the level');
    log.info({ text: 'quote " and \n newline' }, 'escaped');
  }
  t.deepEqual(leanLines, pinoLines);
  t.is(leanLines.length, 5);
  t.false(leanLines.join('').includes('secret'));
});

test('an Error field is written as pino writes it (type, message, stack)', (t) => {
  const { pinoLines, leanLines, loggers } = both();
  const error = new TypeError('boom');
  for (const log of loggers) log.warn({ err: error }, 'failed');
  t.deepEqual(JSON.parse(leanLines[0] ?? '{}'), JSON.parse(pinoLines[0] ?? '{}'));
});

test('debug lines are written when the level asks for them', (t) => {
  const { pinoLines, leanLines, loggers } = both('debug');
  for (const log of loggers) log.debug({ attempt: 1 }, 'heartbeat failed');
  t.deepEqual(leanLines, pinoLines);
  t.is(leanLines.length, 1);
});

test('text: one human line, as the CLI renders pino records', (t) => {
  const lines: string[] = [];
  const log = createLeanLogger({ format: 'text', pid: 1, now: () => TIME, write: (line) => lines.push(line) });
  log.info({ infraId: 'inf_1' }, 'agent started');
  t.deepEqual(lines, [`${renderTextLine(JSON.stringify({ level: 30, time: TIME, pid: 1, infraId: 'inf_1', msg: 'agent started' }))}\n`]);
  t.regex(lines[0] ?? '', /INFO {2}agent started infraId=inf_1/);
});
