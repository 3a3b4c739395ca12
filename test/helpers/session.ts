// SPDX-License-Identifier: Apache-2.0
/** An open Session of fake faults (test/helpers/fake.ts) on a real ledger in a temp state dir. */
import type { ExecutionContext } from 'ava';

import { Session } from '../../src/engine/session.js';
import { Ledger } from '../../src/ledger/ledger.js';
import type { CheckSpec, ProbeCheck } from '../../src/probes/types.js';
import { workspace } from './cli.js';
import { FAKE_CONTEXT, FAKE_NATIVE, fakeInjector, SILENT, type EventLog } from './fake.js';

export async function fakeSession(t: ExecutionContext, options: { createCheck?: (spec: CheckSpec) => ProbeCheck; events?: EventLog } = {}): Promise<{ session: Session; events: EventLog; stateDir: string }> {
  const ws = workspace();
  t.teardown(() => ws.remove());
  const events: EventLog = options.events ?? [];
  const guard = { register: () => () => undefined, settled: () => Promise.resolve() };
  const session = new Session({ ledger: new Ledger(ws.stateDir, FAKE_NATIVE), registry: new Map([['fake', fakeInjector(events)]]), ctx: FAKE_CONTEXT, owner: { pid: process.pid, startTime: 1 }, logger: SILENT, crashGuard: guard, ...(options.createCheck ? { createCheck: options.createCheck } : {}) });
  await session.open();
  t.teardown(() => session.close());
  return { session, events, stateDir: ws.stateDir };
}
