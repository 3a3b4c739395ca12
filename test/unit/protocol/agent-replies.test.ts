// SPDX-License-Identifier: Apache-2.0
// The idle agent's zod-free checks accept and refuse what the protocol's zod schemas do.
import test from 'ava';

import { ErrorReply, HeartbeatReply, TaskReply, TokenReply } from '../../../src/protocol/agent-replies.js';
import { ErrorResponse, HeartbeatResponse, TaskResponse, TokenResponse } from '../../../src/protocol/messages.js';
import type { Validator } from '../../../src/protocol/validator.js';

const TOKEN = `fdt_${'a'.repeat(16)}`;
const KEY = `fdk_${'b'.repeat(20)}`;
const TIME = '2026-12-03T13:14:50.123Z';

/** Valid ones first (at least one), then invalid ones; each varies one thing. */
const SAMPLES: Record<string, { lean: Validator<unknown>; zod: Validator<unknown>; valid: unknown[]; invalid: unknown[] }> = {
  token: {
    lean: TokenReply,
    zod: TokenResponse,
    valid: [
      { accessToken: TOKEN, expiresAt: TIME, ttlSeconds: 600 },
      { accessToken: TOKEN, expiresAt: '2026-12-03T13:14:50Z', ttlSeconds: 1, extra: 'ignored' },
      { accessToken: TOKEN, expiresAt: TIME, ttlSeconds: 600, rotation: { rotationId: 'r1', newAccessKey: KEY } },
      { accessToken: `fdt_${'c'.repeat(252)}`, expiresAt: '2024-02-29T00:00:00Z', ttlSeconds: 600 },
      { accessToken: TOKEN, expiresAt: '0050-01-01T00:00:00Z', ttlSeconds: 600 },
    ],
    invalid: [
      undefined,
      null,
      [],
      'text',
      { expiresAt: TIME, ttlSeconds: 600 },
      { accessToken: `fdk_${'a'.repeat(16)}`, expiresAt: TIME, ttlSeconds: 600 },
      { accessToken: `fdt_${'a'.repeat(15)}`, expiresAt: TIME, ttlSeconds: 600 },
      { accessToken: `fdt_${'c'.repeat(253)}`, expiresAt: TIME, ttlSeconds: 600 },
      { accessToken: TOKEN, expiresAt: '2026-12-03T13:14Z', ttlSeconds: 600 },
      { accessToken: TOKEN, expiresAt: '2026-12-03T13:14:50+01:00', ttlSeconds: 600 },
      { accessToken: TOKEN, expiresAt: '2026-02-30T00:00:00Z', ttlSeconds: 600 },
      { accessToken: TOKEN, expiresAt: '2025-02-29T00:00:00Z', ttlSeconds: 600 },
      { accessToken: TOKEN, expiresAt: '2026-12-03T24:00:00Z', ttlSeconds: 600 },
      { accessToken: TOKEN, expiresAt: '2026-13-03T13:14:50Z', ttlSeconds: 600 },
      { accessToken: TOKEN, expiresAt: '2026-12-03 13:14:50Z', ttlSeconds: 600 },
      { accessToken: TOKEN, expiresAt: TIME, ttlSeconds: 0 },
      { accessToken: TOKEN, expiresAt: TIME, ttlSeconds: 1.5 },
      { accessToken: TOKEN, expiresAt: TIME, ttlSeconds: '600' },
      { accessToken: TOKEN, expiresAt: TIME, ttlSeconds: 600, rotation: { rotationId: '', newAccessKey: KEY } },
      { accessToken: TOKEN, expiresAt: TIME, ttlSeconds: 600, rotation: { rotationId: 'r1', newAccessKey: TOKEN } },
      { accessToken: TOKEN, expiresAt: TIME, ttlSeconds: 600, rotation: 'r1' },
      { accessToken: TOKEN, expiresAt: TIME, ttlSeconds: 600, rotation: null },
    ],
  },
  heartbeat: {
    lean: HeartbeatReply,
    zod: HeartbeatResponse,
    valid: [
      { serverTime: TIME, abort: [] },
      { serverTime: TIME, abort: ['run_1', ''], more: 1 },
    ],
    invalid: [{ serverTime: TIME }, { abort: [] }, { serverTime: TIME, abort: [1] }, { serverTime: TIME, abort: 'run_1' }, { serverTime: 'now', abort: [] }, { serverTime: TIME, abort: null }],
  },
  task: {
    lean: TaskReply,
    zod: TaskResponse,
    valid: [
      { task: { runId: 'run_AZ-09', experiment: { anything: true }, queuedAt: TIME } },
      { task: { runId: 'x'.repeat(64), experiment: 'even a string', queuedAt: TIME } },
      { task: { runId: 'r', experiment: null, queuedAt: TIME } },
    ],
    invalid: [{}, { task: { runId: 'r', queuedAt: TIME } }, { task: null }, { task: { runId: '', experiment: {}, queuedAt: TIME } }, { task: { runId: 'x'.repeat(65), experiment: {}, queuedAt: TIME } }, { task: { runId: '../etc', experiment: {}, queuedAt: TIME } }, { task: { runId: 'r', experiment: {} } }, { task: { runId: 7, experiment: {}, queuedAt: TIME } }],
  },
  error: {
    lean: ErrorReply,
    zod: ErrorResponse,
    valid: [{ error: { code: 'CONFLICT', message: 'bound to another machine' } }, { error: { code: '', message: '' } }],
    invalid: [{ error: 'CONFLICT' }, { error: { code: 'CONFLICT' } }, { error: { code: 1, message: 'x' } }, { message: 'x' }],
  },
};

for (const [name, { lean, zod, valid, invalid }] of Object.entries(SAMPLES)) {
  test(`${name}: the zod-free check agrees with the zod schema on every sample`, (t) => {
    for (const sample of valid) {
      t.true(zod.safeParse(sample).success, `zod accepts ${JSON.stringify(sample)} (the sample is valid)`);
      t.true(lean.safeParse(sample).success, `accepts ${JSON.stringify(sample)}`);
    }
    for (const sample of invalid) {
      t.false(zod.safeParse(sample).success, `zod refuses ${JSON.stringify(sample)} (the sample is invalid)`);
      const checked = lean.safeParse(sample);
      t.false(checked.success, `refuses ${JSON.stringify(sample)}`);
      if (!checked.success) t.true(checked.error.issues.length > 0 && checked.error.issues.every((i) => i.message.length > 0));
    }
  });
}

test('an issue names the field that is wrong', (t) => {
  const checked = TokenReply.safeParse({ accessToken: TOKEN, expiresAt: TIME, ttlSeconds: 600, rotation: { rotationId: 'r1', newAccessKey: 'nope' } });
  t.false(checked.success);
  if (!checked.success) t.deepEqual(checked.error.issues.map((i) => i.path.join('.')), ['rotation.newAccessKey']);
});
