// SPDX-License-Identifier: Apache-2.0
import test from 'ava';

import { StepClaims } from '../../../src/engine/step-claims.js';
import type { FaultSpec } from '../../../src/experiment/schema.js';
import { fakeInjector } from '../../helpers/fake.js';

const registry = new Map([['fake', fakeInjector([])]]);
const fault = (id: string, exclusive: string[] = []): FaultSpec => ({ id, kind: 'fake', durationMs: 1000, rampTimeMs: 0, params: { exclusive }, weight: 10 });

test('a claim on another fault\'s exclusive target is refused, naming both; the fault\'s own targets are its to claim', (t) => {
  const claims = new StepClaims([fault('a', ['systemd-unit:db.service']), fault('b')], registry);
  t.is(claims.claim('b', ['systemd-unit:web.service', 'systemd-unit:db.service']), 'fault "a" of the same step already changes systemd-unit:db.service; put them in separate steps');
  t.is(claims.claim('a', ['systemd-unit:db.service', 'systemd-unit:api.service']), undefined);
});

test('the first plan keeps what it claims; a refused claim records nothing', (t) => {
  const claims = new StepClaims([fault('a'), fault('b'), fault('c')], registry);
  t.is(claims.claim('a', ['x']), undefined);
  t.regex(claims.claim('b', ['y', 'x']) ?? '', /fault "a" .* changes x/);
  t.is(claims.claim('c', ['y']), undefined, 'b was refused, so y stayed free');
  t.is(claims.claim('a', ['x']), undefined, 'claiming again what one holds is no clash');
});
