// SPDX-License-Identifier: Apache-2.0
/** What an earlier agent process left: its journal is finished against a real hub at start. */
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';

import test from 'ava';

import { finishEarlierRuns } from '../../../src/agent/earlier-runs.js';
import { RunJournal } from '../../../src/agent/run-journal.js';
import { Shipper } from '../../../src/agent/shipper.js';
import { FAKE_CONTEXT } from '../../helpers/fake.js';
import { dispatchRun, linkTo, SILENT, startHub } from '../../helpers/hub.js';
import { fakeSession } from '../../helpers/session.js';

test('a run an agent died in is reported interrupted (with why) and its journal removed', async (t) => {
  const hub = await startHub(t);
  const { infraId, link } = await linkTo(t, hub);
  const { session, stateDir } = await fakeSession(t);
  const runId = await dispatchRun(hub, infraId);
  // The dead agent: same boot, a pid that is gone (FAKE_NATIVE says every process is).
  const journal = RunJournal.create(stateDir, { t: 'start', runId, bootId: FAKE_CONTEXT.host.bootId, pid: 999_999, startTime: 5, at: new Date().toISOString(), nextSeq: 1 });
  journal.close();
  await finishEarlierRuns({ session, link, shipper: new Shipper(link, SILENT), logger: SILENT, stateDir }, new AbortController().signal);
  const result = (await hub.service.run(runId))?.result;
  t.is(result?.verdict, 'interrupted');
  t.regex(result?.reason ?? '', /the agent \(pid 999999\) stopped abruptly; no fault of this run was left applied/);
  const runsDir = path.join(stateDir, 'runs');
  t.true(!existsSync(runsDir) || readdirSync(runsDir).length === 0);
});

test('a journal of another boot says the host rebooted', async (t) => {
  const hub = await startHub(t);
  const { infraId, link } = await linkTo(t, hub);
  const { session, stateDir } = await fakeSession(t);
  const runId = await dispatchRun(hub, infraId);
  RunJournal.create(stateDir, { t: 'start', runId, bootId: 'an-earlier-boot', pid: process.pid, startTime: 5, at: new Date().toISOString(), nextSeq: 1 }).close();
  await finishEarlierRuns({ session, link, shipper: new Shipper(link, SILENT), logger: SILENT, stateDir }, new AbortController().signal);
  t.regex((await hub.service.run(runId))?.result?.reason ?? '', /^interrupted by reboot/);
});
