// SPDX-License-Identifier: Apache-2.0
// The netem faults on this kernel: where sch_netem is missing (as on this project's VMs), every
// netem kind is refused by validate, run and doctor with the kernel's words, and nothing changes.
// Where netem exists, the probe says so and the refusal is not expected.
import { experimentYaml, runCli, workspace } from '../helpers/cli.js';
import { qdiscState, testNetns } from '../helpers/netns.js';
import { hostFeatureProbe, privilegedTest as test } from '../helpers/privileged.js';

// linux-network-loss and linux-network-latency are not here: without netem they fall back to
// nf_tables (network-nft tests) and the NFQUEUE delayer (network-nfqueue tests).
const NETEM_KINDS = ['linux-network-corruption', 'linux-network-duplication', 'linux-network-reorder'];
const netem = hostFeatureProbe().qdisc('netem');

test('the netem probe answers without touching the host namespace', (t) => {
  t.log(netem.supported ? 'this kernel has sch_netem' : `no sch_netem here: ${netem.reason}`);
  // Conclusive either way: present (no reason) or the kernel's own "unknown kind" answer.
  t.true(netem.supported ? netem.reason === '' : /RTM_NEWQDISC ENOENT: Specified qdisc kind is unknown/.test(netem.reason), netem.reason);
});

test('without sch_netem, every netem fault is refused by validate, run and doctor', async (t) => {
  if (netem.supported) {
    t.log('skipped: this kernel has sch_netem, so there is no refusal to check');
    t.pass();
    return;
  }
  const ns = testNetns(t);
  const ws = workspace();
  t.teardown(() => ws.remove());
  const before = qdiscState(ns, 'v0');
  for (const kind of NETEM_KINDS) {
    const file = ws.file(`${kind}.json`, experimentYaml([[{ kind, duration: '1s', params: { networkInterfaces: 'v0' } }]]));
    for (const command of ['validate', 'run']) {
      const result = await runCli([command, file], ws.stateDir, ns.name);
      t.is(result.code, 2, `${command} ${kind}`);
      t.regex(result.stderr, new RegExp(`${kind} needs the netem qdisc \\(sch_netem\\), which this kernel lacks \\(RTM_NEWQDISC .*Specified qdisc kind is unknown\\)`));
    }
  }
  const doctor = JSON.parse((await runCli(['doctor', '--json'], ws.stateDir, ns.name)).stdout) as { faults: { kind: string; supported: boolean }[] };
  for (const kind of NETEM_KINDS) t.false(doctor.faults.find((f) => f.kind === kind)?.supported, kind);
  t.true(doctor.faults.find((f) => f.kind === 'linux-network-rate-limit')?.supported);
  t.deepEqual(qdiscState(ns, 'v0'), before);
});
